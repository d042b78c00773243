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
LOWER_IS_BETTER = ("loss", "perplexity", "nelbo", "rmse", "mae", "mse", "fd_pixels", "fd_classifier")


@dataclass(frozen=True)
class Answer:
    """One piece of what a verb gives back: ``text`` for a person (printed followed by ``end``;
    a language model streams pieces with ``end=""``), ``data`` the same as JSON (``--json``, the
    server), or ``None`` when the piece has no JSON form."""

    text: str
    data: dict | None = None
    end: str = "\n"


@dataclass(frozen=True)
class Verb:
    """Something a finished run of a task does for a user: ``ann NAME RUN_DIR ...`` and, later,
    the server's endpoint. ``method`` names the task's method that does it, called as
    ``method(run, **options)`` and returning Answers; ``options`` are the keyword options it takes
    (the command line's flags with ``-`` as ``_``)."""

    name: str
    method: str
    options: tuple[str, ...]
    help: str = ""


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
        decodes: ``evaluate`` decodes sequences, so the decoding options (``beam_size``,
            ``length_penalty``; ``ann eval --beam``) apply.
        sequential: the data is read in order as parallel streams, state carried across batches
            (truncated backpropagation through time).
        verbs: what a finished run offers its user, by name (``generate``, ``translate``,
            ``fill``, ``predict``, ...): see :class:`Verb`.
    """

    name: str = "task"
    verbs: dict[str, Verb] = {}     # what a finished run of this task does (`ann VERB RUN`)
    metric: str = "loss"
    higher_is_better: bool = False
    decodes: bool = False
    sequential: bool = False

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

    def after_eval(self, model, run_dir, step: int) -> None:
        """Called after each evaluation during training (a GAN draws a sample grid)."""

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
