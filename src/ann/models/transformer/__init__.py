"""The Transformer family; importing it registers its models (see ann.registry)."""

from .bert import BertClassifier, BertClassifierConfig, BertConfig, BertMLM, BertMLMConfig
from .gpt import GPT, GPTConfig
from .hf import from_hf, from_hf_bert, from_hf_gpt2, from_hf_pretrained
from .seq2seq import Transformer, TransformerConfig

__all__ = ["BertClassifier", "BertClassifierConfig", "BertConfig", "BertMLM", "BertMLMConfig",
           "GPT", "GPTConfig", "Transformer", "TransformerConfig", "from_hf", "from_hf_bert", "from_hf_gpt2",
           "from_hf_pretrained"]
