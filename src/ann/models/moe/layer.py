"""A mixture-of-experts feed-forward layer: a router sends each token to k of E expert MLPs.

Shazeer et al. 2017, "Outrageously large neural networks: the sparsely-gated mixture-of-experts
layer" (https://arxiv.org/abs/1701.06538): a trainable gate picks the top k experts per input and
mixes their outputs by the gate's weights, so parameters grow with E while the compute per token
stays that of k experts. Fedus, Zoph & Shazeer 2021, "Switch Transformers"
(https://arxiv.org/abs/2101.03961): top-1 routing (k = 1, gate = router probability), a fixed
*capacity* per expert of ``capacity_factor * k * tokens / E`` tokens (section 2.2; a token routed
to a full expert is dropped: the layer gives it 0 and the residual connection carries it through),
and the auxiliary load-balancing loss (equation 4)

    balance = E * sum_i f_i * P_i,

f_i the fraction of tokens whose first choice is expert i and P_i the mean router probability of
expert i, which is 1 when routing is uniform. For k = 2 the two gates are renormalised to sum to
1 and first choices claim capacity before second choices (GShard, Lepikhin et al. 2020,
https://arxiv.org/abs/2006.16668). The router z-loss, mean(logsumexp(router logits)^2), keeps the
router's logits small (ST-MoE, Zoph et al. 2022, https://arxiv.org/abs/2202.08906, section 3.1).

Each forward leaves its figures in ``self.stats`` (:class:`RouterStats`) for the loss to add and
the report to draw; the layer's output is only the mixed tensor.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from ...layers import Linear


class RouterStats(NamedTuple):
    """What one forward of a :class:`MoEFeedForward` measured."""

    balance: torch.Tensor        # () Switch's load-balancing loss, E * sum_i f_i P_i
    z: torch.Tensor              # () router z-loss, mean(logsumexp(logits)^2)
    load: torch.Tensor           # (E,) token assignments each expert processed (after capacity)
    dropped: torch.Tensor        # () assignments over capacity, dropped to the residual
    assigned: int                # tokens * k: all assignments the router made


def route(probs: torch.Tensor, k: int, capacity: int):
    """Top-k routing with a capacity per expert.

    Returns ``chosen`` (S, k) expert ids, ``gates`` (S, k) mixing weights (the router probability
    for k = 1, renormalised over the k choices otherwise) and ``keep`` (S, k) bool: whether the
    assignment fits in its expert's capacity. Slots fill in token order, all first choices before
    any second choice.

    Shapes:
        probs (S, E) -> chosen, gates, keep (S, k).
    """
    gates, chosen = probs.topk(k, dim=-1)                            # (S, k)
    if k > 1:
        gates = gates / gates.sum(dim=-1, keepdim=True)
    onehot = F.one_hot(chosen, probs.size(-1))                       # (S, k, E)
    by_rank = onehot.transpose(0, 1).flatten(0, 1)                   # (k*S, E): rank-major order
    slot = (by_rank.cumsum(dim=0) - 1) * by_rank                     # place in the expert's queue
    slot = slot.reshape(k, -1, probs.size(-1)).transpose(0, 1)       # (S, k, E)
    keep = (slot * onehot).sum(dim=-1) < capacity                    # (S, k)
    return chosen, gates, keep


def balance_loss(probs: torch.Tensor, chosen: torch.Tensor) -> torch.Tensor:
    """Switch's auxiliary loss E * sum_i f_i P_i over the tokens' first choices (equation 4);
    f is a count (no gradient), the gradient flows through P.

    Shapes:
        probs (S, E), chosen (S, k) -> ().
    """
    n_expert = probs.size(-1)
    f = F.one_hot(chosen[:, 0], n_expert).float().mean(dim=0)        # (E,)
    p = probs.mean(dim=0)                                            # (E,)
    return n_expert * (f * p).sum()


class MoEFeedForward(nn.Module):
    """Router plus ``n_expert`` copies of ``make_expert()``; each token goes to ``top_k`` of them.

    ``capacity_factor`` 0 lifts the capacity limit (no token is dropped).

    Shapes:
        x (B, T, C) -> (B, T, C).
    """

    def __init__(self, n_embd: int, n_expert: int, top_k: int, capacity_factor: float,
                 make_expert):
        super().__init__()
        self.top_k, self.capacity_factor = top_k, capacity_factor
        self.router = Linear(n_embd, n_expert, bias=False)
        self.experts = nn.ModuleList(make_expert() for _ in range(n_expert))
        self.stats: RouterStats | None = None

    def capacity(self, tokens: int) -> int:
        if self.capacity_factor <= 0:
            return tokens
        return math.ceil(self.capacity_factor * self.top_k * tokens / len(self.experts))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        x = x.reshape(B * T, C)                                      # (S, C): tokens
        logits = self.router(x).float()                              # (S, E), routed in float32
        probs = logits.softmax(dim=-1)
        chosen, gates, keep = route(probs, self.top_k, self.capacity(B * T))
        out = torch.zeros_like(x)                                    # dropped tokens stay 0
        for e, expert in enumerate(self.experts):
            token, rank = ((chosen == e) & keep).nonzero(as_tuple=True)   # (n_e,) each
            y = expert(x[token]) * gates[token, rank, None]               # (n_e, C)
            out = out.index_add(0, token, y.to(out.dtype))
        load = torch.stack([((chosen == e) & keep).sum() for e in range(len(self.experts))])
        self.stats = RouterStats(balance_loss(probs, chosen),
                                 torch.logsumexp(logits, dim=-1).pow(2).mean(),
                                 load.detach(), (~keep).sum().detach(), keep.numel())
        return out.reshape(B, T, C)                                  # (B, T, C)
