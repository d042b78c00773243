"""Autoencoders (issue 6): metrics against independent references, the VAE's terms against
torch.distributions, corruptions, the recipes' uses on embedded data, and bad input."""

import json
import math

import numpy as np
import pytest
import torch

import ann
from ann.errors import AnnError
from ann.metrics import auroc, psnr, ssim
from ann.models.autoencoder.dae import corrupt_pixels
from ann.registry import create_model, load_dataset
from helpers import ann as ann_cli
from helpers import fails_cleanly

FAST = {"train.threads": 1, "train.eval_every": 200}


# --- metrics -----------------------------------------------------------------------------------

def test_auroc_matches_sklearn():
    from sklearn.metrics import roc_auc_score

    rng = np.random.RandomState(0)
    labels = rng.randint(0, 2, 300)
    scores = np.round(rng.randn(300) + labels, 1)          # rounded: many ties
    assert auroc(scores, labels) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    with pytest.raises(ValueError, match="both"):
        auroc([0.1, 0.2], [1, 1])


def test_psnr_and_ssim():
    assert psnr(0.01) == pytest.approx(20.0)
    assert psnr(0.0) == math.inf
    x = torch.rand(3, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    assert ssim(x, x) == pytest.approx(1.0)
    # one 7x7 window: the SSIM formula written out with numpy's sample statistics
    a, b = np.random.RandomState(1).rand(2, 7, 7)
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    cov = np.cov(a.ravel(), b.ravel())
    want = ((2 * a.mean() * b.mean() + c1) * (2 * cov[0, 1] + c2)) / (
        (a.mean() ** 2 + b.mean() ** 2 + c1) * (cov[0, 0] + cov[1, 1] + c2))
    assert ssim(torch.tensor(a)[None], torch.tensor(b)[None]) == pytest.approx(want, rel=1e-9)


# --- models --------------------------------------------------------------------------------------

def test_vae_terms_match_torch_distributions():
    from torch.distributions import Bernoulli, Normal, kl_divergence

    torch.manual_seed(0)
    model = create_model("vae", "tiny", mean=0.0, std=1.0)
    x, _ = model.example_batch(5, torch.Generator().manual_seed(0))
    mu, logvar = model.posterior(x)
    kl = kl_divergence(Normal(mu, (0.5 * logvar).exp()), Normal(0.0, 1.0)).sum(1)
    g = torch.Generator().manual_seed(3)
    terms = model.losses(x, g)
    torch.testing.assert_close(terms["kl"], kl.detach(), rtol=1e-5, atol=1e-5)
    eps = torch.randn(mu.shape, generator=torch.Generator().manual_seed(3))
    logits = model.decode(mu + (0.5 * logvar).exp() * eps)
    nll = -Bernoulli(logits=logits).log_prob(x).flatten(1).sum(1)
    torch.testing.assert_close(terms["recon"], nll.detach(), rtol=1e-5, atol=1e-4)
    assert model.sample(6).shape == (6, 1, 8, 8)


def test_corruptions():
    g = torch.Generator().manual_seed(0)
    x = torch.full((4, 1, 28, 28), 0.5)
    masked = corrupt_pixels(x, "mask", 0.3, g)
    assert (masked == 0).float().mean().item() == pytest.approx(0.3, abs=0.03)
    sp = corrupt_pixels(x, "salt_pepper", 0.2, g)
    assert set(sp.unique().tolist()) == {0.0, 0.5, 1.0}
    assert (sp != 0.5).float().mean().item() == pytest.approx(0.2, abs=0.03)
    noisy = corrupt_pixels(x, "gaussian", 0.5, g)
    assert noisy.min() >= 0 and noisy.max() <= 1 and noisy.std() > 0.3


def test_tabular_autoencoder_and_anomaly_dataset():
    train, test = load_dataset("breast-cancer-anomaly", "train"), load_dataset(
        "breast-cancer-anomaly", "test")
    assert train.x.shape[1] == 30 and int(train.y.sum()) == 0        # benign only
    assert 0.3 < test.y.float().mean() < 0.45                        # malignant share kept
    model = create_model("ae", "tabular", in_features=30)
    assert model(train.x[:3]).shape == (3, 30)
    with pytest.raises(AnnError, match="tabular"):
        create_model("conv-ae", in_features=30)


# --- recipes on embedded data ------------------------------------------------------------------

def test_ae_digits_beats_pca_in_knn(tmp_path, conv):
    run = ann.train("ae-digits", {**FAST, **conv.overrides, "train.epochs": 0, "train.max_steps": 1200},
                    out=tmp_path / "r", quiet=True)
    t = run.summary["test"]
    assert run.summary["metric"] == "knn_accuracy"
    assert t["knn_accuracy"] >= 0.68 and t["knn_accuracy"] > t["pca_knn_accuracy"]
    assert {"probe_accuracy", "pca_probe_accuracy", "psnr"} <= set(t)
    assert (tmp_path / "r" / "codes.png").exists()
    assert (tmp_path / "r" / "reconstructions.png").exists()
    saved = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert saved["test"]["knn_accuracy"] == t["knn_accuracy"]
    proc = ann_cli("generate", tmp_path / "r", "--n", "4", check=False)  # not a generator
    fails_cleanly(proc, "does not generate images")


def test_anomaly_breast_cancer_auroc(tmp_path, conv):
    run = ann.train("ae-anomaly-breast-cancer", {**FAST, **conv.overrides, "train.epochs": 0,
                                                 "train.max_steps": 600},
                    out=tmp_path / "r", quiet=True)
    assert run.summary["metric"] == "auroc"
    assert run.summary["test"]["auroc"] >= 0.85


def test_dae_and_vae_on_digits(tmp_path):
    small = {**FAST, "data.name": "digits", "train.epochs": 0, "train.max_steps": 300,
             "model.widths": "16,32"}
    run = ann.train("dae-mnist", small, out=tmp_path / "dae", quiet=True)
    t = run.summary["test"]
    assert t["psnr"] > t["psnr_input"] + 3.0                # denoising helps, by > 3 dB
    assert (tmp_path / "dae" / "denoising.png").exists()
    run = ann.train("vae-mnist", {**small, "train.max_steps": 400, "train.lr": 3e-3},
                    out=tmp_path / "vae", quiet=True)
    assert run.summary["metric"] == "nelbo"
    assert run.summary["test"]["nelbo"] < 36.0              # nats per 8x8 image; ~44 untrained
    for name in ("samples.png", "interpolation.png"):
        assert (tmp_path / "vae" / name).exists()
    ann_cli("generate", tmp_path / "vae", "--n", "9", "--out", tmp_path / "g.png")
    assert (tmp_path / "g.png").stat().st_size > 100


def test_bad_normal_classes_fail_cleanly(tmp_path):
    proc = ann_cli("train", "ae-anomaly-mnist", "data.normal_classes=0,x", "train.threads=1",
                   "--out", tmp_path / "r", check=False)
    fails_cleanly(proc, "normal_classes")


def test_compression_curve(tmp_path):
    from ann.apps.experiments.generative import compression_curve

    out = compression_curve("ae-digits", (2, 8), tmp_path, {"train.threads": 1, "train.epochs": 0,
                                                            "train.max_steps": 400})
    assert out["ae_psnr"][1] > out["ae_psnr"][0] and out["pca_psnr"][1] > out["pca_psnr"][0]
    assert out["ae_psnr"][0] > out["pca_psnr"][0]           # 2-D: the autoencoder beats PCA
    assert (tmp_path / "compression.png").exists()
