"""Diffusion (DDPM, DDIM, classifier-free guidance): the noise schedules, one DDPM step, one
DDIM step and the v-parameterisation against Hugging Face ``diffusers``' schedulers fed the
same model output; a tiny conditional run on digits and ``ann generate`` through the command
line; a convergence test: samples drawn for a class are classified as that class."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

import ann
from ann.errors import AnnError
from ann.models.diffusion.schedule import NoiseSchedule
from ann.registry import create_model
from helpers import ann as ann_cli
from helpers import fails_cleanly

T = 1000
SHAPE = (3, 1, 8, 8)
KINDS = {"linear": "linear", "cosine": "squaredcos_cap_v2"}     # ours -> diffusers' name
PREDICTION = {"epsilon": "epsilon", "v": "v_prediction"}


def _inputs(seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(SHAPE, generator=g), torch.randn(SHAPE, generator=g)   # x_t, model output


@pytest.mark.parametrize("kind", KINDS)
def test_schedule_matches_diffusers(kind):
    diffusers = pytest.importorskip("diffusers")
    theirs = diffusers.DDPMScheduler(num_train_timesteps=T, beta_schedule=KINDS[kind])
    ours = NoiseSchedule(kind, T)
    torch.testing.assert_close(ours.alphas_cumprod.float(), theirs.alphas_cumprod,
                               rtol=1e-5, atol=1e-6)
    assert ours.alphas_cumprod[-1] < 1e-3 and ours.alphas_cumprod[0] > 0.99


@pytest.mark.parametrize("prediction", PREDICTION)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("steps,t", [(T, 500), (T, 1), (T, 0), (50, 980), (50, 0)])
def test_ddpm_step_matches_diffusers(kind, prediction, steps, t):
    diffusers = pytest.importorskip("diffusers")
    theirs = diffusers.DDPMScheduler(num_train_timesteps=T, beta_schedule=KINDS[kind],
                                     prediction_type=PREDICTION[prediction], clip_sample=True)
    theirs.set_timesteps(steps)
    assert t in theirs.timesteps.tolist()
    x, out = _inputs()
    want = theirs.step(out, t, x, generator=torch.Generator().manual_seed(7)).prev_sample
    noise = torch.randn(SHAPE, generator=torch.Generator().manual_seed(7))
    ours = NoiseSchedule(kind, T)
    got = ours.ddpm_step(out, x, t, t - T // steps, prediction, noise, clip=True)
    # diffusers keeps the schedule in float32, ours in float64: near t = 0, 1 - abar_t (~3e-4)
    # carries float32's rounding of abar (~1e-7) as a relative error of ~3e-4
    torch.testing.assert_close(got, want, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("prediction", PREDICTION)
@pytest.mark.parametrize("eta", [0.0, 0.5])
@pytest.mark.parametrize("clip", [False, True])
def test_ddim_steps_match_diffusers(prediction, eta, clip):
    diffusers = pytest.importorskip("diffusers")
    theirs = diffusers.DDIMScheduler(num_train_timesteps=T, beta_schedule="linear",
                                     prediction_type=PREDICTION[prediction], clip_sample=clip,
                                     set_alpha_to_one=True, steps_offset=0,
                                     timestep_spacing="leading")
    theirs.set_timesteps(20)
    ours = NoiseSchedule("linear", T)
    assert ours.timesteps(20) == theirs.timesteps.tolist()
    x, out = _inputs(1)
    for t in (ours.timesteps(20)[0], 500, 0):         # the first step, one inside, the last
        want = theirs.step(out, t, x, eta=eta, use_clipped_model_output=clip,
                           generator=torch.Generator().manual_seed(3)).prev_sample
        noise = torch.randn(SHAPE, generator=torch.Generator().manual_seed(3))
        got = ours.ddim_step(out, x, t, t - T // 20, prediction, eta, noise, clip)
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)


def test_v_prediction_conversions_match_diffusers():
    diffusers = pytest.importorskip("diffusers")
    theirs = diffusers.DDPMScheduler(num_train_timesteps=T, beta_schedule="squaredcos_cap_v2",
                                     prediction_type="v_prediction", clip_sample=False)
    ours = NoiseSchedule("cosine", T)
    x0, noise = _inputs(2)
    t = torch.tensor([10, 400, 990])
    torch.testing.assert_close(ours.velocity(x0, noise, t), theirs.get_velocity(x0, noise, t),
                               rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(ours.add_noise(x0, noise, t), theirs.add_noise(x0, noise, t),
                               rtol=1e-4, atol=1e-5)
    # v at x_t converts back to the clean image and the noise
    xt, v = ours.add_noise(x0, noise, t), ours.velocity(x0, noise, t)
    got_x0, got_eps = ours.predictions(v, xt, t, "v")
    torch.testing.assert_close(got_x0, x0, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(got_eps, noise, rtol=1e-4, atol=1e-4)
    step = theirs.step(v[1:2], 400, xt[1:2], generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(step.pred_original_sample, x0[1:2], rtol=1e-4, atol=1e-4)


def test_guidance_mixes_the_conditional_and_null_predictions():
    torch.manual_seed(0)
    model = create_model("ddpm", "tiny", ema=0.0).eval()
    x = torch.randn(2, 1, 8, 8)
    y, t = torch.tensor([3, 5]), torch.full((2,), 20)
    cond, free = model(x, t, y), model.unet(x, t, model.null(2, "cpu"))
    torch.testing.assert_close(model.guided(x, 20, y, 3.0), free + 3.0 * (cond - free),
                               rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(model.guided(x, 20, y, 1.0), cond)
    chain = model.denoise(4, torch.Generator().manual_seed(0), 2, steps=5, keep=6)
    assert len(chain) == 6 and all(c.shape == (4, 1, 8, 8) for c in chain)
    assert 0 <= chain[-1].min() and chain[-1].max() <= 1


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """One cache for the module, so that the digits judge (mlp-digits) is trained once."""
    return tmp_path_factory.mktemp("cache")


@pytest.mark.slow
def test_tiny_conditional_run_and_generate_cli(tmp_path, cache, monkeypatch):
    monkeypatch.setenv("ANN_CACHE_DIR", str(cache))
    run = ann.train("ddpm-digits", {"train.threads": 1, "train.max_steps": 20,
                                    "train.eval_every": 10, "model.widths": (8, 16),
                                    "model.sample_steps": 5}, out=tmp_path / "d", quiet=True)
    t = run.summary["test"]
    assert {"loss", "fd_classifier", "confidence", "label_accuracy"} <= set(t)
    assert (tmp_path / "d" / "chain.png").exists() and (tmp_path / "d" / "samples.png").exists()
    proc = ann_cli("generate", tmp_path / "d", "--label", "3", "--steps", "4", "--n", "12",
                   "--out", tmp_path / "g.png", "--json", ANN_CACHE_DIR=cache)
    assert json.loads(proc.stdout.strip().splitlines()[-1])["images"] == 12
    # 12 images in a grid of 4 columns and 3 rows, 8x8 pixels with 2 of padding, zoomed x3
    assert Image.open(tmp_path / "g.png").size == (3 * (4 * 10 + 2), 3 * (3 * 10 + 2))
    fails_cleanly(ann_cli("generate", tmp_path / "d", "--steps", "0", check=False,
                          ANN_CACHE_DIR=cache), "--steps")
    # the verb's steps reach the sampler: one step differs from five, the same seed repeats
    loaded = ann.load(tmp_path / "d")
    task = loaded.task
    with pytest.raises(AnnError, match="outside"):
        ann.use(loaded, "generate", label=10)
    with pytest.raises(AnnError, match="--guidance"):
        ann.use(ann.train("ddpm-digits", {"train.threads": 1, "train.max_steps": 1,
                                          "model.widths": (4, 8), "model.conditional": False,
                                          "model.sample_steps": 2}, out=tmp_path / "u",
                          quiet=True), "generate", guidance=2.0)
    task.generate_images(loaded, 4, 1, 0, tmp_path / "a.png", steps=1)
    task.generate_images(loaded, 4, 1, 0, tmp_path / "b.png", steps=5)
    task.generate_images(loaded, 4, 1, 0, tmp_path / "c.png", steps=5)
    pixels = {k: np.asarray(Image.open(tmp_path / f"{k}.png")) for k in "abc"}
    assert (pixels["b"] == pixels["c"]).all() and (pixels["a"] != pixels["b"]).any()


@pytest.mark.slow
def test_samples_take_the_class_asked_for(tmp_path, cache, monkeypatch, conv):
    """Samples drawn for each class in turn are judged by mlp-digits: chance is 0.1, an
    unconditional model's; 300 steps of a 40k-parameter U-Net give 0.48 (seed 0, one thread;
    the full ddpm-digits recipe 0.99, BENCHMARKS.md)."""
    monkeypatch.setenv("ANN_CACHE_DIR", str(cache))
    run = ann.train("ddpm-digits", {**conv.overrides, "train.max_steps": 300,
                                    "train.eval_every": 300, "train.warmup_steps": 30,
                                    "train.lr": 3e-3, "model.widths": (8, 16),
                                    "model.sample_steps": 10},
                    out=tmp_path / "r", quiet=True)
    t = run.summary["test"]
    assert t["label_accuracy"] >= 0.3 and t["classes_present"] >= 7, t
