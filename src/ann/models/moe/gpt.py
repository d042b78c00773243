"""A GPT whose feed-forward layers are mixtures of experts (Switch Transformer, decoder only).

Fedus, Zoph & Shazeer 2021, "Switch Transformers: scaling to trillion parameter models with
simple and efficient sparsity" (https://arxiv.org/abs/2101.03961), after Shazeer et al. 2017
(https://arxiv.org/abs/1701.06538). Everything is ann's GPT (:mod:`ann.models.transformer.gpt`:
pre-LayerNorm blocks, causal attention, tied head, GPT-2 initialisation, cached generation)
but the MLP of every ``moe_every``-th block, which becomes a :class:`~.layer.MoEFeedForward` of
``n_expert`` MLPs of GPT's shape. With top-1 routing a token passes through one MLP, so the
compute per token is the dense GPT's (plus the router) while the MLP parameters grow E-fold.

The ``lm_moe`` task (:mod:`ann.tasks.moe`) adds ``balance_weight`` times the sum of the layers'
load-balancing losses (Switch: alpha = 0.01) and ``z_weight`` times their z-losses to the
cross-entropy; the validation loss it reports is the cross-entropy alone, comparable with GPT's.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ...config import field
from ...errors import AnnError
from ...layers import gpt2_init
from ...registry import register_model
from ..transformer.gpt import GPT, FeedForward, GPTConfig
from .layer import MoEFeedForward, RouterStats


@dataclass
class MoEGPTConfig(GPTConfig):
    n_expert: int = field(4, "experts in each mixture layer", positive=True)
    top_k: int = field(1, "experts per token: 1 (Switch) or 2 (GShard)", choices=(1, 2))
    capacity_factor: float = field(1.25, "expert capacity = factor * top_k * tokens / n_expert; "
                                   "0 = unlimited", nonneg=True)
    moe_every: int = field(1, "every n-th block gets a mixture (Switch: every other, 2)",
                           positive=True)
    balance_weight: float = field(0.01, "weight alpha of the load-balancing loss (Switch: 0.01)",
                                  nonneg=True)
    z_weight: float = field(0.0, "weight of the router z-loss (ST-MoE: 0.001); 0 = off",
                            nonneg=True)

    def __post_check__(self):
        if self.top_k > self.n_expert:
            raise AnnError(f"top_k={self.top_k} needs at least as many experts, got "
                           f"n_expert={self.n_expert}; raise model.n_expert")
        if self.moe_every > self.n_layer:
            raise AnnError(f"moe_every={self.moe_every} leaves no mixture in {self.n_layer} "
                           f"blocks; set model.moe_every to at most {self.n_layer}")


@register_model("moe-gpt", config=MoEGPTConfig, family="moe", presets={
    # balance_weight 0.001: the balance loss (>= 1 per layer) then leaves the training loss
    # room to fall below 0.01 when one batch is fitted (tests/test_models_contract.py).
    "tiny": {"vocab_size": 32, "block_size": 16, "n_layer": 2, "n_head": 2, "n_embd": 32,
             "n_expert": 4, "top_k": 2, "capacity_factor": 2.0, "balance_weight": 0.001},
    # gpt's "cpu" preset with 4 experts per block: the dense model's compute per token at top-1.
    "cpu": {"block_size": 64, "n_layer": 4, "n_head": 4, "n_embd": 128, "n_expert": 4},
})
class MoEGPT(GPT):
    """GPT with mixture-of-experts MLPs; ``forward`` and generation are GPT's.

    Shapes:
        idx (B, T) int64 -> logits (B, T, vocab_size).
    """

    task = "lm_moe"

    def __init__(self, config: MoEGPTConfig):
        super().__init__(config)
        c = config
        for i, block in enumerate(self.blocks):
            if (i + 1) % c.moe_every == 0:
                block.mlp = MoEFeedForward(c.n_embd, c.n_expert, c.top_k, c.capacity_factor,
                                           lambda: FeedForward(c))
        writers = [m for b in self.blocks for m in (b.attn.out_proj, *self._mlp_outputs(b))]
        gpt2_init(self, residual=writers, n_layer=c.n_layer)   # again, experts included

    @staticmethod
    def _mlp_outputs(block):
        mlp = block.mlp
        return [e.proj for e in mlp.experts] if isinstance(mlp, MoEFeedForward) else [mlp.proj]

    def moe_layers(self) -> list[MoEFeedForward]:
        return [b.mlp for b in self.blocks if isinstance(b.mlp, MoEFeedForward)]

    def router_stats(self) -> list[RouterStats]:
        """Each mixture layer's figures from the last forward, in block order."""
        return [m.stats for m in self.moe_layers()]

    def router_losses(self) -> dict[str, torch.Tensor]:
        """The weighted auxiliary losses of the last forward, summed over the mixture layers."""
        stats, c = self.router_stats(), self.config
        return {"balance": c.balance_weight * sum(s.balance for s in stats),
                "z": c.z_weight * sum(s.z for s in stats)}
