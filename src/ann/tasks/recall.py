"""Associative recall (Hopfield networks): patterns are stored, then recalled from noisy copies.

A batch is ``(x, y)``: starting patterns and the stored patterns they should end on, +1/-1 (B, N)
(``ann.data.patterns``). The task flips a share ``model.recall_noise`` of each start's units (a
generator seeded with 0 at each evaluation, so every evaluation of a split sees the same noisy
starts), lets the model recall, and counts:

* ``recall``: the share of starts that end exactly on their stored pattern (the metric);
* ``other_memory``: ending exactly on another stored pattern; ``spurious``: on no stored pattern;
* ``bit_accuracy`` and ``overlap`` (the mean of s . xi / N, 1 when recalled, about 0 when lost);
  ``loss`` = 1 - bit_accuracy, so that the smaller figure is better as everywhere else.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..errors import AnnError
from ..registry import register_task
from ..train.distributed import unwrap
from .base import FILES, Answer, Option, Task, Verb


def flip(x: torch.Tensor, share: float, generator: torch.Generator | None) -> torch.Tensor:
    """``x`` (B, N) of +1/-1 with each unit flipped with probability ``share``."""
    mask = torch.rand(x.shape, generator=generator, device=x.device) < share
    return torch.where(mask, -x, x)


def _signs(x: torch.Tensor) -> torch.Tensor:
    return torch.where(x.flatten(1) >= 0, 1.0, -1.0)


@register_task
class Recall(Task):
    """Recall stored patterns from noisy starts; ``recall`` (exactly recovered, higher is better)."""

    name = "recall"
    metric = "recall"
    higher_is_better = True
    verbs = {"predict": Verb("predict", "recall_files", (
                 FILES, Option("out", metavar="FILE", help="associative memories: the PNG to write with each "
                               "input beside the pattern it recalls")),
                             "recall the stored pattern nearest each picture or array; --out draws it")}

    def _recalled(self, model, batch, generator):
        x, y = (_signs(t) for t in batch[:2])
        noisy = flip(x, unwrap(model).config.recall_noise, generator)
        return noisy, unwrap(model).recall(noisy, generator), y

    def loss(self, model, batch) -> tuple[torch.Tensor, dict[str, float]]:
        """The share of units recalled wrong (a fitted model's figure; nothing is trained)."""
        generator = torch.Generator(device=batch[0].device).manual_seed(0)
        _, out, y = self._recalled(model, batch, generator)
        return (out != y).float().mean(), {}

    @torch.no_grad()
    def evaluate(self, model, batches) -> dict[str, float]:
        memories = unwrap(model).patterns                                   # (K, N)
        totals = {"recall": 0.0, "other_memory": 0.0, "spurious": 0.0, "bit_accuracy": 0.0,
                  "overlap": 0.0}
        count, generator = 0, None
        for batch in batches:
            if generator is None:
                generator = torch.Generator(device=batch[0].device).manual_seed(0)
            _, out, y = self._recalled(model, batch, generator)
            exact = (out == y).all(1)                                       # (B,)
            on_memory = (out[:, None, :] == memories[None]).all(-1).any(1)  # (B,)
            totals["recall"] += exact.sum().item()
            totals["other_memory"] += (on_memory & ~exact).sum().item()
            totals["spurious"] += (~on_memory).sum().item()
            totals["bit_accuracy"] += (out == y).float().mean(1).sum().item()
            totals["overlap"] += (out * y).mean(1).sum().item()
            count += len(y)
        out = {k: v / max(count, 1) for k, v in totals.items()}
        out["loss"] = 1.0 - out["bit_accuracy"]
        return out

    @torch.no_grad()
    def predict(self, model, x) -> torch.Tensor:
        """Recalled states (B, N) of +1/-1 from starts ``x`` (no noise added)."""
        return unwrap(model).recall(_signs(x), torch.Generator(device=x.device).manual_seed(0))

    def recall_files(self, run, files, out=None) -> list[Answer]:
        """``ann predict RUN picture.png ...``: the stored pattern each picture (or ``.npy``
        array on the dataset's raw scale) recalls, by its class name, with the overlap between
        start and end; ``out`` draws start and end of the one file."""
        from ..data import read_image_file

        if not files:
            raise AnnError("give the picture or .npy files to recall from")
        if out is not None and len(files) != 1:
            raise AnnError(f"--out draws the recall of one picture; give one file, not {len(files)}")
        info, model = run.info, run.model.eval()
        starts = [_signs(read_image_file(f, info)) for f in files]         # all read first
        names = info.get("classes") or [str(i) for i in range(len(model.patterns))]
        answers = []
        for file, start in zip(files, starts):
            end = self.predict(model, start)                                # (1, N)
            hits = (end == model.patterns).all(1).nonzero().flatten().tolist()
            which = names[hits[0]] if hits and hits[0] < len(names) else "no stored pattern"
            moved = int((end != start).sum())
            answers.append(Answer(f"{file}: {which} ({moved} of {end.shape[1]} units changed)",
                                  {"file": str(file), "recalled": which, "changed": moved}))
            if out is not None:
                from ..report.generative import plot_rows

                size = info["image_size"]
                plot_rows([_pictures(start, size), _pictures(end, size)], ["start", "recalled"], out)
                answers.append(Answer(f"start and recall drawn in {out}"))
        return answers

    def report(self, run, test_data, folder) -> None:
        """``recall.png`` (stored, noisy and recalled patterns) and ``capacity.png``: the share
        of random patterns recalled against how many are stored, for each storage rule."""
        from ..report.generative import plot_rows

        model, folder = run.model.eval(), Path(folder)
        size = unwrap(model).config.image_size
        if size:
            batch = test_data.batch(slice(0, min(10, len(test_data))))
            noisy, out, y = self._recalled(model, batch, torch.Generator().manual_seed(0))
            plot_rows([_pictures(y, size), _pictures(noisy, size), _pictures(out, size)],
                      ["stored", f"{unwrap(model).config.recall_noise:.0%} flipped", "recalled"],
                      folder / "recall.png", f"{unwrap(model).config.rule} storage")
        curve = capacity_curve(unwrap(model))
        plot_capacity(curve, unwrap(model).config.n_units, folder / "capacity.png")
        from .. import fileio

        fileio.write_json(folder / "capacity.json", curve)


def _pictures(states: torch.Tensor, size: int) -> torch.Tensor:
    """+1/-1 states (B, size*size) as pictures (B, 1, size, size) in [0, 1], ink bright."""
    return ((states + 1) / 2).view(-1, 1, size, size)


@torch.no_grad()
def capacity_curve(model, noise: float = 0.05, trials: int = 3, points: int = 12) -> dict:
    """For each storage rule, the share of K random +1/-1 patterns (N = the model's units)
    recalled exactly from ``noise`` flipped units, at ``points`` loads K/N up to 1."""
    import dataclasses

    n = model.config.n_units
    loads = sorted({max(1, round(n * f / points)) for f in range(1, points + 1)})
    out = {"n_units": n, "noise": noise, "patterns": loads}
    for rule in ("hebbian", "pseudoinverse", "modern"):
        net = type(model)(dataclasses.replace(model.config, rule=rule, update="sync"))
        shares = []
        for k in loads:
            hits = 0
            for t in range(trials):
                g = torch.Generator().manual_seed(1000 * t + k)
                xi = torch.where(torch.rand(k, n, generator=g) < 0.5, 1.0, -1.0)
                net.store(xi)
                hits += (net.recall(flip(xi, noise, g), g) == xi).all(1).sum().item()
            shares.append(hits / (k * trials))
        out[rule] = shares
    return out


def plot_capacity(curve: dict, n: int, path) -> None:
    from ..report.plots import save, subplots

    fig, ax = subplots(figsize=(6, 4))
    loads = [k / n for k in curve["patterns"]]
    for rule in ("hebbian", "pseudoinverse", "modern"):
        ax.plot(loads, curve[rule], "o-", markersize=3, label=rule)
    ax.axvline(0.138, color="grey", linestyle=":", label="0.138 N (Amit et al. 1985)")
    ax.set(xlabel="stored patterns K / N", ylabel="recalled exactly",
           title=f"capacity, N = {n}, {curve['noise']:.0%} of units flipped", ylim=(-0.05, 1.05))
    ax.legend(fontsize=8)
    save(fig, path)
