"""Experiments of the generative families that span several runs: the reconstruction error of an
autoencoder against its code size, beside PCA (:func:`compression_curve`), and a classifier trained
on few labels with and without a conditional GAN's samples (:func:`augmentation_experiment`)."""

from __future__ import annotations

import numpy as np
import torch

from ...errors import AnnError
from ...report import generative as plots
from ...tasks.images import MAX_BATCH, MAX_FIT

# --- compression: error against code size, beside PCA -------------------------------------------

def compression_curve(recipe: str = "ae-digits", sizes=(2, 4, 8, 16, 32), folder="runs/compression",
                      overrides=None) -> dict:
    """Train ``recipe`` once per code size (``model.code_size``) and fit PCA with as many
    components on the same training images; measure the test reconstruction error (mean squared
    error per pixel, data in [0, 1]) and mean per-image PSNR of both. Writes
    ``FOLDER/compression.png`` (PSNR against code size), ``compression_mse.png`` and
    ``compression.json``; returns the figures."""
    from pathlib import Path

    from sklearn.decomposition import PCA

    from ... import api, fileio

    folder = Path(folder)
    out = {"recipe": recipe, "sizes": list(sizes), "ae_mse": [], "ae_psnr": [], "pca_mse": [],
           "pca_psnr": []}
    for size in sizes:
        run = api.train(recipe, {**(overrides or {}), "model.code_size": size},
                        out=folder / f"code-{size}", quiet=True)
        out["ae_mse"].append(run.summary["test"]["mse"])
        out["ae_psnr"].append(run.summary["test"]["psnr"])
        train, test = api.load_split(run.config, "train"), api.load_split(run.config, "test")
        x_train = run.model.to_data(train.x[:MAX_FIT]).flatten(1).numpy()    # (N, D) in [0, 1]
        x_test = run.model.to_data(test.x).flatten(1).numpy()
        pca = PCA(size, random_state=0).fit(x_train)
        recon = np.clip(pca.inverse_transform(pca.transform(x_test)), 0, 1)
        mse = ((recon - x_test) ** 2).mean(1)
        out["pca_mse"].append(float(mse.mean()))
        out["pca_psnr"].append(float((10 * np.log10(1 / np.maximum(mse, 1e-10))).mean()))
    curves = lambda key: {"autoencoder": out[f"ae_{key}"], "PCA": out[f"pca_{key}"]}  # noqa: E731
    plots.plot_compression(list(sizes), curves("psnr"), "test PSNR (dB)",
                           folder / "compression.png", f"{recipe}: PSNR against code size")
    plots.plot_compression(list(sizes), curves("mse"), "test MSE per pixel",
                           folder / "compression_mse.png", f"{recipe}: error against code size")
    fileio.write_json(folder / "compression.json", out)
    return out


# --- data augmentation with a conditional GAN -------------------------------------------------------

def _fit_classifier(x: torch.Tensor, y: torch.Tensor, test, steps: int, seed: int) -> float:
    """Train ann's LeNet-5 (an MLP for images under 12x12) on standardised images ``x`` with
    labels ``y`` (Adam 1e-3, batch 64, ``steps`` steps) and return its test accuracy."""
    from ...registry import create_model

    torch.manual_seed(seed)
    name = "lenet" if x.shape[-1] >= 12 else "mlp"          # LeNet-5 needs 12x12 or more
    model = create_model(name, image_size=x.shape[-1], num_classes=10)
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    g = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        idx = torch.randint(0, len(x), (64,), generator=g)
        loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        pred = torch.cat([model(test.x[i:i + 1000]).argmax(-1) for i in range(0, len(test), 1000)])
    return float((pred == test.y).float().mean())


def augmentation_experiment(cgan_dir, n_real: int = 100, n_fake: int = 5000, steps: int = 1500,
                            seeds=(0, 1, 2)) -> dict:
    """A classifier trained on ``n_real`` labelled training images (the first ``n_real // 10``
    of each class) with and without ``n_fake`` samples of a conditional GAN run (classes in
    turn, labelled with the class asked for); test accuracy of both, averaged over ``seeds``."""
    from ... import api

    run = api.load(cgan_dir)
    if not getattr(run.model, "conditional", False):
        raise AnnError(f"{cgan_dir} is not a conditional GAN run; train cgan-mnist first")
    train, test = api.load_split(run.config, "train"), api.load_split(run.config, "test")
    per_class = max(1, n_real // 10)
    keep = torch.cat([torch.nonzero(train.y == c).flatten()[:per_class] for c in range(10)])
    real_x, real_y = train.x[keep], train.y[keep]
    g = torch.Generator().manual_seed(0)
    fake = torch.cat([run.model.sample(min(MAX_BATCH, n_fake - i), g)     # classes in turn
                      for i in range(0, n_fake, MAX_BATCH)])
    fake_y = torch.cat([torch.arange(min(MAX_BATCH, n_fake - i)) % 10
                        for i in range(0, n_fake, MAX_BATCH)])
    fake_x = (fake - train.info["mean"]) / train.info["std"]
    both_x, both_y = torch.cat([real_x, fake_x]), torch.cat([real_y, fake_y])
    real = [_fit_classifier(real_x, real_y, test, steps, s) for s in seeds]
    mixed = [_fit_classifier(both_x, both_y, test, steps, s) for s in seeds]
    return {"n_real": len(keep), "n_fake": n_fake, "steps": steps, "seeds": list(seeds),
            "accuracy_real": sum(real) / len(real), "accuracy_real_plus_gan":
            sum(mixed) / len(mixed), "runs_real": real, "runs_real_plus_gan": mixed}
