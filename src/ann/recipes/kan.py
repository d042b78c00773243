"""Kolmogorov-Arnold networks (ann.models.kan): learned B-spline functions on edges."""

from . import Recipe, Term, TourStop, add, explain

# Full-batch Adam (pykan trains full-batch too), the grids updated from the batch every 5 steps
# up to step 50 (pykan's schedule, model.grid_update_every / grid_update_until).
KAN_TRAIN = dict(lr=1e-2, weight_decay=0.0, schedule="cosine", log_every=100)
add(Recipe(
    "kan-toy", "kan", "exp-sin", "rmse", 0.03,
    "KAN [2, 5, 1], cubic B-splines on 5 intervals, on Liu et al.'s f(x, y) = exp(sin(pi x) + "
    "y^2): test RMSE; the edges' curves read out as formulas (embedded; seconds)",
    preset="toy", train=dict(KAN_TRAIN, batch_size=1000, max_steps=1500, eval_every=250),
    reference="an MLP of about the same number of parameters, and pykan's KAN of the same width "
              "and grid: benchmarks/kan_peer.py",
    tour=TourStop("kan", 12, dict(max_steps=800, eval_every=800)),
))
add(Recipe(
    "kan-wine", "kan-classifier", "wine", "accuracy", 0.9,
    "KAN [13, 4, 3] classifier, cubic B-splines on 5 intervals, on the UCI wine table "
    "(stratified 10-fold split, fold 0; embedded, seconds)",
    preset="tabular", train=dict(KAN_TRAIN, batch_size=256, max_steps=400, eval_every=100),
    reference="logistic regression (scikit-learn, standardised features) on the same split: "
              "100% (18 of 18); the KAN, 94.4%, is behind it",
))


explain(Term(
    "Kolmogorov-Arnold network",
    "A network with learnable one-dimensional functions on its edges instead of fixed "
    "activations on its nodes (Liu et al. 2024), after the Kolmogorov-Arnold theorem that a "
    "continuous function of many variables is a sum of functions of one. Each edge function "
    "is a B-spline on a grid plus a SiLU branch; grids can be moved to the data and refined, "
    "small edges pruned, and a learned edge read out as a formula such as sin or x^2.",
    ("ann.models.kan.kan.KAN", "ann.models.kan.kan.KANLayer", "ann.models.kan.kan.fit_symbolic"),
    ("kan", "kolmogorov-arnold", "b-spline network", "symbolic regression"),
))
