"""What the generative tasks (reconstruct, adversarial, image2image) measure and draw after
training, and the images ``ann generate`` writes.

After a run of an autoencoder, GAN or image-to-image model, :func:`report` measures its use on
the test split, adds the figures to ``summary.json``'s ``test`` section and draws the pictures in
the run folder:

* autoencoders: ``reconstructions.png``; on labelled data (digits, MNIST) k-NN accuracy (k = 5)
  and a linear probe (logistic regression) on the frozen codes, each beside PCA at the same
  dimension, and with a 2-D code ``codes.png`` (the test codes beside PCA's); on anomaly data
  (labels normal/anomaly) the AUROC of the reconstruction error; a denoiser's ``denoising.png``
  (clean, corrupted, denoised); a VAE's ``samples.png`` and ``interpolation.png``;
* GANs: ``samples.png`` and figures from ann's own classifier (:func:`sample_quality`);
* super-resolution: ``superres.png``; style transfer: ``cyclegan.png``.

A figure the recipe names as its metric becomes the run's reported metric. The GAN's judging
classifier is a run of its own, trained once into the cache by the API and handed over as
``run.helpers["judge"]`` (see ``Adversarial.helpers``). The experiments that span several runs
live in :mod:`ann.apps.experiments.generative`.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..data.splits import load_split
from ..errors import AnnError
from ..train.batches import eval_batches

MAX_FIT = 20000      # training examples the k-NN and the linear probe fit on (all for small data)


@torch.no_grad()
def _codes(model, data, device, limit: int | None = None) -> np.ndarray:
    n = len(data) if limit is None else min(limit, len(data))
    # 1,000 at a time from the split itself: a streamed split decodes only those
    out = [model.encode(data.x[i:min(i + 1000, n)].to(device)).float().cpu()
           for i in range(0, n, 1000)]
    return torch.cat(out).numpy()


@torch.no_grad()
def _scores(model, data, device) -> np.ndarray:
    """Per-example anomaly scores: the model's loss on each (reconstruction error)."""
    generator = torch.Generator(device=device).manual_seed(0)
    return torch.cat([model.losses(x, generator)["loss"].float().cpu()
                      for x, _ in eval_batches(data, 1000, device)]).numpy()


def _fit_and_score(train_x, train_y, test_x, test_y) -> dict[str, float]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    knn = KNeighborsClassifier(5).fit(train_x, train_y)
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(train_x, train_y)
    return {"knn_accuracy": float(knn.score(test_x, test_y)),
            "probe_accuracy": float(probe.score(test_x, test_y))}


def code_uses(model, train, test, device, folder=None) -> dict[str, float]:
    """k-NN and linear-probe accuracy on the codes, and on PCA at the same dimension (fitted on
    the same training examples in data space); with a 2-D code, a scatter plot of both."""
    from sklearn.decomposition import PCA

    from ..report import generative as plots

    n = min(MAX_FIT, len(train))
    codes_train, codes_test = _codes(model, train, device, n), _codes(model, test, device)
    y_train, y_test = train.y[:n].numpy(), test.y.numpy()
    flat = lambda d, k: model.to_data(d.x[:k]).flatten(1).numpy()  # noqa: E731
    pca = PCA(codes_train.shape[1], random_state=0).fit(flat(train, n))
    pca_train, pca_test = pca.transform(flat(train, n)), pca.transform(flat(test, len(test)))
    ours = _fit_and_score(codes_train, y_train, codes_test, y_test)
    theirs = _fit_and_score(pca_train, y_train, pca_test, y_test)
    uses = {**ours, **{f"pca_{k}": v for k, v in theirs.items()}}
    if folder is not None and codes_train.shape[1] == 2:
        classes = [str(c) for c in test.info.get("classes", range(int(y_test.max()) + 1))]
        plots.plot_codes([(f"autoencoder codes (k-NN accuracy {ours['knn_accuracy']:.3f})",
                           codes_test),
                          (f"PCA, 2 components (k-NN accuracy {theirs['knn_accuracy']:.3f})",
                           pca_test)], y_test, classes, folder / "codes.png")
    return uses


@torch.no_grad()
def _pictures(model, test, device, folder):
    from ..report import generative as plots

    if not model.config.images:
        return
    x = test.x[:16].to(device)
    plots.plot_rows([model.to_data(x), model(x)], ["test", "reconstructed"],
                    folder / "reconstructions.png", "test images and their reconstructions")
    if hasattr(model.config, "corruption"):                      # a denoiser
        noisy = model.corrupt(x, torch.Generator(device=device).manual_seed(0))
        plots.plot_rows([model.to_data(x), model.to_data(noisy), model(noisy)],
                        ["clean", "corrupted", "denoised"], folder / "denoising.png",
                        f"denoising ({model.config.corruption}, noise {model.config.noise})")
    if hasattr(model, "sample"):
        g = torch.Generator(device=device).manual_seed(0)
        plots.save_grid(model.sample(64, g), folder / "samples.png")
        plots.save_grid(interpolate(model, test.x[:16].to(device), 10), folder /
                        "interpolation.png", nrow=10)


@torch.no_grad()
def interpolate(model, x: torch.Tensor, steps: int) -> torch.Tensor:
    """Decoded points on the straight lines between the codes of consecutive pairs of ``x``:
    (len(x) // 2 * steps, C, H, W), one row of ``steps`` images per pair."""
    z = model.encode(x)                                          # (N, latent)
    a, b = z[0::2][:len(z) // 2], z[1::2][:len(z) // 2]          # (P, latent) each
    t = torch.linspace(0, 1, steps, device=z.device)[None, :, None]
    line = a[:, None] * (1 - t) + b[:, None] * t                 # (P, steps, latent)
    return model.output(model.decode(line.flatten(0, 1)))


def reconstruction_uses(run, test_data) -> dict[str, float]:
    """An autoencoder's pictures and the figures of its use: the AUROC of its reconstruction
    error on anomaly data, or k-NN and linear-probe accuracy of its codes on labelled data."""
    from ..metrics import auroc

    model, folder = run.model.eval(), run.path
    device = next(model.parameters()).device
    _pictures(model, test_data, device, folder)
    if test_data.info.get("classes") == ["normal", "anomaly"]:
        return {"auroc": auroc(_scores(model, test_data, device), test_data.y.numpy())}
    if test_data.info.get("task") == "classify":
        return code_uses(model, load_split(run.config, "train"), test_data, device, folder)
    return {}


def record_uses(run, uses: dict[str, float]) -> None:
    """Add the figures to the summary's test section; a figure the recipe names as its metric
    becomes the run's reported metric, judged against its target."""
    from .. import fileio
    from ..recipes import RECIPES

    s = run.summary
    s["test"].update(uses)
    recipe = RECIPES.get(run.config.recipe)
    if recipe is not None and recipe.metric in s["test"]:
        s["metric"] = recipe.metric
        if "target" in s:               # judged by the recipe's target, not on the user's data
            value = s["test"][recipe.metric]
            higher = run.task.is_higher_better(recipe.metric)
            s["reached"] = bool(value >= recipe.target if higher else value <= recipe.target)
    fileio.write_json(run.path / "summary.json", s)


# --- ann generate: images from a generative run -------------------------------------------------

MAX_BATCH = 256      # images generated per forward pass (more are generated batch by batch)
MAX_IMAGES = 10000   # most images one call writes into a grid


def generate_images(run, n: int = 64, label: int | None = None, seed: int = 0) -> torch.Tensor:
    """``n`` images (n, C, H, W) in [0, 1] from a generative run (a VAE or a GAN), in batches
    of at most ``MAX_BATCH``; ``label`` picks the class of a conditional model."""
    model = run.model.eval()
    if not hasattr(model, "sample") or model.task == "image2image":
        hint = (" (it maps images to images: give them with --input FILE)"
                if model.task == "image2image" else "")
        raise AnnError(f"{run.path} holds a {run.config.model_name} model, which does not "
                       f"generate images{hint}; use a VAE or GAN run such as vae-mnist or "
                       "dcgan-digits")
    if not 1 <= n <= MAX_IMAGES:
        raise AnnError(f"--n must be between 1 and {MAX_IMAGES}, got {n}")
    conditional = getattr(model, "conditional", False)
    if label is not None:
        classes = run.info.get("classes", [])
        if not conditional:
            raise AnnError(f"{run.path} holds an unconditional {run.config.model_name} model; "
                           "drop --label, or use a conditional run such as cgan-mnist")
        if not 0 <= label < model.config.num_classes:
            raise AnnError(f"--label {label} is outside this model's classes 0-"
                           f"{model.config.num_classes - 1}"
                           + (f" ({', '.join(map(str, classes))})" if classes else ""))
    device = next(model.parameters()).device
    g = torch.Generator(device=device).manual_seed(seed)
    out = []
    for start in range(0, n, MAX_BATCH):
        k = min(MAX_BATCH, n - start)
        out.append((model.sample(k, g, label) if conditional else model.sample(k, g)).cpu())
    return torch.cat(out)


def generate_to_file(run, n: int = 64, label: int | None = None, seed: int = 0, out=None,
                     inputs: list | None = None):
    """``ann generate`` for image generators: ``n`` images in one PNG grid at ``out`` (default
    ``RUN_DIR/generated.png``), about square; with ``inputs`` (super-resolution runs), those
    low-resolution image files upscaled instead. Returns the path."""
    from pathlib import Path

    from ..report import generative as plots

    path = Path(out) if out is not None else run.path / "generated.png"
    if path.suffix.lower() != ".png":
        raise AnnError(f"--out {path} must name a .png file")
    if not path.parent.is_dir():
        raise AnnError(f"--out {path}: folder {path.parent} does not exist; create it first")
    images = super_resolve(run, inputs) if inputs else generate_images(run, n, label, seed)
    plots.save_grid(images, path, max(1, math.ceil(math.sqrt(len(images)))))
    return path


# --- GANs: judged by ann's own classifier ---------------------------------------------------------

MAX_JUDGED = 10000    # samples and test images compared


@torch.no_grad()
def judge_images(judge_run, images: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """The judge's penultimate features (N, F) and class probabilities (N, K) of images in
    [0, 1] (N, C, H, W), standardised as its dataset is."""
    model, info = judge_run.model.eval(), judge_run.info
    head = [m for m in model.modules() if isinstance(m, torch.nn.Linear)][-1]
    seen = []
    hook = head.register_forward_hook(lambda m, inputs, out: seen.append(inputs[0].detach()))
    probs = []
    try:
        for i in range(0, len(images), 1000):
            x = (images[i:i + 1000].float() - info["mean"]) / info["std"]
            probs.append(torch.softmax(model(x).float(), -1))
    finally:
        hook.remove()
    return torch.cat(seen).flatten(1).numpy(), torch.cat(probs).numpy()


def sample_quality(run, test_data, judge_run, seed: int = 0) -> dict[str, float]:
    """Figures of a GAN's samples under ann's own classifier (not the Inception network, so
    ``fd_classifier`` is not comparable with published FIDs):

    * ``fd_classifier``: Fréchet distance between the classifier's penultimate features of
      ``n`` samples and of ``n`` test images (n = the test split, at most 10,000);
      ``fd_classifier_real`` is the same between the test and validation images, the floor;
    * ``confidence``: the mean top class probability of the samples;
    * ``classes_present``: classes that receive at least 1/(4K) of the samples (K classes);
      ``class_entropy``: the entropy of the predicted classes over log K (1: all equally often);
    * conditional models: ``label_accuracy``, the share of samples classified as the class
      they were drawn for (classes in turn)."""
    from ..metrics import frechet_distance

    model = run.model.eval()
    n = min(MAX_JUDGED, len(test_data))
    g = torch.Generator(device=next(model.parameters()).device).manual_seed(seed)
    sizes = [min(MAX_BATCH, n - i) for i in range(0, n, MAX_BATCH)]
    samples = torch.cat([model.sample(k, g).cpu() for k in sizes])
    # a conditional model's sample() draws the classes in turn, starting afresh in each batch
    wanted = np.concatenate([np.arange(k) % model.config.num_classes for k in sizes])
    to_unit = lambda d: (d.x[:n] * d.info["std"] + d.info["mean"]).clamp(0, 1)  # noqa: E731
    f_fake, p_fake = judge_images(judge_run, samples)
    f_test, _ = judge_images(judge_run, to_unit(test_data))
    f_val, _ = judge_images(judge_run, to_unit(load_split(run.config, "val")))
    k = p_fake.shape[1]
    counts = np.bincount(p_fake.argmax(1), minlength=k) / len(p_fake)
    nonzero = counts[counts > 0]
    out = {"fd_classifier": frechet_distance(f_fake, f_test),
           "fd_classifier_real": frechet_distance(f_val, f_test),
           "confidence": float(p_fake.max(1).mean()),
           "classes_present": int((counts >= 1 / (4 * k)).sum()),
           "class_entropy": float(-(nonzero * np.log(nonzero)).sum() / np.log(k))}
    if getattr(model, "conditional", False):
        out["label_accuracy"] = float((p_fake.argmax(1) == wanted).mean())
    return out


def gan_report(run, test_data) -> dict[str, float]:
    """Sample grids and the judged figures of a GAN run."""
    from ..report import generative as plots

    model, folder = run.model.eval(), run.path
    device = next(model.parameters()).device
    if getattr(model, "conditional", False):
        k = model.config.num_classes
        rows = [model.sample(10, torch.Generator(device=device).manual_seed(c), c)
                for c in range(k)]
        plots.save_grid(torch.cat(rows), folder / "samples.png", nrow=10)
    else:
        plots.save_grid(model.sample(64, torch.Generator(device=device).manual_seed(0)),
                        folder / "samples.png")
    if getattr(model.config, "cat_code", 0):     # InfoGAN: a row for each value of its code
        plots.save_grid(model.sample_codes(10, torch.Generator(device=device).manual_seed(0)),
                        folder / "codes.png", nrow=10)
    judge_run = run.helpers.get("judge")
    if judge_run is None:                        # no classifier to judge by: the pictures only
        return {}
    return sample_quality(run, test_data, judge_run)


# --- super-resolution ------------------------------------------------------------------------------

@torch.no_grad()
def sr_report(run, test_data) -> dict[str, float]:
    """``superres.png``: rows of low-resolution inputs (enlarged), bicubic upsampling, the
    model's output and the originals, on the first 12 test images."""
    from ..models.gan.srgan import bicubic
    from ..report import generative as plots

    model = run.model.eval()
    device = next(model.parameters()).device
    x = test_data.x[:12].to(device)
    lr = model.low_res(x)
    f = model.config.factor
    hr = (x * model.config.std + model.config.mean).clamp(0, 1)
    plots.plot_rows([F_nearest(lr, f), bicubic(lr, f), model(lr), hr],
                    [f"input {lr.shape[-1]}x{lr.shape[-1]}", "bicubic", "model", "original"],
                    run.path / "superres.png", f"super-resolution x{f}")
    return {}


def F_nearest(x: torch.Tensor, factor: int) -> torch.Tensor:  # noqa: N802
    return torch.nn.functional.interpolate(x, scale_factor=factor, mode="nearest")


def super_resolve(run, files: list) -> torch.Tensor:
    """Upscale low-resolution image files (PNG/JPEG on 0-255 or .npy on the dataset's raw
    scale) with a super-resolution run; returns (N, C, S, S) in [0, 1]."""
    from ..data import read_image_file

    c = run.model.config
    small = {**run.info, "in_channels": c.in_channels,
             "image_size": c.image_size // getattr(c, "factor", 1)}
    images = torch.cat([read_image_file(f, small) for f in files])
    lr = (images * small["std"] + small["mean"]).clamp(0, 1)   # standardised -> [0, 1]
    return run.model.eval()(lr.to(next(run.model.parameters()).device)).cpu()


@torch.no_grad()
def cycle_report(run, test_data) -> dict[str, float]:
    """``cyclegan.png``: domain A test images, their translation, the true translation, then
    domain B images and their translation back to A."""
    from ..report import generative as plots

    model = run.model.eval()
    x = test_data.x[:12].to(next(model.parameters()).device)
    a, b, truth = model.split(x)
    plots.plot_rows([a, model.generator["ab"](a), truth, b, model.generator["ba"](b)],
                    ["A", "A -> B", "true B", "B", "B -> A"], run.path / "cyclegan.png",
                    "unpaired translation: strokes as written (A) and thickened (B)")
    return {}


