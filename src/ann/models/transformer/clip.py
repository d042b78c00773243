"""CLIP: an image tower and a text tower trained to put matching pairs close in one space.

Radford et al. 2021, "Learning transferable visual models from natural language supervision",
https://arxiv.org/abs/2103.00020. The image tower is a Vision Transformer (:class:`ViTEncoder`
with CLIP's LayerNorm before the blocks and no patch bias) read at its class token; the text
tower is a causal Transformer over word tokens read at the first end token (section 2.4: "the
activations of the highest layer of the transformer at the [EOS] token"). Linear projections
without bias map both into ``embed_dim``; embeddings are L2-normalised and compared by cosine
similarity times a learned temperature ``exp(logit_scale)``, initialised to 1/0.07 and clipped
at 100 (section 2.5). The loss is the symmetric cross-entropy over the batch's similarity matrix
(figure 3), in ``ann.tasks.contrastive.Contrastive``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ...config import field
from ...errors import AnnError
from ...layers import Embedding, LayerNorm, LearnedPositionalEmbedding, Linear, gpt2_init
from ...registry import register_model
from ..inputs import ImageTextInput
from .vit import ACTIVATIONS, EncoderBlock, ViTEncoder

MAX_LOGIT_SCALE = math.log(100.0)


@dataclass
class CLIPConfig(ImageTextInput):
    vision_width: int = field(64, "width of the image tower", positive=True)
    vision_layers: int = field(3, "blocks of the image tower", positive=True)
    vision_heads: int = field(4, "attention heads of the image tower", positive=True)
    vision_d_ff: int = field(128, "MLP width of the image tower", positive=True)
    text_width: int = field(64, "width of the text tower", positive=True)
    text_layers: int = field(2, "blocks of the text tower", positive=True)
    text_heads: int = field(4, "attention heads of the text tower", positive=True)
    text_d_ff: int = field(128, "MLP width of the text tower", positive=True)
    embed_dim: int = field(64, "size of the shared image-text space", positive=True)
    dropout: float = field(0.0, "dropout in both towers", range=(0.0, 0.95))
    activation: str = field("gelu", "MLP activation (quick_gelu: OpenAI CLIP's)",
                            choices=tuple(ACTIVATIONS))
    ln_eps: float = field(1e-5, "epsilon in every LayerNorm", positive=True)
    logit_scale_init: float = field(2.6592, "initial log temperature (ln(1/0.07), the paper's)")

    def __post_check__(self):
        self.check_patches("clip")

@register_model("clip", config=CLIPConfig, family="transformer", presets={
    "tiny": {"image_size": 8, "patch_size": 4, "vision_width": 32, "vision_layers": 1,
             "vision_heads": 2, "vision_d_ff": 32, "vocab_size": 24, "max_len": 8,
             "text_width": 32, "text_layers": 1, "text_heads": 2, "text_d_ff": 32, "embed_dim": 32},
    "digits": {"patch_size": 2, "vision_layers": 2, "text_layers": 1},
    "mnist": {"patch_size": 4, "vision_layers": 4, "text_layers": 2},
})
class CLIP(nn.Module):
    """Contrastive image-text dual encoder (Radford et al. 2021).

    ``encode_image`` and ``encode_text`` give the projected, unnormalised embeddings (as
    ``transformers.CLIPModel.get_image_features`` / ``get_text_features``); ``forward`` gives the
    image-by-text similarity logits.

    Shapes:
        images (B, C, H, W), tokens (B', T) int64 with an end token in every row
        -> logits (B, B'): row i scores image i against every text.
    """

    task = "contrastive"

    def __init__(self, config: CLIPConfig):
        super().__init__()
        self.config = c = config
        self.visual = ViTEncoder(c.image_size, c.in_channels, c.patch_size, c.vision_width,
                                 c.vision_layers, c.vision_heads, c.vision_d_ff, c.dropout,
                                 c.activation, c.ln_eps, patch_bias=False, pre_norm=True)
        self.token_embedding = Embedding(c.vocab_size, c.text_width)
        self.text_pos = LearnedPositionalEmbedding(c.max_len, c.text_width)
        self.text_blocks = nn.ModuleList(
            EncoderBlock(c.text_width, c.text_heads, c.text_d_ff, c.dropout, c.activation, c.ln_eps)
            for _ in range(c.text_layers))
        self.text_norm = LayerNorm(c.text_width, eps=c.ln_eps)
        self.visual_projection = Linear(c.vision_width, c.embed_dim, bias=False)
        self.text_projection = Linear(c.text_width, c.embed_dim, bias=False)
        self.logit_scale = nn.Parameter(torch.tensor(float(c.logit_scale_init)))
        # N(0, 0.02^2) for Linear and embedding weights (CLIP's text tower; ViT's Linear layers),
        # zero biases, without GPT-2's residual scaling.
        gpt2_init(self)

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, embed_dim): the class token's final state, projected."""
        return self.visual_projection(self.visual(images)[:, 0])

    def encode_text(self, tokens: torch.Tensor) -> torch.Tensor:
        """(B, T) -> (B, embed_dim): the state at each row's first end token, projected.

        Causal attention means tokens after the end token (padding) never reach it."""
        B, T = tokens.shape
        if T > self.config.max_len:
            raise AnnError(f"a text of {T} tokens is longer than the model's context max_len="
                           f"{self.config.max_len}; shorten it")
        is_end = tokens == self.config.eos_id  # (B, T)
        if not bool(is_end.any(1).all()):
            raise AnnError(f"every text must hold the end token (id {self.config.eos_id})")
        x = self.text_pos(self.token_embedding(tokens))  # (B, T, C)
        for block in self.text_blocks:
            x = block(x, causal=True)  # (B, T, C)
        x = self.text_norm(x)
        end = is_end.int().argmax(1)  # (B,) first end token
        return self.text_projection(x[torch.arange(B, device=x.device), end])  # (B, embed_dim)

    def scale(self) -> torch.Tensor:
        """exp(logit_scale), the inverse temperature, clipped at 100 (Radford et al. 2021)."""
        return self.logit_scale.clamp(max=MAX_LOGIT_SCALE).exp()

    def forward(self, images: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        img = F.normalize(self.encode_image(images), dim=-1)  # (B, E)
        txt = F.normalize(self.encode_text(tokens), dim=-1)  # (B', E)
        return self.scale() * img @ txt.t()  # (B, B')

    def example_batch(self, batch_size: int, generator: torch.Generator):
        """A learnable batch ``(images, tokens, labels, prompts)``: random images, and random
        word rows ``bos w1 .. wk eos pad..``; label -1 (no class) and no class prompts."""
        c = self.config
        images = torch.randn(batch_size, c.in_channels, c.image_size, c.image_size,
                             generator=generator)
        # distinct captions: two equal ones could never be told apart, and the contrastive loss
        # of the batch could not approach 0 (the contract test overfits this batch)
        return (images, _random_captions(batch_size, c, generator, distinct=True),
                torch.full((batch_size,), -1, dtype=torch.long),
                torch.zeros(0, c.max_len, dtype=torch.long))


def _random_captions(batch_size: int, c, generator: torch.Generator,
                     distinct: bool = False) -> torch.Tensor:
    """Rows ``bos w1 .. wk eos pad ..`` of random ordinary words (ids above the specials);
    ``distinct``: a row equal to an earlier one is drawn again."""
    low = max(c.pad_id, c.bos_id, c.eos_id) + 1
    if c.vocab_size <= low or c.max_len < 3:
        raise AnnError("example captions need a word id above the specials and max_len >= 3")
    rows = torch.full((batch_size, c.max_len), c.pad_id, dtype=torch.long)
    lengths = torch.randint(1, c.max_len - 1, (batch_size,), generator=generator)
    words = torch.randint(low, c.vocab_size, (batch_size, c.max_len), generator=generator)
    seen = set()
    for i, n in enumerate(lengths.tolist()):
        for _ in range(100):
            row = (c.bos_id, *words[i, :n].tolist(), c.eos_id)
            if not distinct or row not in seen:
                break
            n = int(torch.randint(1, c.max_len - 1, (1,), generator=generator))
            words[i] = torch.randint(low, c.vocab_size, (c.max_len,), generator=generator)
        seen.add(row)
        rows[i, :n + 2] = torch.tensor(row)
    return rows
