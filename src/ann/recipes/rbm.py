"""Restricted Boltzmann machines and deep belief nets (ann.models.rbm): generative models of
pixels trained by contrastive divergence, and classifiers pretrained from a stack of them."""

from . import Recipe, Term, TourStop, add, explain

# Plain SGD at a constant rate: with it a loop step is exactly the CD update of Hinton's guide
# (and of scikit-learn's BernoulliRBM); momentum 0.5 as the guide starts with.
CD = dict(optimizer="sgd", lr=0.05, momentum=0.5, schedule="constant", weight_decay=0.0,
          batch_size=20)

# Measured (seed 0, shared cores): rbm-digits test pseudo-likelihood -18.46 in 17 s of training;
# scikit-learn's BernoulliRBM (PCD, 100 units, lr 0.05, batch 20, 30 epochs) on the same pixels:
# -19.35 in 1.5 s. Untrained: about -44. The tour's 16 epochs reach -19.28 (idle, 10 s wall).
add(Recipe(
    "rbm-digits", "rbm", "digits", "pseudo_likelihood", -20.0,
    "Bernoulli RBM, 100 hidden units, CD-1 on the 8x8 digits: pseudo-likelihood and Gibbs samples",
    model_overrides=dict(n_hidden=100), train=dict(CD, epochs=30),
    reference="scikit-learn BernoulliRBM on the same pixels (tests/test_classic_b.py formula)",
    tour=TourStop("rbm", 10.0, dict(epochs=16))))
add(Recipe(
    "rbm-digits-pcd", "rbm", "digits", "pseudo_likelihood", -20.0,
    "Bernoulli RBM, 100 hidden units, persistent CD (Tieleman 2008) on the 8x8 digits",
    preset="pcd", model_overrides=dict(n_hidden=100), train=dict(CD, epochs=30, lr=0.02)))
add(Recipe(
    "rbm-mnist", "rbm", "mnist", "pseudo_likelihood", -100.0,
    "Bernoulli RBM, 500 hidden units, persistent CD on MNIST, 5 epochs (measured: -84.3 in 193 s)",
    preset="mnist", train=dict(CD, epochs=5, lr=0.01, batch_size=100),
    reference="scikit-learn BernoulliRBM, same sizes and epochs: -100.9 (BENCHMARKS.md)"))

# Measured (seed 0): test accuracy 0.972 after 2 x 1,200 CD-1 steps and 2,400 fine-tuning steps.
# The same sigmoid network without pretraining (model.pretrain_steps=0 train.max_steps=2400)
# reaches 0.981: on 1,259 small digits with Adam, greedy pretraining does not help.
add(Recipe(
    "dbn-digits", "dbn", "digits", "accuracy", 0.95,
    "Deep belief net 64-256-256-10: greedy CD-1 pretraining of each RBM, then back-propagation",
    model_overrides=dict(pretrain_steps=1200),
    train=dict(max_steps=4800, batch_size=20, lr=3e-3, schedule="constant", weight_decay=0.0,
               eval_every=400, log_every=100)))
add(Recipe(
    "dbn-mnist", "dbn", "mnist", "accuracy", 0.985,
    "Deep belief net 784-500-500-10 on MNIST, sized for a CPU (not measured on the shared CPU)",
    preset="mnist",
    train=dict(max_steps=18000, batch_size=100, lr=1e-3, schedule="constant", weight_decay=0.0,
               eval_every=2000, log_every=200),
    reference="Hinton, Osindero & Teh 2006: 1.25% error (784-500-500-2000, generative fine-tuning)"))


explain(Term(
    "restricted boltzmann machine",
    "A two-layer network of binary units, visible and hidden, with no connections within a "
    "layer, that models data as the low-energy states of E(v, h) = -b.v - c.h - h.W v. Exact "
    "likelihood training is intractable, so contrastive divergence (Hinton 2002) compares the "
    "data with a few steps of Gibbs sampling started at it; persistent CD keeps the sampling "
    "chains running between updates instead. Sampled long enough it dreams up new data.",
    ("ann.models.rbm.rbm.RBM", "ann.models.rbm.rbm.RBMLayer", "ann.tasks.boltzmann.Boltzmann"),
    ("rbm", "boltzmann machine", "contrastive divergence", "persistent contrastive divergence")))
explain(Term(
    "deep belief net",
    "A stack of RBMs trained greedily, one layer at a time, each on the hidden activities of the "
    "one below (Hinton, Osindero & Teh 2006), which gives a deep network a good start; then the "
    "stack is fine-tuned as an ordinary sigmoid network by back-propagation. It was the result "
    "that restarted deep learning in 2006.",
    ("ann.models.rbm.dbn.DeepBeliefNet",),
    ("dbn", "greedy layer-wise pretraining")))
