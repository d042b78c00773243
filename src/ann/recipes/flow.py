"""Normalizing flows (ann.models.flow): exact likelihood by the change of variables."""

from . import Recipe, Term, TourStop, add, explain

# Two-dimensional sets: the noise of make_moons/make_circles (std 0.05 around curves) bounds the
# NLL a perfect model reaches: about 0.26 nats (moons) and 0.60 (circles), from the entropy of a
# uniform point on the curves plus that of the noise across them.
POINTS_TRAIN = dict(batch_size=256, lr=3e-3, weight_decay=0.0, log_every=50, eval_every=250)
add(Recipe(
    "realnvp-moons", "realnvp", "moons", "nll", 0.5,
    "RealNVP, 8 affine couplings (MLP 2-64-64-4) with ActNorm, on scikit-learn's two moons: "
    "test NLL in nats, the learned density and samples (embedded; seconds)",
    preset="moons", train=dict(POINTS_TRAIN, max_steps=1500),
    reference="the noise floor of the data, ~0.26 nats; zuko's RealNVP of about the same size "
              "on the same points: benchmarks/flow_peer.py",
    tour=TourStop("realnvp", 17, dict(max_steps=600, eval_every=600)),
))
add(Recipe(
    "realnvp-circles", "realnvp", "circles", "nll", 1.0,
    "RealNVP, 8 affine couplings (MLP 2-64-64-4) with ActNorm, on scikit-learn's two circles: "
    "test NLL in nats (embedded; seconds)",
    preset="moons", train=dict(POINTS_TRAIN, max_steps=2000),
    reference="the noise floor of the data, ~0.60 nats",
))
add(Recipe(
    "realnvp-digits", "realnvp", "digits", "bits_per_dim", 2.3,
    "RealNVP on scikit-learn's 8x8 digits (17 grey levels, dequantized, logit space): "
    "checkerboard and channel couplings around one squeeze; test bits per dimension and samples "
    "(embedded; minutes)",
    preset="digits", model_overrides=dict(couplings=3, hidden=32, depth=1),
    train=dict(batch_size=64, lr=2e-3, weight_decay=0.0, epochs=15, grad_clip=100.0,
               log_every=50),
    reference="uniform over the 17 levels: log2(17) = 4.09 bits per dimension",
))
add(Recipe(
    "realnvp-mnist", "realnvp", "mnist", "bits_per_dim", 2.0,
    "RealNVP on dequantized MNIST (logit space): checkerboard and channel couplings over two "
    "squeezes, small residual s/t nets, ActNorm; test bits per dimension",
    preset="mnist", train=dict(batch_size=64, lr=1e-3, weight_decay=0.0, epochs=5,
                               grad_clip=100.0, warmup_steps=200, log_every=50),
    reference="Dinh et al. 2017 report 3.49 bits/dim on CIFAR-10; MNIST flows of this kind "
              "reach ~1.0-1.1 (Glow: 1.05) with far more compute",
))


explain(Term(
    "normalizing flow",
    "A generative model built from invertible maps with tractable Jacobians: data x is mapped "
    "to a latent z with a simple density (a standard normal), and the change of variables, "
    "log p(x) = log p(z) + log|det dz/dx|, gives the exact likelihood, which training "
    "maximizes directly. Sampling runs the maps backwards from random z. Unlike a VAE there is "
    "no bound on continuous data, and unlike a GAN the density itself can be evaluated.",
    ("ann.models.flow.realnvp.RealNVP", "ann.tasks.density.Density"),
    ("flow", "normalising flow", "change of variables", "exact likelihood"),
))
explain(Term(
    "coupling layer",
    "The building block of RealNVP (Dinh et al. 2017): a mask splits the input, one part is "
    "kept and fed to a network whose outputs scale and shift the other part, y = x_m + (1-m) "
    "(x exp(s(x_m)) + t(x_m)). The Jacobian is triangular, so its log-determinant is the sum "
    "of s, and the inverse needs no inverse of the network. Alternating masks (halves of a "
    "vector, a checkerboard or channel halves of an image) let every coordinate move.",
    ("ann.models.flow.realnvp.AffineCoupling",),
    ("realnvp", "real nvp", "affine coupling", "actnorm"),
))
