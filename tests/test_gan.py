"""GANs (issue 6): the engine's hook for models that step themselves (exact resume), training
on embedded digits judged by ann's own classifier, the stabilised switches, the Fréchet
distance against scipy, and `ann generate` with its bad input."""

import numpy as np
import pytest
import torch

import ann
from ann.apps.experiments import generative as experiments
from ann.metrics import frechet_distance
from ann.registry import create_model
from ann.tasks import images as generative
from ann.train.checkpoint import load_weights
from helpers import ann as ann_cli
from helpers import fails_cleanly


@pytest.fixture(scope="module")
def judges(tmp_path_factory):
    """One cache for the module, so that the digits judge (mlp-digits) is trained once."""
    return tmp_path_factory.mktemp("cache")


def test_frechet_distance_matches_scipy():
    from scipy import linalg

    rng = np.random.RandomState(0)
    a, b = rng.randn(200, 5), rng.randn(150, 5) @ rng.randn(5, 5) + 1.0
    mu_a, mu_b = a.mean(0), b.mean(0)
    s_a, s_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    want = ((mu_a - mu_b) ** 2).sum() + np.trace(s_a + s_b - 2 * linalg.sqrtm(s_a @ s_b).real)
    assert frechet_distance(a, b) == pytest.approx(want, rel=1e-6)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)


def test_spectral_norm_bounds_the_discriminator():
    torch.manual_seed(0)
    model = create_model("dcgan", "tiny", spectral_norm=True, loss="hinge").train()
    x, y = model.example_batch(8, torch.Generator().manual_seed(0))
    for _ in range(20):                       # power iterations run in training forwards
        model.score((x, y))
    conv = model.discriminator.features[0]
    sigma = torch.linalg.matrix_norm(conv.weight.detach().flatten(1), ord=2)
    assert sigma.item() == pytest.approx(1.0, abs=0.05)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in model.discriminator.modules())


@pytest.mark.parametrize("loss", ["hinge", "wgan-gp"])
def test_stabilised_losses_train(loss):
    torch.manual_seed(0)
    model = create_model("cgan", "tiny", loss=loss, spectral_norm=loss == "hinge")
    opts = model.configure_optimizers(ann.build_config("dcgan-digits").train)
    batch = model.example_batch(16, torch.Generator().manual_seed(0))
    for step in range(3):
        out = model.training_step(batch, opts, step)
        assert np.isfinite(out["loss"]) and {"d_loss", "g_loss"} <= set(out)


def test_generator_average_matches_torch_ema():
    """The averaged generator follows torch's own EMA (swa_utils) once the warm-up ramp is past,
    copies the batch-norm statistics, and is the one that draws samples."""
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    torch.manual_seed(0)
    model = create_model("dcgan", "tiny", g_ema=0.5)
    opts = model.configure_optimizers(ann.build_config("dcgan-digits").train)
    batch = model.example_batch(16, torch.Generator().manual_seed(0))
    for step in range(8):                    # ramp (1 + step) / (10 + step) < 0.5 until step 8
        model.training_step(batch, opts, step)
    reference = AveragedModel(model.generator, multi_avg_fn=get_ema_multi_avg_fn(0.5))
    reference.module.load_state_dict(model.generator_ema.state_dict())
    reference.n_averaged += 1                # start from our average rather than a copy
    for step in range(8, 12):
        model.training_step(batch, opts, step)
        reference.update_parameters(model.generator)
    for (name, mine), theirs in zip(model.generator_ema.named_parameters(),
                                    reference.module.parameters()):
        torch.testing.assert_close(mine, theirs, msg=name)
        assert not torch.equal(mine, dict(model.generator.named_parameters())[name]), name
    for mine, live in zip(model.generator_ema.buffers(), model.generator.buffers()):
        assert torch.equal(mine, live)
    model.eval()
    z = model.noise(4, torch.Generator().manual_seed(1))
    torch.testing.assert_close(model(z), model.generator_ema(z))
    assert not torch.allclose(model(z), model.generator(z))
    assert not any(p.requires_grad for p in model.generator_ema.parameters())
    with pytest.raises(ann.AnnError, match="decay below 1"):
        create_model("dcgan", "tiny", g_ema=1.0)


def test_generator_blocks_add_depth_at_the_lowest_resolution():
    torch.manual_seed(0)
    model = create_model("dcgan", "tiny", g_blocks=2)
    convs = [m for m in model.generator.net if isinstance(m, torch.nn.Conv2d)]
    assert [(m.in_channels, m.out_channels) for m in convs] == [(32, 16), (16, 16)]  # 4w, 2w
    assert model.sample(3).shape == (3, 1, 8, 8)
    before = [p.detach().clone() for p in model.generator.parameters()]
    opts = model.configure_optimizers(ann.build_config("dcgan-digits").train)
    model.training_step(model.example_batch(8, torch.Generator().manual_seed(0)), opts, 0)
    assert all(not torch.equal(a, b) for a, b in zip(before, model.generator.parameters()))


@pytest.mark.parametrize("extra", [{}, {"cat_code": 3}, {"spectral_norm": True, "loss": "hinge"}])
def test_hidden_layers_sit_between_noise_and_map_and_before_the_score(extra):
    """model.g_hidden / d_hidden (InfoGAN's MNIST networks): a fully connected layer after the
    noise and one after the discriminator's convolutions, which the score (and Q) then read;
    one training step moves every weight matrix of both players (the hinge loss gives the
    score's bias no gradient while every score is inside the margin: -1 + 1)."""
    torch.manual_seed(0)
    model = create_model("dcgan", "tiny", g_hidden=24, d_hidden=40, **extra)
    first = model.generator.net[0]
    assert (first.in_features, first.out_features) == (8 + extra.get("cat_code", 0), 24)
    assert model.generator.net[3].in_features == 24
    assert model.discriminator.out.in_features == 40
    x = model.sample(5)
    assert x.shape == (5, 1, 8, 8) and model.discriminator.features(x * 2 - 1).shape == (5, 40)
    if extra.get("cat_code"):
        assert model.discriminator.read_code(x).shape == (5, 3)
    if extra.get("spectral_norm"):
        assert not any(isinstance(m, torch.nn.BatchNorm1d) for m in model.discriminator.modules())
    params = [p for p in model.parameters() if p.requires_grad and p.dim() > 1]
    before = [p.detach().clone() for p in params]
    opts = model.configure_optimizers(ann.build_config("dcgan-digits").train)
    model.train()
    model.training_step(model.example_batch(8, torch.Generator().manual_seed(0)), opts, 0)
    assert all(not torch.equal(a, b) for a, b in zip(before, params))


def test_conditional_projection_reads_the_hidden_features():
    model = create_model("cgan", "tiny", d_hidden=40)
    assert model.discriminator.project.weight.shape == (10, 40)
    y = torch.arange(4)
    assert model.discriminator(model.sample(4) * 2 - 1, y).shape == (4,)  # classes in turn


def test_infogan_code_is_drawn_fed_and_read_back(tmp_path, judges, monkeypatch, conv):
    """model.cat_code: the noise carries a one-hot code, both players' losses get Q's
    cross-entropy, and after training Q reads the code of fresh samples far above chance,
    so the generator has made the code values look different (no labels involved)."""
    torch.manual_seed(0)
    model = create_model("dcgan", "tiny", cat_code=3)
    z = model.noise(6, torch.Generator().manual_seed(0))
    assert z.shape == (6, 8 + 3) and torch.equal(z[:, 8:].sum(1), torch.ones(6))
    assert (model.noise(4, code=2)[:, 8:].argmax(1) == 2).all()
    with pytest.raises(ann.AnnError, match="outside this InfoGAN's 3 code values"):
        model.noise(2, code=3)
    with pytest.raises(ann.AnnError, match="unconditional"):
        create_model("cgan", "tiny", cat_code=3)
    d_loss, g_loss = model.losses(model.example_batch(8, torch.Generator().manual_seed(0)))
    d_loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0
               for p in model.discriminator.code.parameters())
    model.zero_grad()
    g_loss.backward()
    first = model.generator.net[0].weight.grad                        # (out, z_dim + K)
    assert first[:, 8:].abs().sum() > 0                               # the code reaches G

    monkeypatch.setenv("ANN_CACHE_DIR", str(judges))
    run = ann.train("dcgan-digits", {**conv.overrides, "train.max_steps": 300,
                                     "train.eval_every": 300, "model.g_width": 8,
                                     "model.d_width": 8, "model.cat_code": 3},
                    out=tmp_path / "info", quiet=True)
    model = run.model.eval()
    g = torch.Generator().manual_seed(1)
    hits = [(model.discriminator.read_code(model.generator(model.noise(100, g, code=k)))
             .argmax(1) == k).float().mean().item() for k in range(3)]
    assert min(hits) > 0.8, hits                                      # chance: 1/3
    assert (tmp_path / "info" / "codes.png").exists()


def _weights(path):
    from safetensors.torch import load_file

    return load_file(str(path / "model.safetensors"))


def test_resumed_gan_equals_uninterrupted(tmp_path, judges, monkeypatch):
    monkeypatch.setenv("ANN_CACHE_DIR", str(judges))
    common = {"train.threads": 1, "train.deterministic": True, "train.eval_every": 10,
              "model.g_width": 8, "model.d_width": 8, "model.g_ema": 0.99}
    ann.train("dcgan-digits", {**common, "train.max_steps": 30}, out=tmp_path / "a", quiet=True)
    ann.train("dcgan-digits", {**common, "train.max_steps": 20}, out=tmp_path / "b", quiet=True)
    ann.train(resume=tmp_path / "b", overrides={"train.max_steps": 30}, quiet=True)
    a, b = _weights(tmp_path / "a"), _weights(tmp_path / "b")
    assert a.keys() == b.keys() and any(k.startswith("generator_ema.") for k in a)
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0, msg=k)
    state = torch.load(next((tmp_path / "b" / "checkpoints").glob("step-*/state.pt")),
                       weights_only=True)
    assert set(state["optimizers"]) == {"generator", "discriminator"}
    assert len(list((tmp_path / "a" / "samples").glob("step-*.png"))) == 3


def test_dcgan_digits_samples_are_recognised(tmp_path, judges, monkeypatch, conv):
    monkeypatch.setenv("ANN_CACHE_DIR", str(judges))
    run = ann.train("dcgan-digits", {**conv.overrides, "train.max_steps": 1200,
                                     "train.eval_every": 600, "model.g_width": 16,
                                     "model.d_width": 16}, out=tmp_path / "r", quiet=True)
    t = run.summary["test"]
    assert t["confidence"] >= 0.7 and t["classes_present"] >= 8, t
    assert t["fd_classifier"] > 0 and (tmp_path / "r" / "samples.png").exists()


def test_generate_cli_and_bad_input(tmp_path, judges, monkeypatch):
    monkeypatch.setenv("ANN_CACHE_DIR", str(judges))
    ann.train("cgan-mnist", {"data.name": "digits", "train.threads": 1, "train.max_steps": 10,
                             "model.g_width": 8, "model.d_width": 8},
              out=tmp_path / "c", quiet=True)
    env = {"ANN_CACHE_DIR": judges}
    ann_cli("generate", tmp_path / "c", "--n", "12", "--label", "3", "--out", tmp_path / "g.png",
            **env)
    assert (tmp_path / "g.png").stat().st_size > 100
    fails_cleanly(ann_cli("generate", tmp_path / "c", "--label", "10", check=False, **env),
                  "outside", "0-9")
    fails_cleanly(ann_cli("generate", tmp_path / "c", "--n", "100000", check=False, **env),
                  "--n")
    fails_cleanly(ann_cli("generate", tmp_path / "c", "--out", tmp_path / "g.jpg", check=False,
                          **env), ".png")
    run = ann.load(tmp_path / "c")
    monkeypatch.setattr(generative, "MAX_BATCH", 5)       # more images than one batch holds
    images = generative.generate_images(run, 12, label=2)
    assert images.shape == (12, 1, 8, 8) and 0 <= images.min() and images.max() <= 1
    load_weights(create_model("cgan", **{k: getattr(run.config.model, k) for k in (
        "g_width", "d_width", "image_size", "z_dim")}), tmp_path / "c" / "model.safetensors")


def test_srgan_beats_bicubic_and_checks_input_size(tmp_path):
    run = ann.train("srgan-mnist", {"data.name": "digits", "model.factor": 2, "train.epochs": 0,
                                    "train.max_steps": 200, "train.eval_every": 100,
                                    "train.threads": 1, "model.width": 16, "model.blocks": 2},
                    out=tmp_path / "sr", quiet=True)
    t = run.summary["test"]
    assert t["psnr"] > t["psnr_bicubic"] + 0.3 and t["ssim"] > t["ssim_bicubic"], t
    assert (tmp_path / "sr" / "superres.png").exists()
    small = np.random.RandomState(0).randint(0, 17, (4, 4)).astype(np.float32)
    np.save(tmp_path / "small.npy", small)
    np.save(tmp_path / "big.npy", np.zeros((8, 8), np.float32))
    ann_cli("generate", tmp_path / "sr", "--input", tmp_path / "small.npy", "--out",
            tmp_path / "up.png")
    assert (tmp_path / "up.png").exists()
    fails_cleanly(ann_cli("generate", tmp_path / "sr", "--input", tmp_path / "big.npy",
                          check=False), "(8, 8)", "(1, 4, 4)")
    fails_cleanly(ann_cli("generate", tmp_path / "sr", "--n", "4", check=False),
                  "--input")


def test_cyclegan_translates_and_augmentation_runs(tmp_path, judges, monkeypatch):
    monkeypatch.setenv("ANN_CACHE_DIR", str(judges))
    run = ann.train("cyclegan-digits", {"train.threads": 1, "train.max_steps": 150,
                                        "train.eval_every": 150, "model.width": 8,
                                        "model.blocks": 1, "model.d_width": 8},
                    out=tmp_path / "cyc", quiet=True)
    t = run.summary["test"]
    assert t["psnr"] > t["psnr_identity"] + 2.0, t       # closer to the truth than doing nothing
    assert (tmp_path / "cyc" / "cyclegan.png").exists()
    ann.train("cgan-mnist", {"data.name": "digits", "train.threads": 1, "train.max_steps": 10,
                             "model.g_width": 8, "model.d_width": 8}, out=tmp_path / "c",
              quiet=True)
    out = experiments.augmentation_experiment(tmp_path / "c", n_real=50, n_fake=60, steps=20,
                                             seeds=(0,))
    assert out["n_real"] == 50 and 0 <= out["accuracy_real_plus_gan"] <= 1
