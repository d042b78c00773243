"""Recipes of the state-space family: Mamba (Gu & Dao 2023), selective scans instead of attention."""

from . import Recipe, Term, TourStop, add, explain
from .transformer import NANOGPT_CPU

add(Recipe(
    "mamba-shakespeare", "mamba", "shakespeare", "loss", 1.88,
    "character-level Mamba on tiny Shakespeare: gpt-shakespeare's data, budget and parameter "
    "count (7 blocks of width 128, ~0.82 M parameters against GPT's 0.81 M)",
    preset="cpu", train=NANOGPT_CPU,
    reference="gpt-shakespeare, same steps and data: BENCHMARKS.md (Mamba against GPT)"))
add(Recipe(
    "mamba-pydoc", "mamba", "pydoc", "loss", 6.6,
    "a small Mamba (2 blocks of width 64) with byte-level BPE on Python's own documentation, "
    "briefly (embedded; the tour's look at a selective state-space model)",
    preset="cpu", model_overrides=dict(n_layer=2, d_model=64, block_size=32),
    train={**NANOGPT_CPU, "batch_size": 8, "max_steps": 40, "lr": 3e-3, "warmup_steps": 10,
           "eval_every": 20, "log_every": 10},
    reference="measured: test loss 6.37 after the 40 steps (BENCHMARKS.md)",
    tour=TourStop("mamba", 13)))


explain(Term(
    "state-space model",
    "A layer that runs a linear recurrence over a hidden state, h_t = A h_{t-1} + B x_t and "
    "y_t = C h_t, discretised from a continuous system with a step Delta (S4, Gu et al. 2022). "
    "Mamba (Gu & Dao 2023) makes Delta, B and C functions of the current input, so each token "
    "chooses what to store and what to forget; stacked in gated blocks it models language "
    "without attention, at a cost linear in the length and constant per generated token.",
    ("ann.models.ssm.mamba.Mamba", "ann.models.ssm.mamba.SelectiveSSM"),
    ("ssm", "mamba", "s4", "selective state space", "structured state space"),
))
explain(Term(
    "selective scan",
    "How Mamba computes its input-dependent recurrence h_t = a_t h_{t-1} + b_t over a whole "
    "sequence: because a_t changes with the input there is no convolution to use, but the "
    "step h -> a h + b composes associatively, so a parallel prefix scan gets every h_t in "
    "log2(T) sweeps instead of T steps. ann keeps both: the sequential loop as the reference "
    "(and for generation), the parallel scan for training; they agree to rounding.",
    ("ann.models.ssm.mamba.parallel_scan", "ann.models.ssm.mamba.sequential_scan"),
    ("parallel scan", "associative scan", "prefix scan"),
))
