"""Segmentation: U-Net and FCN shapes, the segment task's losses and metrics, convergence on the
shapes scenes, and `ann train` / `ann predict` end to end with bad input refused in one line."""

import json

import numpy as np
import pytest
import torch

from ann.errors import AnnError
from ann.registry import create_model
from ann.tasks import get_task
from ann.tasks.segment import soft_dice_loss
from helpers import ann, fails_cleanly


@pytest.mark.parametrize("name", ["unet", "fcn"])
@pytest.mark.parametrize("hw", [(16, 16), (24, 40), (64, 32)])
def test_output_has_the_input_size(name, hw):
    model = create_model(name, widths=(4, 8, 8, 16), image_size=16, num_classes=5).eval()
    assert model.size_multiple == 8
    with torch.no_grad():
        out = model(torch.randn(2, 3, *hw))
    assert out.shape == (2, 5, *hw)


@pytest.mark.parametrize("name", ["unet", "fcn"])
def test_image_size_must_be_a_multiple_of_two_to_the_depth(name):
    with pytest.raises(AnnError, match="multiple of 2\\^depth = 8"):
        create_model(name, widths=(4, 8, 8, 16), image_size=60)


def test_unet_decoder_reads_the_skips():
    # Changing only the finest encoder features (through the skip) must change the output.
    model = create_model("unet", "tiny").eval()
    x = torch.randn(1, 3, 16, 16)
    with torch.no_grad():
        base = model(x)
        model.up[-1].conv[0].conv.weight[:, :4].zero_()     # the input channels fed by the skip
        assert not torch.allclose(model(x), base)


def test_soft_dice_loss():
    y = torch.randint(0, 3, (2, 8, 8), generator=torch.Generator().manual_seed(0))
    perfect = 50.0 * torch.nn.functional.one_hot(y, 3).permute(0, 3, 1, 2).float()
    assert soft_dice_loss(perfect, y).item() < 1e-3
    # uniform scores: p = 1/3 everywhere, so per class (2 n_c / 3 + 1) / (N / 3 + n_c + 1)
    uniform = torch.zeros(2, 3, 8, 8, requires_grad=True)
    n = torch.bincount(y.flatten(), minlength=3).double()
    expected = 1 - ((2 * n / 3 + 1) / (128 / 3 + n + 1)).mean()
    loss = soft_dice_loss(uniform, y)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    loss.backward()
    assert uniform.grad.abs().sum() > 0


@pytest.mark.parametrize("kind", ["ce", "dice", "ce+dice"])
def test_loss_options(kind):
    model = create_model("unet", "tiny", loss=kind)
    batch = model.example_batch(4, torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    loss, _ = get_task("segment").loss(model, batch)
    logits = model(batch[0])
    ce = torch.nn.functional.cross_entropy(logits, batch[1]).item()
    dice = soft_dice_loss(logits, batch[1]).item()
    expected = {"ce": ce, "dice": dice, "ce+dice": ce + dice}[kind]
    assert loss.item() == pytest.approx(expected, rel=1e-5)


class _Oracle(torch.nn.Module):
    """Scores that put the true class first except where told otherwise (for evaluate)."""

    def __init__(self, masks, config):
        super().__init__()
        self.masks, self.config, self.calls = masks, config, 0

    def forward(self, x):
        y = self.masks[self.calls]
        self.calls += 1
        return 10.0 * torch.nn.functional.one_hot(y, self.config.num_classes).permute(0, 3, 1, 2).float()


def test_evaluate_over_a_split():
    config = create_model("unet", "tiny", num_classes=3, classes=("bg", "a", "b")).config
    truth = [torch.tensor([[[0, 0, 1, 1], [2, 2, 2, 0]]]), torch.tensor([[[1, 1, 0, 0], [0, 0, 0, 0]]])]
    pred = [torch.tensor([[[0, 1, 1, 1], [2, 2, 0, 0]]]), torch.tensor([[[1, 1, 0, 0], [0, 0, 0, 0]]])]
    metrics = get_task("segment").evaluate(_Oracle(pred, config),
                                           [(torch.zeros(1, 3, 2, 4), t) for t in truth])
    # one confusion matrix over both batches: [[8, 1, 0], [0, 4, 0], [1, 0, 2]]
    assert metrics["iou_bg"] == pytest.approx(8 / 10)
    assert metrics["iou_a"] == pytest.approx(4 / 5) and metrics["iou_b"] == pytest.approx(2 / 3)
    assert metrics["mean_iou"] == pytest.approx((0.8 + 0.8 + 2 / 3) / 3)
    assert metrics["pixel_accuracy"] == pytest.approx(14 / 16)
    assert metrics["dice"] == pytest.approx((16 / 18 + 8 / 9 + 0.8) / 3)


def test_unet_learns_the_shapes_scenes(tmp_path, conv):
    """Convergence: unet-shapes' network, 120 steps of 16 scenes (unet-shapes-quick, the tour's
    recipe, ~30 s on one core): mean IoU >= 0.6 on val and test, against a model that
    calls every pixel background (its IoU 0.81 averaged with three zeros: 0.20)."""
    import ann as api

    run = api.train("unet-shapes-quick", conv.overrides, out=tmp_path / "run", quiet=True)
    assert run.summary["best_val"]["mean_iou"] >= 0.6, run.summary["best_val"]
    assert run.summary["test"]["mean_iou"] >= 0.6, run.summary["test"]
    assert (tmp_path / "run" / "overlays.png").exists()


# --- the command line -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def seg_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("seg") / "run"
    ann("train", "unet-shapes-quick", "train.max_steps=4", "train.eval_every=4",
        "data.train_subset=64", "model.widths=4,8", "train.threads=1", "--out", out,
        ANN_OFFLINE=1, OMP_NUM_THREADS=1)
    return out


def _png(path, array):
    from PIL import Image

    Image.fromarray(np.asarray(array, dtype=np.uint8)).save(path)
    return path


def test_train_writes_overlays_and_predict_answers(seg_run, tmp_path):
    assert (seg_run / "overlays.png").stat().st_size > 0
    summary = json.loads((seg_run / "summary.json").read_text())
    assert summary["metric"] == "mean_iou" and "iou_triangle" in summary["test"]
    from ann.data.scenes import shapes_scene

    scene = shapes_scene(np.random.default_rng(0), size=96)      # a larger size, multiple of 2
    picture = _png(tmp_path / "scene.png", np.rint(scene.image.transpose(1, 2, 0) * 255))
    mask = tmp_path / "mask.png"
    proc = ann("predict", seg_run, picture, "--out", mask, OMP_NUM_THREADS=1)
    assert "circle" in proc.stdout and "%" in proc.stdout
    from PIL import Image

    with Image.open(mask) as img:
        assert img.size == (96, 96) and img.mode == "RGB"
    proc = ann("predict", seg_run, picture, "--json", OMP_NUM_THREADS=1)
    answer = json.loads(proc.stdout.splitlines()[0])
    assert answer["width"] == 96 and sum(answer["fractions"].values()) == pytest.approx(1.0)


def test_predict_refuses_bad_pictures(seg_run, tmp_path):
    huge = _png(tmp_path / "huge.png", np.zeros((512, 512, 3)))        # 8x the training size
    fails_cleanly(ann("predict", seg_run, huge, check=False), "512x512", "multiples of 2",
                  "crop or pad")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    fails_cleanly(ann("predict", seg_run, empty, check=False), "empty")
    gray = _png(tmp_path / "gray.png", np.zeros((64, 64)))
    fails_cleanly(ann("predict", seg_run, gray, check=False), "mode 'L'", "3-channel RGB")


@pytest.mark.parametrize("hw,ok", [((64, 64), True), ((16, 256), True), ((96, 40), True),
                                   ((8, 64), False), ((64, 300), False), ((63, 64), False),
                                   ((64, 62), False)])
def test_picture_sizes(tmp_path, hw, ok):
    """A model trained on 64x64 with depth 2 takes sides that are multiples of 4 from 16 to 256."""
    from ann.registry import dataset_entry
    from ann.tasks.segment import read_picture

    info = dataset_entry("shapes-seg").info
    path = _png(tmp_path / "p.png", np.full((*hw, 3), 128))
    if ok:
        assert read_picture(path, info, 4).shape == (1, 3, *hw)
    else:
        with pytest.raises(AnnError, match="multiples of 4 from 16 to 256"):
            read_picture(path, info, 4)


def test_predict_options_are_checked(seg_run, tmp_path):
    import ann as api
    from ann.tasks.segment import Segmentation

    run = api.load(seg_run)
    picture = _png(tmp_path / "p.png", np.zeros((64, 64, 3)))
    task = Segmentation()
    with pytest.raises(AnnError, match="--threshold does not apply to `ann predict`.*it takes FILE"):
        api.use(run, "predict", files=[picture], threshold=0.5)
    with pytest.raises(AnnError, match="one picture"):
        task.predict_files(run, [picture, picture], out=tmp_path / "m.png")
    with pytest.raises(AnnError, match="ending .png"):
        task.predict_files(run, [picture], out=tmp_path / "m.jpg")
    lines = task.predict_files(run, [picture, picture])
    assert len(lines) == 2 and lines[0].text.startswith(str(picture))
    assert lines[0].data["file"] == str(picture)
    assert sum(lines[0].data["fractions"].values()) == pytest.approx(1)
    # a reloaded run evaluates as the run itself did (ann eval)
    summary = json.loads((seg_run / "summary.json").read_text())
    assert run.evaluate("test")["mean_iou"] == pytest.approx(summary["test"]["mean_iou"])
