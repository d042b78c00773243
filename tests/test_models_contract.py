"""The contract every registered model keeps, run at its ``tiny`` preset (as timm does).

Parametrized over the registry, so a new family is covered as soon as it registers.
"""

import dataclasses

import pytest
import torch

from ann.errors import AnnError
from ann.registry import TASKS, create_model, list_models, list_tasks, model_entry
from ann.tasks import Task, get_task

MODELS = list_models()
TASK_NAMES = list_tasks()


def _build(name, seed=0):
    torch.manual_seed(seed)
    return create_model(name, "tiny")


def _batch(model, batch_size=4, seed=0):
    return model.example_batch(batch_size, torch.Generator().manual_seed(seed))


def _logits(model, batch):
    # A task whose model takes more than batch[0] (seq2seq: source and shifted target) says how.
    task = get_task(model.task)
    return task.logits(model, batch) if hasattr(task, "logits") else model(batch[0])


# Models fitted in closed form (GMDH, PNN/GRNN, DSN: a `fit` method, see ann.train.fitted) have no
# output before they are fitted, and their fitted state is sized by the fit. For them the contract
# fits the example batch first, and "overfitting one batch" means fitting it in closed form.
def _fits(model) -> bool:
    return model_entry(model.registry_name).training.kind == "fit"


def _fit_on(model, batch):
    from ann.data import ArrayDataset

    model.fit(ArrayDataset(batch[0], batch[1]))
    return model


def test_registry_reads_how_each_model_trains():
    # what the registry recorded from each class (the engine and the API read only this)
    kind = {n: model_entry(n).training.kind for n in MODELS}
    assert {kind[n] for n in ("dcgan", "cyclegan", "srgan")} == {"steps"}
    assert {kind[n] for n in ("gmdh", "pnn", "grnn", "dsn", "hopfield")} == {"fit"}
    assert kind["gpt"] == kind["cnn"] == "loop"
    assert model_entry("gmdh").training.describes and not model_entry("pnn").training.describes
    assert model_entry("dsn").training.augments and not model_entry("gmdh").training.augments
    for n in MODELS:                           # the facts agree with the classes' methods
        cls, t = model_entry(n).cls, model_entry(n).training
        assert (t.kind == "fit") == callable(getattr(cls, "fit", None)), n
        assert (t.kind == "steps") == callable(getattr(cls, "training_step", None)), n


def test_registry_refuses_a_model_that_both_fits_and_steps():
    from ann.registry import register_model

    @dataclasses.dataclass
    class Conf:
        width: int = 1

    class Both(torch.nn.Module):
        task = "classify"

        def fit(self, train, val=None, evaluate=None):
            return []

        def training_step(self, batch, optimizers, step):
            return {}

        def configure_optimizers(self, tc):
            return {}

    with pytest.raises(TypeError, match="not both"):
        register_model("both-fit-and-steps", Conf, "test")(Both)
    assert "both-fit-and-steps" not in MODELS and "both-fit-and-steps" not in list_models()


def test_registry_has_models():
    assert {"mlp", "lenet", "cnn"} <= set(MODELS)


@pytest.mark.parametrize("name", MODELS)
def test_metadata(name):
    entry = model_entry(name)
    assert "tiny" in entry.presets, f"{name} has no 'tiny' preset"
    assert entry.cls.__doc__ and entry.cls.__doc__.strip(), f"{name} has no docstring"
    assert isinstance(getattr(entry.cls, "task", None), str)
    assert entry.cls.task in TASKS, f"{name}'s task {entry.cls.task!r} is not a registered task"
    for f in dataclasses.fields(entry.config):
        assert f.metadata.get("help", "").strip(), f"{name}.{f.name} has no help"
        assert "\n" not in f.metadata["help"], f"{name}.{f.name}: help must be one line"
    for preset in entry.presets:
        create_model(name, preset)    # every preset builds


@pytest.mark.parametrize("name", TASK_NAMES)
def test_task_contract(name):
    """Every registered task is a Task under its own name, with a docstring and a selection
    metric, and some registered model trains under it."""
    task = get_task(name)
    assert isinstance(task, Task) and task.name == name
    assert type(task).__doc__ and type(task).__doc__.strip(), f"task {name} has no docstring"
    assert isinstance(task.metric, str) and task.metric
    assert task.is_higher_better(task.metric) is task.higher_is_better
    assert task.is_higher_better("loss") is False or task.metric == "loss"
    assert isinstance(task.state_dict(), dict)
    # checkpoint selection is the engine's (train.select), not a task variant: every
    # registered task is some model's
    assert any(model_entry(m).cls.task == name for m in MODELS), f"no model uses task {name}"


@pytest.mark.parametrize("name", MODELS)
def test_output_shape_and_finite(name):
    model = _build(name).eval()
    batch = _batch(model)
    if _fits(model):
        _fit_on(model, _batch(model, batch_size=16, seed=1))
    with torch.no_grad():
        out = _logits(model, batch)
    if model.task == "classify":
        assert out.shape == (4, model.config.num_classes)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", MODELS)
def test_gradient_reaches_every_parameter(name):
    model = _build(name).train()
    if _fits(model):   # fitted in closed form: the loss of the fitted model is finite
        _fit_on(model, _batch(model, batch_size=16, seed=1))
        loss, _ = get_task(model.task).loss(model, _batch(model, batch_size=8))
        assert torch.isfinite(loss)
        return
    loss, _ = get_task(model.task).loss(model, _batch(model, batch_size=8))
    assert torch.isfinite(loss)
    loss.backward()
    for pname, p in model.named_parameters():
        if not p.requires_grad:
            continue
        assert p.grad is not None, f"{name}: no gradient reaches {pname}"
        assert torch.isfinite(p.grad).all(), f"{name}: non-finite gradient in {pname}"
        assert p.grad.abs().sum() > 0, f"{name}: gradient of {pname} is all zero"


@pytest.mark.parametrize("name", MODELS)
def test_state_dict_round_trip(name):
    model = _build(name, seed=0)
    batch = _batch(model)
    if _fits(model):
        _fit_on(model, _batch(model, batch_size=16, seed=1))
    model.train()
    get_task(model.task).loss(model, batch)   # move BN running statistics off their defaults
    fresh = _build(name, seed=1)
    if _fits(model):   # fitted state is sized by the fit: the loader sizes it from the weights
        from ann.train.checkpoint import size_placeholders

        size_placeholders(fresh, model.state_dict())
    fresh.load_state_dict(model.state_dict())
    model.eval()
    fresh.eval()
    with torch.no_grad():
        torch.testing.assert_close(_logits(fresh, batch), _logits(model, batch), rtol=0, atol=0)


def _overfit(model, task, batch, lr: float, steps: int, done) -> int:
    """Adam on one batch, its learning rate falling linearly to 0 over ``steps`` (at a constant
    rate the last steps stay noisy, and where they land depends on the seed and on the CPU's
    rounding); stops early once ``done(loss in eval mode)`` holds, checked every 25 steps.
    Returns the steps taken."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda i: 1 - i / steps)
    for step in range(1, steps + 1):
        optimizer.zero_grad(set_to_none=True)
        task.loss(model, batch)[0].backward()
        optimizer.step()
        schedule.step()
        if step % 25 == 0:
            model.eval()
            with torch.no_grad():
                finished = done(task.loss(model, batch)[0].item())
            model.train()
            if finished:
                return step
    return steps


def _without_dropout(name: str, seed: int):
    """The tiny model with every dropout rate of its config at 0: fitting one batch is a check
    of capacity and gradients, with regularization off (as the practice goes)."""
    conf = model_entry(name).config
    rates = {f.name: 0.0 for f in dataclasses.fields(conf)
             if "dropout" in f.name and f.type in (float, "float")}
    torch.manual_seed(seed)
    return create_model(name, "tiny", **rates)


@pytest.mark.parametrize("name", MODELS)
def test_overfits_one_small_batch(name, conv):
    conv.apply()
    model = _without_dropout(name, conv.seed).train()
    task = get_task(model.task)
    batch = _batch(model, batch_size=16, seed=1 + conv.seed)
    # Objectives with a floor far above 0 (autoencoders and GANs, issue 6): a GAN's two players
    # balance rather than drive a loss to 0 (its training is tested in tests/test_gan.py); a
    # VAE's loss keeps the KL term and the entropy of grey-level pixels, so it must fall by a
    # tenth instead (measured, seeds 0-4: to 0.67-0.81 of its start; the loss samples z, so
    # the figure moves from one evaluation to the next).
    if model.task in ("adversarial", "image2image"):      # GAN, SRGAN, CycleGAN
        pytest.skip("two players: no loss goes to 0; see tests/test_gan.py")
    if getattr(model, "variational", False):
        with torch.no_grad():
            first = task.loss(model.eval(), batch)[0].item()
        model.train()
        _overfit(model, task, batch, 1e-2, 600, lambda loss: loss < 0.7 * first)
        model.eval()
        with torch.no_grad():
            assert task.loss(model, batch)[0].item() < 0.9 * first, f"{name}: loss did not fall"
        return
    if _fits(model):   # closed form: fit the batch, then its metric must be (nearly) perfect
        _fit_on(model, batch).eval()
        with torch.no_grad():
            if model.task == "classify":
                # GMDH grows polynomial layers on one split and stops where that split's error
                # stops falling: on 16 random points it may leave one of them on the wrong side
                # (seeds 1 and 4: 15 of 16); the kernel networks store every point.
                right = (model(batch[0]).argmax(-1) == batch[1]).sum().item()
                assert right >= 14, f"{name}: {right} of 16 separated"
            else:
                loss, _ = task.loss(model, batch)
                assert loss.item() < 0.1 * batch[1].float().var().item(), f"{name}: {loss.item()}"
        return
    # Adam at 1e-2 falling to 0 over at most 600 steps; a run that has not reached the bar by
    # then (a transformer classifier whose logits collapse at 1e-2, one seed in five) starts
    # again at 3e-3. A contrastive dual encoder (CLIP, issue 4) starts at 3e-3: at 1e-2 its two
    # towers often collapse to one point. Measured over seeds 0-4 at one and two threads, the
    # worst final loss of each model is below 0.03 but for the detector (0.059: its focal loss
    # ends near 1% of its start, 5.5). (The tiny GAT had 4 features per head and left two of
    # 16 random nodes wrong at seed 3; it now has 8.)
    for lr in ((3e-3,) if model.task == "contrastive" else (1e-2, 3e-3)):
        if lr != 1e-2:
            model = _without_dropout(name, conv.seed).train()
        steps = _overfit(model, task, batch, lr, 600, lambda loss: loss < 0.01)
        model.eval()
        with torch.no_grad():
            loss, _ = task.loss(model, batch)
        if loss.item() < 0.15:
            break
    assert loss.item() < 0.15, f"{name}: loss {loss.item():.4f} after {steps} steps on one batch"
    # Classifiers must also get the batch right: every example, but one of the 16 random nodes
    # for the graph networks (the tiny GAT, attention-averaging 2 heads of 8 features, leaves
    # one wrong at some seeds: seed 1 at two threads).
    if model.task in ("classify", "node_classify", "graph_classify"):
        with torch.no_grad():
            logits, y = (model(batch[0]), batch[1]) if model.task == "classify" \
                else task.scores(model, batch)
        wrong = (logits.argmax(-1) != y).sum().item()
        assert wrong <= (0 if model.task == "classify" else 1), f"{name}: {wrong} of the batch wrong"


# --- family-specific limits ----------------------------------------------------------------------

def test_lenet_rejects_images_too_small():
    with pytest.raises(AnnError, match="at least 12x12"):
        create_model("lenet", image_size=8)


@pytest.mark.parametrize("name,size", [("cnn", 8), ("cnn", 28), ("lenet", 28), ("mlp", 28)])
def test_image_sizes(name, size):
    model = create_model(name, image_size=size, num_classes=3).eval()
    x, _ = model.example_batch(2, torch.Generator().manual_seed(0))
    assert model(x).shape == (2, 3)


def test_cnn_rejects_too_many_stages():
    with pytest.raises(AnnError, match="fewer widths"):
        create_model("cnn", image_size=8, stem_stride=2, widths=(8, 8, 8, 8, 8))


def test_tasks_take_the_runs_label_smoothing():
    """``train.label_smoothing`` reaches every task with a cross-entropy over classes or tokens
    (classification, graphs, seq2seq and its captioning and text-to-text kin), and the others
    are built plainly."""
    from ann.registry import task_class
    from ann.train.config import TrainConfig

    tc = TrainConfig(label_smoothing=0.1)
    smoothed = {name for name in TASK_NAMES
                if getattr(task_class(name).for_training(tc), "label_smoothing", None) == 0.1}
    assert {"classify", "node_classify", "graph_classify", "seq2seq", "caption", "text2text"} <= smoothed
    for name in TASK_NAMES:
        assert isinstance(task_class(name).for_training(tc), task_class(name))
