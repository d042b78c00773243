"""RBF networks (ann.models.rbf): Gaussian units at k-means centres, output by least squares."""

from . import Recipe, Term, TourStop, add, explain

FITTED = dict(epochs=1)        # fitted in closed form: k-means, widths, one linear solve

# The tables of the PNN recipes (ann.data.tabular): the test split is fold data.fold of a
# stratified 10-fold split. benchmarks/classic_a.py fits scikit-learn's SVC (RBF kernel) and
# k-NN on the same training rows and scores them on the same test rows.
add(Recipe(
    "rbf-iris", "rbf", "iris", "accuracy", 0.93,
    "RBF network (Broomhead & Lowe 1988), 12 k-means centres, least-squares output, on iris",
    model_overrides=dict(centres=12), train=FITTED,
    reference="SVC (RBF) and k-NN on the same split: benchmarks/classic_a.py",
    tour=TourStop("rbf", 1.0),
))
add(Recipe(
    "rbf-digits", "rbf", "digits-table", "accuracy", 0.97,
    "RBF network, 300 k-means centres, on scikit-learn's 8x8 digits as 64 features",
    model_overrides=dict(centres=300, neighbours=3, width_scale=2.0, ridge=1e-3), train=FITTED,
    reference="SVC (RBF) and k-NN on the same split: benchmarks/classic_a.py",
))


explain(Term(
    "rbf network",
    "A network of one hidden layer of Gaussian units, each answering to inputs near its centre, "
    "and a linear output (Broomhead & Lowe 1988). The centres are usually found by k-means and "
    "each width from the distances to neighbouring centres (Moody & Darken 1989); the output "
    "weights are then a linear least-squares fit, so the whole network is fitted without "
    "gradient descent, though it can be refined end to end afterwards.",
    ("ann.models.rbf.rbf.RBFNetwork", "ann.models.rbf.rbf.kmeans"),
    ("radial basis function network", "rbf", "rbfn"),
))
