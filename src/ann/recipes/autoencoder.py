"""Recipes of the autoencoder family.

Autoencoders (plain, denoising, convolutional, variational): codes, anomalies, samples.
"""

from . import Recipe, Term, TourStop, add, explain

# Autoencoders (task "reconstruct"): after training, ann.tasks.images measures each use on the test
# split (k-NN / linear probe on the codes against PCA, AUROC, PSNR, ELBO) and draws its pictures.
AE_TRAIN = dict(batch_size=128, lr=2e-3, weight_decay=0.0, warmup_steps=100, log_every=50)
add(Recipe(
    "ae-digits", "ae", "digits", "knn_accuracy", 0.75,
    "fully connected autoencoder with a 2-D code on scikit-learn's digits: the test codes "
    "scattered beside PCA's, k-NN accuracy in both (embedded; seconds)",
    preset="digits", train=dict(AE_TRAIN, epochs=150, batch_size=64, eval_every=200),
    reference="PCA with 2 components on the same split: k-NN accuracy 0.67 (pca_knn_accuracy)",
    tour=TourStop("autoencoder", 2, dict(epochs=60))))
add(Recipe(
    "ae-mnist", "ae", "mnist", "probe_accuracy", 0.94,
    "fully connected autoencoder 784-512-256-32 on MNIST; a linear classifier on the frozen codes",
    preset="mnist", train=dict(AE_TRAIN, epochs=10),
    reference="logistic regression on PCA's 32 components of the same images: 0.90 "
              "(pca_probe_accuracy)"))
add(Recipe(
    "dae-mnist", "dae", "mnist", "psnr", 18.0,
    "convolutional denoising autoencoder on MNIST with Gaussian noise (std 0.5); PSNR of the "
    "noisy input vs. the output, and a before/after grid",
    preset="mnist", train=dict(AE_TRAIN, epochs=5)))
add(Recipe(
    "ae-anomaly-breast-cancer", "ae", "breast-cancer-anomaly", "auroc", 0.9,
    "fully connected autoencoder trained on benign tumours only; malignant ones scored by "
    "reconstruction error, AUROC (embedded; seconds)",
    preset="tabular", train=dict(AE_TRAIN, epochs=300, batch_size=32, lr=1e-3, eval_every=100)))
add(Recipe(
    "ae-anomaly-mnist", "conv-ae", "mnist-anomaly", "auroc", 0.95,
    "convolutional autoencoder trained on MNIST zeros only (data.normal_classes); the other "
    "digits scored by reconstruction error, AUROC",
    preset="mnist", train=dict(AE_TRAIN, epochs=10),
    reference="Ruff et al. 2018 (Deep SVDD), DCAE baseline, normal class 0: AUROC 0.976"))
add(Recipe(
    "vae-mnist", "vae", "mnist", "nelbo", 100.0,
    "convolutional VAE with a 32-D latent on MNIST: test negative ELBO in nats per image "
    "(Bernoulli decoder on grey levels), samples and a latent interpolation grid",
    preset="mnist", model_overrides=dict(latent=32, hidden=(512,)),
    train=dict(AE_TRAIN, epochs=30, lr=1e-3),
    reference="pytorch/examples VAE (MLP 784-400-20): -ELBO ~106.7 nats after 7 epochs"))
add(Recipe(
    "vae-digits", "vae", "digits", "nelbo", 30.0,
    "convolutional VAE with a 2-D latent on scikit-learn's 8x8 digits: samples, the latent "
    "plane and the negative ELBO (nats per image, Bernoulli decoder; embedded, seconds)",
    preset="tiny", model_overrides=dict(widths=(16, 32), hidden=(128,), latent=2),
    train=dict(AE_TRAIN, epochs=60, lr=2e-3),
    tour=TourStop("vae", 3, dict(epochs=60))))
add(Recipe(
    "vae-mnist-mlp", "vae", "mnist", "nelbo", 107.0,
    "pytorch/examples' VAE (MLP 784-400-20, Adam 1e-3, batch 128) for comparison with vae-mnist",
    preset="mlp", train=dict(batch_size=128, lr=1e-3, epochs=7, schedule="constant",
                             log_every=50),
    reference="pytorch/examples VAE (MLP 784-400-20): -ELBO ~106.7 nats after 7 epochs"))

explain(Term(
    "variational autoencoder",
    "An autoencoder whose encoder outputs a Gaussian, a mean and a variance per code dimension, "
    "from which the code is sampled (Kingma & Welling 2014). The loss adds to the reconstruction "
    "error the KL divergence of that Gaussian from a standard normal, so codes fill the space "
    "smoothly and decoding random normal noise gives new samples. Sampling is made "
    "differentiable by the reparameterisation z = mu + sigma * eps.",
    ("ann.models.autoencoder.vae.VAE",),
    ("vae", "kl divergence", "reparameterization trick", "reparameterisation")))
explain(Term(
    "denoising autoencoder",
    "An autoencoder trained to rebuild the clean input from a corrupted copy (pixels dropped or "
    "noise added), so it cannot just copy and must learn what the data looks like (Vincent et al. "
    "2008).",
    ("ann.models.autoencoder.dae.DenoisingAE", "ann.models.autoencoder.dae.corrupt_pixels"),
    ("dae", "denoising")))
