"""Extreme learning machines (ann.models.elm): a random hidden layer, output weights by one solve."""

from . import Recipe, Term, TourStop, add, explain

FITTED = dict(epochs=1)        # fitted in closed form: one pass, one linear solve

# The same data and split as mlp-digits (the `digits` images flattened to 64 features), so the
# two rows compare directly: accuracy, and the time to fit against the MLP's 40 epochs.
add(Recipe(
    "elm-digits", "elm", "digits", "accuracy", 0.97,
    "extreme learning machine (Huang et al. 2006), 2,000 random sigmoid units, ridge output, "
    "on scikit-learn's 8x8 digits (the split of mlp-digits)",
    model_overrides=dict(in_features=64, hidden=2000, ridge=1e-2), train=FITTED,
    reference="mlp-digits (backprop MLP, same split): 97.77% in 40 epochs (BENCHMARKS.md)",
    tour=TourStop("elm", 2.0),
))
add(Recipe(
    "elm-mnist", "elm", "mnist", "accuracy", 0.96,
    "extreme learning machine, 4,000 random sigmoid units, ridge output, on MNIST's 784 pixels",
    model_overrides=dict(in_features=784, hidden=4000, ridge=1e-1),
    train=dict(FITTED, eval_batch_size=1000),
    reference="mlp-mnist (backprop MLP 784-512-256-10, same split): BENCHMARKS.md",
))


explain(Term(
    "extreme learning machine",
    "A one-hidden-layer network whose hidden weights are random and never trained; only the "
    "output weights are fitted, in one least-squares solve through the pseudo-inverse of the "
    "hidden outputs (Huang, Zhu & Siew 2006). It fits in the time of one matrix solve, and "
    "with enough hidden units comes close to a backprop-trained network of one hidden layer. "
    "A small ridge term (1/C) keeps the solve stable when units outnumber examples.",
    ("ann.models.elm.elm.ELM",),
    ("elm",),
))
