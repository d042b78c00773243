"""Hopfield networks (ann.models.hopfield): associative memories fitted in closed form."""

from . import Recipe, Term, TourStop, add, explain

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


def _fixed_points() -> str:
    """Random patterns stored on 100 units by each rule: how many are fixed points of recall."""
    import torch

    from ..registry import create_model

    patterns = torch.where(torch.rand(30, 100, generator=torch.Generator().manual_seed(0)) < 0.5,
                           -1.0, 1.0)                                        # (K, N) = (30, 100)
    kept = {}
    for rule in ("hebbian", "pseudoinverse"):
        net = create_model("hopfield", n_units=100, rule=rule)
        net.store(patterns)
        kept[rule] = int((net(patterns) == patterns).all(1).sum())
    return (f"30 random patterns on 100 units (a load of 0.3, past Hebbian storage's 0.138): "
            f"{kept['hebbian']} of 30 stay fixed points under Hebbian storage, "
            f"{kept['pseudoinverse']} of 30 under the pseudo-inverse rule")


explain(Term(
    "hopfield network",
    "A recurrent network of +1/-1 units with symmetric weights that stores patterns as minima "
    "of an energy: started from a corrupted pattern, updating one unit at a time only lowers "
    "the energy and settles in the nearest memory (Hopfield 1982). Hebbian storage holds about "
    "0.138 N random patterns on N units; the pseudo-inverse rule makes up to N of them fixed "
    "points. The modern Hopfield network (Ramsauer et al. 2020) retrieves with one softmax "
    "over the stored patterns, which is attention, and holds exponentially many.",
    ("ann.models.hopfield.hopfield.HopfieldNetwork", "ann.tasks.recall.Recall"),
    ("hopfield", "associative memory", "modern hopfield network"), _fixed_points))
