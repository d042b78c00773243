"""Deep stacking network (Deng & Yu 2011): closed-form upper weights against numpy ridge
regression, the stacked inputs, a recipe through the API, bad input."""

import numpy as np
import pytest
import torch

import ann
from ann.data import ArrayDataset
from ann.registry import create_model
from helpers import ann as ann_cli
from helpers import fails_cleanly


def _blobs(n=120, d=6, classes=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % classes
    return ArrayDataset(torch.randn(classes, d, generator=g)[y] * 2 + torch.randn(n, d, generator=g), y)


def test_upper_weights_are_the_ridge_solution():
    data = _blobs()
    model = create_model("dsn", in_features=6, num_classes=3, hidden=20, max_modules=1, ridge=1e-2)
    model.fit(data)
    m = model.stack[0]
    H = torch.sigmoid(data.x @ m.w + m.b).detach().double().numpy()
    T = np.eye(3)[data.y.numpy()]
    gram = H.T @ H
    lam = 1e-2 * np.diag(gram).mean()
    want = np.linalg.solve(gram + lam * np.eye(20), H.T @ T)
    np.testing.assert_allclose(m.u.detach().double().numpy(), want, rtol=1e-3, atol=1e-4)


def test_modules_see_the_input_and_every_lower_output():
    model = create_model("dsn", in_features=6, num_classes=3, hidden=10, max_modules=3, patience=3)
    model.fit(_blobs())
    assert model.depth >= 1
    for k in range(model.depth):
        assert model.stack[k].w.shape == (6 + 3 * k, 10)
    assert len(model.outputs(_blobs(6).x)) == model.depth


def test_dsn_digits_through_the_api(tmp_path, conv):
    run = ann.train("dsn-digits", {**conv.overrides, "model.hidden": 300,
                                   "model.refine_epochs": 1, "model.max_modules": 3},
                    out=tmp_path / "d", quiet=True)
    assert run.summary["test"]["accuracy"] >= 0.96, run.summary["test"]
    fit = [r for r in run.history if r.get("split") == "fit" and "modules" in r]
    assert fit and fit[0]["modules"] == 1
    again = ann.load(run.path)                     # module weights sized from the checkpoint
    assert again.model.depth == run.model.depth
    assert again.evaluate("test")["accuracy"] == pytest.approx(run.summary["test"]["accuracy"])


def test_bad_input_through_the_cli(tmp_path):
    fails_cleanly(ann_cli("train", "dsn-digits", "model.in_features=10", "--out", tmp_path / "b",
                          check=False), "64 features", "model.in_features")


def _images(n=90, seed=0):
    """Three classes of 1x6x6 images: a bright row, column or diagonal, with noise."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 3
    x = torch.rand(n, 1, 6, 6, generator=g) * 0.3
    for i in range(n):
        if y[i] == 0:
            x[i, 0, 2] += 1
        elif y[i] == 1:
            x[i, 0, :, 3] += 1
        else:
            x[i, 0].diagonal().add_(1)
    return ArrayDataset(x, y)


def test_augmented_refinement_recomputes_the_lower_outputs():
    """With an augmenter that moves nothing, the moved-batch path (lower modules run again on
    every mini-batch) fits exactly the model of the plain path; a real one is called on every
    mini-batch of every module's refinement, and changes the fit."""
    config = dict(in_features=36, num_classes=3, hidden=12, max_modules=3, patience=3,
                  refine_epochs=2, refine_batch=30, init="previous")
    data, calls = _images(), []

    def fitted(augment=None):
        torch.manual_seed(0)
        model = create_model("dsn", **config)
        better = iter(range(10))                 # every module "improves": all three are kept
        model.fit(data, data, lambda: {"accuracy": next(better) / 10}, augment=augment)
        return model

    plain, still = fitted(), fitted(lambda x, g: calls.append(len(x)) or x)
    assert len(calls) == 3 * 2 * 3 and plain.depth == still.depth == 3
    for a, b in zip(plain.parameters(), still.parameters()):
        torch.testing.assert_close(a, b)
    moved = fitted(lambda x, g: torch.roll(x, 1, dims=-1))
    assert not torch.allclose(moved.stack[1].w, plain.stack[1].w)
    with pytest.raises(ann.AnnError, match="refine_epochs > 0"):
        create_model("dsn", **{**config, "refine_epochs": 0}).fit(data, augment=lambda x, g: x)


def test_augmentation_reaches_the_dsn_and_is_refused_by_closed_form_only_families(tmp_path, conv):
    run = ann.train("dsn-digits", {**conv.overrides, "model.hidden": 200, "model.refine_epochs": 2,
                                   "model.max_modules": 2, "data.augment_shift": 1},
                    out=tmp_path / "s", quiet=True)
    assert run.summary["test"]["accuracy"] >= 0.9, run.summary["test"]
    assert run.config.data.augment_shift == 1
    fails_cleanly(ann_cli("train", "pnn-digits", "data.augment_shift=1", "--out", tmp_path / "p",
                          check=False), "closed form", "augment_shift")


def test_cosine_refinement_follows_torch_cosine_annealing(monkeypatch):
    from ann.models.other import dsn

    seen = []

    class Recording(torch.optim.Adam):
        def step(self, closure=None):
            seen.append(self.param_groups[0]["lr"])
            return super().step(closure)

    monkeypatch.setattr(dsn.torch.optim, "Adam", Recording)
    model = create_model("dsn", in_features=6, num_classes=3, hidden=8, max_modules=1,
                         refine_epochs=3, refine_batch=40, refine_lr=0.01,
                         refine_schedule="cosine")
    model.fit(_blobs())                                    # 120 rows: 3 steps an epoch, 9 in all
    reference = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.01)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(reference, T_max=9)
    want = []
    for _ in range(9):
        want.append(reference.param_groups[0]["lr"])
        reference.step()
        schedule.step()
    assert seen == pytest.approx(want)
