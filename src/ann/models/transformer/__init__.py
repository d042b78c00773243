"""The Transformer family; importing it registers its models (see ann.registry)."""

from .gpt import GPT, GPTConfig
from .hf import from_hf, from_hf_gpt2, from_hf_pretrained

__all__ = ["GPT", "GPTConfig", "from_hf", "from_hf_gpt2", "from_hf_pretrained"]
