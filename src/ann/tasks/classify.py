"""Classification: inputs to class scores, cross-entropy, accuracy."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import torch
import torch.nn.functional as F

from .. import registry
from ..errors import AnnError
from ..registry import register_task
from ..train.device import model_device
from .base import (
    FILES,
    Answer,
    LabelSmoothing,
    Option,
    Task,
    Verb,
    fit_subset,
    linear_classifier,
    log_prior,
    split_targets,
)
from .mlm import sentence_rows
from .rows import Table, batched, number, read_rows_of


def _texts(given) -> list[str]:
    """The sentences to classify: each ``--text``, where ``-`` stands for standard input, one
    sentence per non-blank line (``ann predict RUN --text - < reviews.txt``)."""
    import sys

    out = []
    for t in given:
        if t == "-":
            lines = [line.strip() for line in sys.stdin.read().splitlines()]
            if not any(lines):
                raise AnnError("--text - read no sentence from standard input; give one per line")
            out += [line for line in lines if line]
        else:
            out.append(t)
    return out


@register_task
class Classification(LabelSmoothing, Task):
    """Inputs to class scores; cross-entropy loss; accuracy (higher is better)."""

    name = "classify"
    targets = "class"
    verbs = {"predict": Verb("predict", "predict_inputs", (
                 dataclasses.replace(FILES, required=False),   # or --text
                 Option("text", many=True, metavar="TEXT",
                        help="a sentence for a text classifier (repeat for more; - reads one "
                             "per line from standard input)"),
                 Option("top", int, "how many classes to show (default 3)"),
                 Option("out", metavar="FILE", help="classifiers: the CSV file to write every "
                        "class's probability to, one row per input (default: print the top)")),
                             "class probabilities of image, array or audio files, of --text "
                             "sentences, or of the rows of a CSV/TSV (or .npy) file for a run "
                             "trained on rows; --out writes them as CSV")}
    metric = "accuracy"
    higher_is_better = True
    augmentable = True        # a class does not move with the pixels


    def loss(self, model, batch) -> tuple[torch.Tensor, dict[str, float]]:
        """Mean cross-entropy of one batch ``(x, y)``."""
        x, y = batch
        logits = model(x)                                   # (B, num_classes)
        loss = F.cross_entropy(logits.float(), y, label_smoothing=self.label_smoothing)
        return loss, {}

    @torch.no_grad()
    def evaluate(self, model, batches) -> dict[str, float]:
        """Loss and accuracy over an iterable of ``(x, y)`` batches (sums, then one division)."""
        total_loss, correct, count = 0.0, 0, 0
        for x, y in batches:
            logits = model(x).float()
            total_loss += F.cross_entropy(logits, y, reduction="sum").item()
            correct += (logits.argmax(-1) == y).sum().item()
            count += len(y)
        return {"loss": total_loss / max(count, 1), "accuracy": correct / max(count, 1)}

    def baselines(self, train, test, metric: str | None = None) -> dict[str, float]:
        """``majority``: the commonest class of the training labels, always; ``linear``:
        logistic regression on the flattened inputs (real-valued inputs only: token ids are
        not features), fitted on at most 5,000 training examples."""
        y, test_y = split_targets(train), split_targets(test)
        classes = int(max(y.max(), test_y.max())) + 1
        prior = log_prior(y, classes)
        out = {"majority": self.score_fixed(lambda x: prior.expand(len(x), classes), test, metric)}
        keep = fit_subset(len(train), train.batch(slice(0, 1))[0][0].numel())
        # only the rows the linear model is fitted on are read (a streamed split decodes them)
        x, fy = (train.batch(slice(0, len(train)))[0], y) if keep is None else (
            train.batch(keep)[0], y[keep])
        if x.is_floating_point() and len(torch.unique(y)) > 1:
            out["linear"] = self.score_fixed(linear_classifier(x, fy, classes), test, metric)
        return out

    @torch.no_grad()
    def predict(self, model, x) -> torch.Tensor:
        """Class probabilities, (B, num_classes)."""
        return torch.softmax(model(x).float(), dim=-1)

    def report(self, run, test_data, folder) -> None:
        """The confusion matrix and misclassified examples; a model that can show where it
        looks (ViT's attention rollout) adds ``rollout.png``."""
        from ..report.plots import plot_classification
        from ..train.batches import eval_batches

        device = next(run.model.parameters()).device
        with torch.no_grad():
            preds = torch.cat([run.model.eval()(x).argmax(-1).cpu()
                               for x, _ in eval_batches(test_data, 1000, device)])
        plot_classification(test_data, preds.numpy(), Path(folder))
        if callable(getattr(run.model, "rollout", None)):
            from ..report.attention import report_rollout

            report_rollout(run, test_data)

    def predict_inputs(self, run, files=(), text=(), top: int = 3, out=None) -> list[Answer]:
        """``ann predict RUN FILE ...`` or ``--text "a sentence"``: the likeliest classes of each
        input with their probabilities (all of them with ``--out FILE``, as CSV). A run trained
        on rows reads one CSV/TSV (or ``.npy``) file of rows (:meth:`predict_rows`); otherwise
        the run's dataset says how to read a file: a WAV recording (audio), else an image or
        ``.npy`` array on the dataset's raw scale."""
        from ..data.rows import describes_rows

        files, text = list(files or ()), _texts(text or ())
        if bool(files) == bool(text):
            raise AnnError('give image files or --text "a sentence" (one kind, not both)')
        info = run.info
        form = registry.data_kind(info)[1]
        if text and form not in ("text", None):
            what = "a CSV file of rows" if describes_rows(info) else f"files of {form}"
            raise AnnError(f"--text is for runs that read text; {run.path} reads {form} "
                           f"(dataset {run.config.data.name!r}): give {what} instead "
                           "(ann predict RUN FILE)")
        if files and describes_rows(info):
            return self.predict_rows(run, files, top, out)
        if text:      # all inputs are checked before any output
            key, names, probs = "text", text, list(classify_text(run, text))
        else:
            reader = _reader(run)
            key, names = "file", _input_files(run, files)
            inputs = [reader(f, info) for f in names]                # each (1, ...)
            if len({tuple(x.shape) for x in inputs}) == 1:           # one batch through the model
                probs = list(batched(run.predict, torch.cat(inputs), model_device(run.model)))
            else:                                                    # recordings of any length
                probs = [run.predict(x)[0] for x in inputs]
        return class_answers(run, key, names, probs, top, out, files)

    def predict_rows(self, run, files, top: int = 3, out=None) -> list[Answer]:
        """Class probabilities of each row of one CSV/TSV (or ``.npy``) file, encoded as the
        run's training rows were (:mod:`ann.data.rows`), in batches. CSV columns: ``row`` (1
        for the first row), ``class`` (the likeliest) and ``p(CLASS)`` for every class (they
        sum to 1). When the file holds the run's target column, the accuracy over the rows
        with a value in it follows (an unknown class there is refused)."""
        from ..data.rows import class_index

        path, rows = read_rows_of(run, files)
        probs = batched(run.predict, rows.x, model_device(run.model))         # (N, C)
        classes = class_names(run)
        table = Table(["row", "class", *(f"p({c})" for c in classes)])
        k = max(1, min(top, len(classes)))
        best = probs.argmax(1)
        for n, prob in enumerate(probs):
            p, i = prob.topk(k)
            rest = ", ".join(f"{classes[j]} {q:.3f}" for q, j in zip(p, i))
            cls = classes[best[n]]
            table.add([str(n + 1), cls, *map(number, prob)], f"row {n + 1}: {cls}  ({rest})",
                      {"row": n + 1, "class": cls,
                       "probabilities": {c: round(float(q), 6) for c, q in zip(classes, prob)}})
        if rows.target is not None:
            at, labels = class_index(rows.target, rows.lines, classes, rows.target_name, path)
            if len(at):
                accuracy = float((best[torch.as_tensor(at)].numpy() == labels).mean())
                table.summary = {"target": rows.target_name, "scored": len(at),
                                 "accuracy": accuracy}
                table.summary_text = (f"accuracy {accuracy:.4f} on the {len(at)} rows with a "
                                      f"{rows.target_name!r} value")
        return table.answers(out, [path])


def class_answers(run, key: str, names, probs, top: int, out=None, inputs=()) -> list[Answer]:
    """One answer per input: its likeliest class and the ``top`` classes with their
    probabilities (``probs``: one (num_classes,) tensor per input), under the run's class
    names; ``key`` says what an input is (``"file"`` or ``"text"``). With ``out``, a CSV of
    every class's probability is written (never over one of ``inputs``)."""
    classes = class_names(run)
    table = Table([key, "class", *(f"p({c})" for c in classes)])
    k = max(1, min(top, len(classes)))
    for name, prob in zip(names, probs):
        p, i = prob.topk(k)
        data = {key: str(name), "class": classes[i[0]],
                "top": [[classes[j], round(float(q), 4)] for q, j in zip(p, i)]}
        rest = ", ".join(f"{c} {q:.3f}" for c, q in data["top"])
        shown = name if key == "file" else json.dumps(name)
        table.add([str(name), data["class"], *map(number, prob)],
                  f"{shown}: {data['class']}  ({rest})", data)
    return table.answers(out, inputs)


def class_names(run) -> list[str]:
    """The run's class names (its data's, else 0, 1, ...)."""
    return [str(c) for c in run.info.get("classes", range(run.config.model.num_classes))]


def _reader(run):
    """How a file becomes the run's input: a WAV recording (audio), a picture fitted as in
    training (image folders), else a picture or array on the dataset's raw scale."""
    from ..data import read_image_file
    from ..data.audio import read_audio_file
    from ..data.folders import read_fitted_image

    info = run.info
    if info.get("modality") == "audio":
        return read_audio_file
    if "in_channels" not in info:
        raise AnnError(f"{run.path} holds a {run.config.model_name} model, which does not "
                       'read images; give sentences with --text "..."')
    return read_fitted_image if info.get("fit_images") else read_image_file


def _input_files(run, files) -> list:
    """The input files, folders replaced by the files in them the run reads."""
    from ..data.folders import EXTENSIONS

    audio = run.info.get("modality") == "audio"
    return expand_folders(files, (".wav",) if audio else (*EXTENSIONS, ".npy"))


def expand_folders(files, suffixes: tuple[str, ...], purpose: str = "classify") -> list:
    """``files`` with each folder replaced by the files inside it whose names end in one of
    ``suffixes`` (sorted, subfolders included, hidden ones skipped), so that ``ann predict RUN
    photos/`` classifies (``purpose``) a whole folder."""
    out = []
    for name in files:
        folder = Path(name)
        if not folder.is_dir():
            out.append(name)
            continue
        found = [f for f in sorted(folder.rglob("*")) if f.is_file()
                 and f.suffix.lower() in suffixes
                 and not any(p.startswith(".") for p in f.relative_to(folder).parts)]
        if not found:
            raise AnnError(f"{folder} holds no files to {purpose} ({', '.join(suffixes)})")
        out += found
    return out


def classify_text(run, texts: list[str]) -> torch.Tensor:
    """Class probabilities (B, num_classes) of each text, for a text-classifier run (bert-sst2)."""
    return run.predict(sentence_rows(run, texts)).cpu()
