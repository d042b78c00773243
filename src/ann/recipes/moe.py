"""Recipes of the mixture-of-experts family: GPT with routed feed-forward layers (Switch)."""

from . import Recipe, Term, TourStop, add, explain
from .transformer import NANOGPT_CPU

add(Recipe(
    "moe-shakespeare", "moe-gpt", "shakespeare", "loss", 1.88,
    "character-level Switch GPT on tiny Shakespeare: gpt-shakespeare with each MLP a top-1 "
    "mixture of 4 experts (the dense model's compute per token, 4x its MLP parameters)",
    preset="cpu", train=NANOGPT_CPU,
    reference="gpt-shakespeare (the dense GPT of equal compute per token), same steps and data: "
              "BENCHMARKS.md"))
add(Recipe(
    "moe-pydoc", "moe-gpt", "pydoc", "loss", 6.5,
    "a small Switch GPT (2 blocks of width 64, 4 experts, top-1) with byte-level BPE on Python's "
    "documentation, briefly (embedded; the tour's look at routing and expert use)",
    preset="cpu", model_overrides=dict(n_layer=2, n_head=2, n_embd=64, block_size=64),
    train={**NANOGPT_CPU, "batch_size": 8, "max_steps": 60, "warmup_steps": 10,
           "eval_every": 30, "log_every": 10},
    reference="measured: test loss 6.39 after the 60 steps (BENCHMARKS.md)",
    tour=TourStop("moe", 12)))


explain(Term(
    "mixture of experts",
    "A layer of several expert networks and a router that sends each input to a few of them "
    "(top-k), mixing their outputs by the router's weights (Shazeer et al. 2017). Parameters "
    "grow with the number of experts while the compute per token stays that of k experts; the "
    "Switch Transformer (Fedus et al. 2021) routes each token to one expert and gives every "
    "expert a fixed capacity, tokens beyond it skipping the layer through the residual.",
    ("ann.models.moe.layer.MoEFeedForward", "ann.models.moe.gpt.MoEGPT"),
    ("moe", "switch transformer", "sparse mixture of experts", "top-k routing", "router",
     "expert capacity", "capacity factor"),
))
explain(Term(
    "load balancing loss",
    "An auxiliary loss that keeps a mixture of experts' router from sending most tokens to a "
    "few experts: Switch's E * sum_i f_i P_i, with f_i the share of tokens whose first choice "
    "is expert i and P_i the router's mean probability for it, is 1 when the load is even and "
    "grows as it concentrates. It is added to the task loss with a small weight (0.01); the "
    "router z-loss, the mean squared log-sum-exp of the router's logits, is its companion.",
    ("ann.models.moe.layer.balance_loss", "ann.tasks.moe.MoELanguageModeling"),
    ("auxiliary loss", "balance loss", "router z-loss", "z-loss"),
))
