"""The Task: what happens to a model, owned in one place.

A task turns a batch into a loss, a split into metrics, inputs into predictions, and a finished run
into its pictures. Every method has a default here, so the engine, the API and the command line
call them without asking whether a task has them; a task overrides what its objective needs.
A model names its task in the class attribute ``task`` (a registered name, :func:`ann.registry.get_task`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..errors import AnnError

# Metrics that are better when lower, for metrics other than a task's own (``Task.metric``).
LOWER_IS_BETTER = ("loss", "perplexity", "nelbo", "rmse", "mae", "mse", "fd_pixels", "fd_classifier",
                   "wer", "cer")


@dataclass(frozen=True)
class Answer:
    """One piece of what a verb gives back: ``text`` for a person (printed followed by ``end``;
    a language model streams pieces with ``end=""``), ``data`` the same as JSON (``--json``, the
    server), or ``None`` when the piece has no JSON form."""

    text: str
    data: dict | None = None
    end: str = "\n"


@dataclass(frozen=True)
class Option:
    """One keyword option of a verb or of evaluation: ``name=value`` from Python and the server,
    ``--name-with-dashes VALUE`` on the command line (``flag`` when the flag differs from the
    name). The command line builds every verb's command from these declarations, so a task that
    brings a verb or an option touches nothing else.

    ``type``: ``str``, ``int`` or ``float``; ``bool`` for a switch. ``many``: repeatable, the value
    is a list. ``positional``: given without a flag (``FILE ...``, ``TEXT``). ``required``: the
    verb cannot run without it (checked by :func:`ann.api.use` before the task is called)."""

    name: str
    type: type = str
    help: str = ""
    many: bool = False
    positional: bool = False
    required: bool = False
    flag: str = ""
    metavar: str = ""           # how help shows its value (default: the name in capitals)

    @property
    def cli(self) -> str:
        """How the command line spells it: ``--top-k``, or ``FILE`` for positional files."""
        if self.positional:
            return "FILE arguments" if self.name == "files" else self.name.upper()
        return "--" + (self.flag or self.name).replace("_", "-")


@dataclass(frozen=True)
class Verb:
    """Something a finished run of a task does for a user: ``ann NAME RUN_DIR ...`` and, later,
    the server's endpoint. ``method`` names the task's method that does it, called as
    ``method(run, **options)`` and returning Answers; ``options`` are the :class:`Option` s it
    takes."""

    name: str
    method: str
    options: tuple[Option, ...]
    help: str = ""

    @property
    def option_names(self) -> tuple[str, ...]:
        return tuple(o.name for o in self.options)


# Options several tasks' verbs share (a task declares its own beside them).
FILES = Option("files", help="input files: PNG or JPEG pictures, .npy arrays, .wav audio",
               many=True, positional=True, required=True)
OUT = Option("out", help="the PNG file to write the result to", metavar="FILE")
SEED = Option("seed", int, "random seed (default 0)")
BEAM = Option("beam", int, "beam size (default 1: greedy)", metavar="N")
LENGTH_PENALTY = Option("length_penalty", float,
                        "with --beam: GNMT length penalty alpha (default 0; 0.6 is common)")
MAX_LEN = Option("max_len", int, "most output tokens (default: the model's limit)")
# What a task that decodes sequences takes in ``evaluate`` (``ann eval --beam 5``).
DECODING = (Option("beam_size", int, "decode with beam search of this size (default 1: greedy)",
                   flag="beam", metavar="N"), LENGTH_PENALTY)


class LabelSmoothing:
    """For tasks whose loss is a cross-entropy over classes or tokens: they take
    ``train.label_smoothing`` (Szegedy et al. 2016)."""

    def __init__(self, label_smoothing: float = 0.0):
        self.label_smoothing = label_smoothing

    @classmethod
    def for_training(cls, train_config):
        return cls(label_smoothing=train_config.label_smoothing)


class Task:
    """The defaults every task starts from.

    Class attributes:
        name: the registered name (``model.task`` names it).
        metric: the validation metric that selects the checkpoint and judges a run.
        higher_is_better: whether ``metric`` is better when higher.
        evaluate_options: the options the task's constructor takes to configure ``evaluate``
            (a task that decodes sequences: ``beam_size``, ``length_penalty``; ``ann eval
            --beam``), as :class:`Option` s.
        sequential: the data is read in order as parallel streams, state carried across batches
            (truncated backpropagation through time).
        augmentable: shifting or flipping an input image keeps its target right, so
            ``data.augment_shift``/``augment_flip`` apply (a class does not move with the pixels;
            a mask, a box or a caption that says "left of" would).
        verbs: what a finished run offers its user, by name (``generate``, ``translate``,
            ``fill``, ``predict``, ...): see :class:`Verb`.
        targets: what the targets of a batch ``(x, y)`` of plain arrays are to it: ``"class"``
            (class indices, N), ``"number"`` (a value per example), or ``""`` (something else:
            masks, boxes, tokens, graphs). Data handed from Python as arrays
            (:mod:`ann.data.arrays`) trains only tasks that say which.
        unlabelled: the task learns from inputs alone (an autoencoder, a GAN): arrays without
            targets train it, unless its model is ``conditional`` on a label.
    """

    name: str = "task"
    verbs: dict[str, Verb] = {}     # what a finished run of this task does (`ann VERB RUN`)
    metric: str = "loss"
    higher_is_better: bool = False
    evaluate_options: tuple[Option, ...] = ()
    tokenizer = None                # see use_tokenizer
    sequential: bool = False
    augmentable: bool = False
    targets: str = ""
    unlabelled: bool = False

    @classmethod
    def for_training(cls, train_config) -> Task:
        """The task as a run trains under it, configured from the run's ``train.*`` settings
        (a task with label smoothing takes ``train.label_smoothing``)."""
        return cls()

    def is_higher_better(self, metric: str) -> bool:
        """Whether ``metric`` (this task's or another it reports) is better when higher."""
        if metric == self.metric:
            return self.higher_is_better
        return metric not in LOWER_IS_BETTER

    # --- training ---------------------------------------------------------------------------
    def inputs(self, model, batch) -> tuple:
        """The model's arguments for a batch (``ann info`` runs the model on them)."""
        return (batch[0],)

    def logits(self, model, batch) -> torch.Tensor:
        """The model's raw output for a batch."""
        return model(*self.inputs(model, batch))

    def loss(self, model, batch) -> tuple[torch.Tensor, dict[str, float]]:
        """The training loss of one batch and extra figures to log."""
        raise AnnError(f"the {self.name} task has no loss of its own: its model trains through "
                       "its own training_step or fit")

    def lengths(self, model, data) -> torch.Tensor | None:
        """(N,) each example's length for ``train.length_buckets``; ``None``: no lengths."""
        return None

    def start_step(self, step: int, steps_per_epoch: int) -> None:
        """Called before each training step (a stream task resets its carried state)."""

    def state_dict(self) -> dict:
        """Tensors the task carries from step to step, saved in every checkpoint."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Restore what :meth:`state_dict` saved."""

    # --- evaluation and use ------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self, model, batches) -> dict[str, float]:
        """Metrics over an iterable of batches."""
        return {}

    def use_tokenizer(self, tokenizer) -> None:
        """The run's tokenizer, where the caller has one (the test evaluation, ``ann eval``): a
        task that decodes text scores it on the decoded text too (sacreBLEU)."""
        self.tokenizer = tokenizer

    def notes(self) -> dict[str, str]:
        """What the last evaluation's figures need to be compared (a metric's signature, as
        sacreBLEU's), by metric; ``{}``: nothing."""
        return {}

    def after_eval(self, model, run_dir, step: int) -> None:
        """Called after each evaluation during training (a GAN draws a sample grid)."""

    def baselines(self, train, test, metric: str | None = None) -> dict[str, float]:
        """What simple predictors fitted on ``train`` score on ``test``, by name, in ``metric``
        (default: the task's own), as :meth:`evaluate` defines it: a run on a user's data is
        judged against these, since a recipe's target is about the recipe's data. ``{}``: the
        task has no cheap baseline."""
        return {}

    def score_fixed(self, predict, data, metric: str | None = None, config=None) -> float:
        """``metric`` of a stand-in model whose outputs ``predict`` computes from the model's
        inputs, on all of ``data`` in one batch, scored by this task's own :meth:`evaluate`
        (so a baseline's figure means what the run's figure means), :data:`BASELINE_BATCH`
        examples at a time."""
        batches = (data.batch(slice(i, i + BASELINE_BATCH))
                   for i in range(0, len(data), BASELINE_BATCH))
        return self.evaluate(Fixed(predict, config), batches)[metric or self.metric]

    @torch.no_grad()
    def predict(self, model, x) -> torch.Tensor:
        """Predictions for preprocessed inputs."""
        raise AnnError(f"a {self.name} run does not predict from tensors")

    def helpers(self, run) -> dict[str, tuple[str, dict]]:
        """Other runs this run's report needs, by name: ``{name: (recipe, overrides)}``. The
        API trains each once into the cache, loads it, and hands it over as
        ``run.helpers[name]`` before :meth:`report` (a GAN's judging classifier)."""
        return {}

    def report(self, run, test_data, folder) -> None:
        """Pictures and extra files of a finished run, written into ``folder``."""


class Fixed(torch.nn.Module):
    """A stand-in model with no weights: ``predict(*inputs)`` gives its outputs (a baseline
    scored by a task's ``evaluate``); ``config`` holds settings an evaluate reads off a model
    (a forecaster's ``std``)."""

    def __init__(self, predict, config=None):
        super().__init__()
        self.predict, self.config = predict, config

    def forward(self, *inputs):
        return self.predict(*inputs)


def log_prior(y: torch.Tensor, classes: int) -> torch.Tensor:
    """(classes,) log frequencies of the labels ``y`` (one count added to each class, so an
    unseen class has a finite loss): as logits, a predictor of the majority class."""
    counts = torch.bincount(y, minlength=classes).double() + 1
    return (counts / counts.sum()).log().float()


MAX_LINEAR_FIT = 5000      # training examples a linear baseline is fitted on (seconds, not minutes)
MAX_LINEAR_VALUES = 10_000_000    # and input values (rows x features): large pictures take fewer
BASELINE_BATCH = 1000      # examples a baseline reads at a time (a streamed split stays streamed)


def fit_subset(n: int, features: int) -> torch.Tensor | None:
    """The rows a linear baseline is fitted on, out of ``n`` of ``features`` values each: at most
    :data:`MAX_LINEAR_FIT` and :data:`MAX_LINEAR_VALUES` values in all, a seeded random subset
    (``None``: all ``n``)."""
    rows = min(MAX_LINEAR_FIT, max(1, MAX_LINEAR_VALUES // max(features, 1)))
    if n <= rows:
        return None
    return torch.randperm(n, generator=torch.Generator().manual_seed(0))[:rows]


def fit_rows(x: torch.Tensor, y: torch.Tensor) -> tuple:
    """The :func:`fit_subset` rows of ``x`` flattened and their ``y``, as numpy arrays."""
    keep = fit_subset(len(x), x[0].numel() if len(x) else 1)
    if keep is not None:
        x, y = x[keep], y[keep]
    return x.reshape(len(x), -1).double().numpy(), y.numpy()


def split_targets(data) -> torch.Tensor:
    """The targets (a batch's second tensor) of every example of ``data``, read
    :data:`BASELINE_BATCH` examples at a time."""
    return torch.cat([data.batch(slice(i, i + BASELINE_BATCH))[1]
                      for i in range(0, len(data), BASELINE_BATCH)])


def linear_classifier(x: torch.Tensor, y: torch.Tensor, classes: int):
    """Logistic regression on standardised flattened inputs, fitted on ``fit_rows(x, y)``;
    returns a function from inputs to (B, classes) log-probabilities (classes it never saw get
    a log-probability of -30)."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    fx, fy = fit_rows(x, y)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=300))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(fx, fy)
    seen = torch.as_tensor(model.classes_, dtype=torch.int64)

    def predict(inputs: torch.Tensor) -> torch.Tensor:
        out = torch.full((len(inputs), classes), -30.0)
        rows = inputs.reshape(len(inputs), -1).double().cpu().numpy()
        out[:, seen] = torch.as_tensor(model.predict_log_proba(rows), dtype=torch.float32)
        return out

    return predict
