"""Energy-based generative training by contrastive divergence (restricted Boltzmann machines).

A batch is ``(x, y)``: images as the dataset normalises them (the model reads its pixels back in
[0, 1]); labels are ignored. The loss is the model's CD objective, ``mean F(v_data) - mean
F(v_neg)`` with negative samples from k Gibbs steps (CD-k) or persistent chains (PCD), whose
gradient is the CD update (``ann.models.rbm``). Evaluation reports:

* ``pseudo_likelihood``: scikit-learn's stochastic pseudo-log-likelihood per image, ``V log
  sigmoid(F(v~) - F(v))`` with one random pixel of each image flipped (a generator seeded with 0
  at each evaluation, so every evaluation flips the same pixels); higher is better (the metric);
* ``recon_error``: the mean squared error of one deterministic up-down pass (pixels to hidden
  probabilities and back), ``loss`` the same figure;
* ``free_energy``: the mean free energy of the split's images.

The report draws ``samples.png`` (Gibbs chains started from random pixels, after 1, 10, 100 and
1,000 steps) and ``filters.png`` (the weights of the first hidden units as pictures).
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..registry import register_task
from ..train.distributed import unwrap
from .base import Task


@register_task
class Boltzmann(Task):
    """Contrastive-divergence training of an RBM; ``pseudo_likelihood`` (higher is better)."""

    name = "boltzmann"
    metric = "pseudo_likelihood"
    higher_is_better = True

    def loss(self, model, batch) -> tuple[torch.Tensor, dict[str, float]]:
        net = unwrap(model)
        v = net.visible(batch[0])                                          # (B, V)
        return net.layer.cd_loss(v, net.negatives(v)), {}

    @torch.no_grad()
    def evaluate(self, model, batches) -> dict[str, float]:
        net = unwrap(model)
        totals = {"pseudo_likelihood": 0.0, "recon_error": 0.0, "free_energy": 0.0}
        count, generator = 0, None
        for batch in batches:
            v = net.visible(batch[0])
            if generator is None:
                generator = torch.Generator(device=v.device).manual_seed(0)
            index = torch.randint(0, v.shape[1], (len(v),), generator=generator, device=v.device)
            back = net.layer.visible_probs(net.layer.hidden_probs(v))
            totals["pseudo_likelihood"] += net.layer.pseudo_likelihood(v, index).sum().item()
            totals["recon_error"] += ((back - v) ** 2).mean(1).sum().item()
            totals["free_energy"] += net.layer.free_energy(v).sum().item()
            count += len(v)
        out = {k: v / max(count, 1) for k, v in totals.items()}
        out["loss"] = out["recon_error"]
        return out

    @torch.no_grad()
    def report(self, run, test_data, folder) -> None:
        from ..report.generative import plot_rows

        net = unwrap(run.model).eval()
        c, folder = net.config, Path(folder)
        side = c.image_size
        g = torch.Generator().manual_seed(0)
        device = net.layer.weight.device
        v = (torch.rand(10, net.layer.weight.shape[1], generator=g) < 0.5).float().to(device)
        rows, labels, done = [], [], 0
        for steps in (1, 10, 100, 1000):
            v = net.layer.gibbs(v, steps - done)
            done = steps
            probs = net.layer.visible_probs(net.layer.sample(net.layer.hidden_probs(v)))
            rows.append(probs.view(-1, c.in_channels, side, side).cpu())
            labels.append(f"{steps} Gibbs steps")
        plot_rows(rows, labels, folder / "samples.png", "Gibbs chains from random pixels")
        w = net.layer.weight[:20].detach().cpu()                             # (20, V)
        lo, hi = w.amin(1, keepdim=True), w.amax(1, keepdim=True)
        filters = ((w - lo) / (hi - lo).clamp_min(1e-8)).view(-1, c.in_channels, side, side)
        plot_rows([filters[:10], filters[10:]], ["filters 1-10", "filters 11-20"],
                  folder / "filters.png", "weights of the first hidden units")
