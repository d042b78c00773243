"""Hopfield networks (ann.models.hopfield): associative memories fitted in closed form."""

from . import Recipe, TourStop, add

FITTED = dict(epochs=1)        # stored in closed form: one pass over the patterns

# Two storage rules on the same ten digit patterns, 15% of each pattern's 64 units flipped before
# recall (model.recall_noise): `recall` is the share of noisy starts that end exactly on the
# stored pattern. Hebbian storage (model.rule=hebbian) recalls none of them (measured: recall 0,
# every start ends on a spurious state, overlap 0.67): ten correlated digits on 64 units are far
# past what it holds, and its 0.138 N limit is for random patterns; each run's capacity.png
# measures that limit on random patterns for all three rules.
add(Recipe(
    "hopfield-digits", "hopfield", "digit-patterns", "recall", 0.9,
    "Hopfield network, pseudo-inverse storage, ten digit patterns, 15% noise",
    train=FITTED, reference="Personnaz, Guyon & Dreyfus 1985: every stored pattern a fixed point up to N",
    tour=TourStop("hopfield", 5.0),
))
add(Recipe(
    "hopfield-digits-modern", "hopfield", "digit-patterns", "recall", 0.95,
    "Modern Hopfield network (Ramsauer et al. 2020): attention over the stored patterns",
    preset="modern", train=FITTED,
    reference="Ramsauer et al. 2020: exponential capacity, retrieval in one update",
))
