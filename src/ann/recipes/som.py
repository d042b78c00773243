"""Self-organizing maps and LVQ (ann.models.som): Kohonen's networks, trained by their own rules."""

from . import Recipe, Term, TourStop, add, explain

FITTED = dict(epochs=1)        # the map runs its own epochs (model.epochs) inside its fit

add(Recipe(
    "som-iris", "som", "iris", "quantization_error", 0.75,
    "self-organizing map (Kohonen 1982), 8x8 Gaussian neighbourhood, online, 50 epochs, on iris",
    model_overrides=dict(epochs=50), train=FITTED,
    reference="minisom, same grid, data, start and schedule: benchmarks/som_peer.py",
    tour=TourStop("som", 2.0),
))
add(Recipe(
    "som-digits", "som", "digits-table", "quantization_error", 5.5,
    "self-organizing map, 12x12, batch rule, PCA start, 30 epochs, on the 8x8 digits (64 features)",
    model_overrides=dict(rows=12, cols=12, mode="batch", init="pca", epochs=30, lr=1.0,
                         decay="linear", lr_end=1.0, sigma=6.0, sigma_end=1.0),
    train=FITTED,
    reference="minisom, same grid, data, start and schedule: benchmarks/som_peer.py",
))
add(Recipe(
    "lvq-iris", "lvq", "iris", "accuracy", 0.93,
    "learning vector quantization (Kohonen 1990), LVQ1 then LVQ2.1, 3 prototypes a class, on iris",
    preset="lvq2.1", train=FITTED,
    reference="k-NN on the same split: benchmarks/classic_a.py",
))


explain(Term(
    "self-organizing map",
    "A grid of units, each with a weight vector in input space, trained without labels: every "
    "input pulls its best-matching unit and, less, that unit's grid neighbours towards it, with "
    "a learning rate and neighbourhood radius that shrink over time (Kohonen 1982). The trained "
    "grid is a map of the data in which nearby units answer to similar inputs; the U-matrix "
    "shows cluster borders as ridges. It is judged by quantization and topographic error.",
    ("ann.models.som.som.SOM", "ann.tasks.quantize.Quantize"),
    ("som", "kohonen map", "kohonen network", "u-matrix"),
))
explain(Term(
    "learning vector quantization",
    "A classifier of labelled prototypes: an input takes the class of its nearest prototype. "
    "LVQ1 moves the nearest prototype towards a training sample of its class and away from one "
    "of another; LVQ2.1 adjusts the two nearest prototypes when a sample falls between a right "
    "and a wrong one (Kohonen 1990). It is nearest-neighbour classification with a few learned "
    "points instead of the whole training set.",
    ("ann.models.som.lvq.LVQ",),
    ("lvq", "lvq1", "lvq2.1"),
))
