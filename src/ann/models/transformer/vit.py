"""The Vision Transformer: an image cut into patches, read as a sequence by a Transformer encoder.

Dosovitskiy et al. 2021, "An image is worth 16x16 words: Transformers for image recognition at
scale", https://arxiv.org/abs/2010.11929. The image is cut into P x P patches, each linearly
embedded (one strided convolution does both), a learned class token is put in front, learned
absolute positions are added, and pre-LayerNorm encoder blocks (section 3.1, eq. 2-4) read the
sequence; the class token's final state, layer-normed, is classified by a linear head.

Attention rollout (Abnar & Zuidema 2020, "Quantifying attention flow in Transformers",
https://arxiv.org/abs/2005.00928): each layer's head-averaged attention, mixed half and half
with the identity for the residual connection and renormalised, multiplied through the layers,
says how much each patch flows into the class token (:meth:`ViT.rollout`).

:class:`ViTEncoder` is shared by the CLIP image tower (``clip.py``: no patch bias, a LayerNorm
before the blocks, quick GELU) and the captioner's encoder (``captioner.py``);
:class:`EncoderBlock` also serves as CLIP's causal text block.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ...config import field
from ...errors import AnnError
from ...layers import GELU, Conv2d, Dropout, LayerNorm, Linear, MultiHeadAttention, attention_math
from ...layers import attention_mask as make_attention_mask
from ...registry import register_model
from ..cnn.common import ImageClassifier
from ..inputs import LabelledImageInput, check_patches


class QuickGELU(nn.Module):
    """x * sigmoid(1.702 x): the GELU approximation CLIP was trained with (Radford et al. 2021;
    Hendrycks & Gimpel 2016, section 2). Kept so that CLIP weights give CLIP's outputs."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


ACTIVATIONS = {"gelu": GELU, "gelu_tanh": lambda: GELU(approximate="tanh"), "quick_gelu": QuickGELU}


class EncoderBlock(nn.Module):
    """Pre-LayerNorm Transformer block (ViT eq. 2-3): ``x + attn(ln1(x))``, ``x + mlp(ln2(x))``.

    ``causal=True`` makes it a decoder-only block (CLIP's text tower). :meth:`attention` returns
    the attention weights of this block's input, for rollout.

    Shapes:
        x (B, T, d_model) -> (B, T, d_model); attention: (B, n_head, T, T).
    """

    def __init__(self, d_model: int, n_head: int, d_ff: int, dropout: float = 0.0,
                 activation: str = "gelu", ln_eps: float = 1e-6):
        super().__init__()
        self.ln1 = LayerNorm(d_model, eps=ln_eps)
        self.attn = MultiHeadAttention(d_model, n_head, dropout=dropout)
        self.ln2 = LayerNorm(d_model, eps=ln_eps)
        self.fc = Linear(d_model, d_ff)
        self.act = ACTIVATIONS[activation]()
        self.proj = Linear(d_ff, d_model)
        self.drop = Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x: torch.Tensor, causal: bool = False) -> torch.Tensor:
        x = x + self.drop(self.attn(self.ln1(x), causal=causal))  # (B, T, C)
        return x + self.drop(self.proj(self.act(self.fc(self.ln2(x)))))  # (B, T, C)

    def attention(self, x: torch.Tensor, causal: bool = False) -> torch.Tensor:
        a, h = self.attn, self.ln1(x)
        q, k, v = a._split(a.q_proj(h)), a._split(a.k_proj(h)), a._split(a.v_proj(h))  # (B, nh, T, hs)
        T = x.size(1)
        return attention_math(q, k, v, make_attention_mask(None, causal, T, T, x.device))[1]


class ViTEncoder(nn.Module):
    """Patches -> class token + patch tokens -> encoder blocks -> final LayerNorm.

    Args: the image (``image_size``, ``in_channels``), ``patch_size`` (must divide the image
    side), width ``d_model``, ``n_layer`` blocks of ``n_head`` heads and MLP width ``d_ff``,
    ``dropout``, ``activation``, ``ln_eps``; ``patch_bias`` (ViT: True, CLIP: False) and
    ``pre_norm`` (CLIP's LayerNorm on the embeddings before the blocks).

    Shapes:
        images (B, C, H, W) -> tokens (B, 1 + (H/P)*(W/P), d_model); token 0 is the class token.
    """

    def __init__(self, image_size: int, in_channels: int, patch_size: int, d_model: int,
                 n_layer: int, n_head: int, d_ff: int, dropout: float = 0.0,
                 activation: str = "gelu", ln_eps: float = 1e-6, patch_bias: bool = True,
                 pre_norm: bool = False):
        super().__init__()
        if image_size % patch_size:
            raise AnnError(f"patch_size={patch_size} does not divide image_size={image_size}; "
                           "choose a patch size that divides the image side")
        self.image_size, self.in_channels, self.patch_size = image_size, in_channels, patch_size
        self.grid = image_size // patch_size
        # A P x P convolution with stride P is the linear embedding of each flattened patch.
        self.patch = Conv2d(in_channels, d_model, patch_size, stride=patch_size, bias=patch_bias)
        self.cls = nn.Parameter(torch.zeros(1, 1, d_model))
        self.pos = nn.Parameter(torch.zeros(1, 1 + self.grid ** 2, d_model))
        self.drop = Dropout(dropout) if dropout > 0 else nn.Identity()
        self.pre_norm = LayerNorm(d_model, eps=ln_eps) if pre_norm else nn.Identity()
        self.blocks = nn.ModuleList(EncoderBlock(d_model, n_head, d_ff, dropout, activation, ln_eps)
                                    for _ in range(n_layer))
        self.norm = LayerNorm(d_model, eps=ln_eps)
        nn.init.normal_(self.pos, std=0.02)
        nn.init.normal_(self.cls, std=0.02)

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        B, C, H, W = images.shape
        if (C, H, W) != (self.in_channels, self.image_size, self.image_size):
            raise AnnError(f"images of shape {(C, H, W)} given to a ViT that takes "
                           f"{(self.in_channels, self.image_size, self.image_size)}; resize them or "
                           "build the model for this size")
        x = self.patch(images).flatten(2).transpose(1, 2)  # (B, N, C) with N = (H/P) * (W/P)
        x = torch.cat([self.cls.expand(B, -1, -1), x], dim=1)  # (B, 1 + N, C)
        return self.pre_norm(self.drop(x + self.pos))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = self.embed(images)
        for block in self.blocks:
            x = block(x)  # (B, 1 + N, C)
        return self.norm(x)

    @torch.no_grad()
    def attention_maps(self, images: torch.Tensor) -> list[torch.Tensor]:
        """Each block's attention weights, a list of n_layer tensors (B, n_head, 1 + N, 1 + N)."""
        x, maps = self.embed(images), []
        for block in self.blocks:
            maps.append(block.attention(x))
            x = block(x)
        return maps


def attention_rollout(maps: list[torch.Tensor]) -> torch.Tensor:
    """Attention rollout (Abnar & Zuidema 2020, eq. 1): A_l = 0.5 W_l + 0.5 I with W_l the
    head-averaged attention of layer l, rows renormalised, then R = A_L ... A_2 A_1.

    Shapes:
        maps: list of (B, n_head, T, T) -> (B, T, T); row 0 is the class token's view.
    """
    rollout = None
    for w in maps:
        a = w.mean(1)  # (B, T, T)
        a = 0.5 * a + 0.5 * torch.eye(a.size(-1), device=a.device)
        a = a / a.sum(-1, keepdim=True)
        rollout = a if rollout is None else a @ rollout  # (B, T, T)
    return rollout


@dataclass
class ViTConfig(LabelledImageInput):
    patch_size: int = field(4, "side of the square patches; must divide image_size", positive=True)
    d_model: int = field(64, "width of the token embeddings and the residual stream", positive=True)
    n_layer: int = field(6, "encoder blocks", positive=True)
    n_head: int = field(4, "attention heads per block; must divide d_model", positive=True)
    d_ff: int = field(128, "hidden width of each block's MLP", positive=True)
    dropout: float = field(0.0, "dropout on embeddings, attention weights and residual branches",
                           range=(0.0, 0.95))
    activation: str = field("gelu", "MLP activation", choices=tuple(ACTIVATIONS))
    ln_eps: float = field(1e-6, "epsilon in every LayerNorm", positive=True)

    def __post_check__(self):
        check_patches("vit", self.image_size, self.patch_size)
        if self.d_model % self.n_head:
            raise AnnError(f"vit: n_head={self.n_head} does not divide d_model={self.d_model}")


@register_model("vit", config=ViTConfig, family="transformer", presets={
    "tiny": {"image_size": 8, "patch_size": 4, "d_model": 16, "n_layer": 2, "n_head": 2, "d_ff": 32},
    # The known small ViT for 28x28 images (REFERENCES.md): patch 4, width 64, 6 layers, 4 heads.
    "small": {"image_size": 28, "patch_size": 4, "d_model": 64, "n_layer": 6, "n_head": 4,
              "d_ff": 128},
    "digits": {"image_size": 8, "patch_size": 2, "d_model": 64, "n_layer": 2, "n_head": 4,
               "d_ff": 128},
})
class ViT(ImageClassifier):
    """Vision Transformer classifier (Dosovitskiy et al. 2021): class token -> linear head.

    Shapes:
        images (B, C, H, W) -> class scores (B, num_classes).
    """

    def __init__(self, config: ViTConfig):
        super().__init__()
        self.config = c = config
        self.encoder = ViTEncoder(c.image_size, c.in_channels, c.patch_size, c.d_model, c.n_layer,
                                  c.n_head, c.d_ff, c.dropout, c.activation, c.ln_eps)
        self.head = Linear(c.d_model, c.num_classes)
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(module: nn.Module):
        # As the ViT reference code: N(0, 0.02^2) Linear weights (truncated there), zero biases,
        # the patch projection like a Linear layer on the flattened patch (Xavier uniform).
        if isinstance(module, nn.Linear):
            nn.init.trunc_normal_(module.weight, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Conv2d):
            nn.init.xavier_uniform_(module.weight.view(module.weight.size(0), -1))
            if module.bias is not None:
                nn.init.zeros_(module.bias)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(images)[:, 0])  # (B, num_classes)

    def attention_maps(self, images: torch.Tensor) -> list[torch.Tensor]:
        """Each block's attention weights, n_layer tensors (B, n_head, 1 + N, 1 + N)."""
        return self.encoder.attention_maps(images)

    def rollout(self, images: torch.Tensor) -> torch.Tensor:
        """How much each patch flows into the class token (attention rollout), (B, H/P, W/P);
        each map sums to at most 1 (the rest stays on the class token itself)."""
        r = attention_rollout(self.attention_maps(images))[:, 0, 1:]  # (B, N)
        g = self.encoder.grid
        return r.reshape(-1, g, g)  # (B, H/P, W/P)
