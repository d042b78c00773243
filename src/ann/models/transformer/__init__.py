"""The Transformer family; importing it registers its models (see ann.registry)."""

from .bert import (
    BertClassifier,
    BertClassifierConfig,
    BertConfig,
    BertMLM,
    BertMLMConfig,
    BertSpanQA,
    BertTagger,
    BertTaggerConfig,
)
from .gpt import GPT, GPTConfig
from .hf import from_hf, from_hf_bert, from_hf_gpt2, from_hf_pretrained
from .hf_t5 import from_hf_t5
from .seq2seq import Transformer, TransformerConfig
from .t5 import T5, T5Config, T5SpanCorruption

__all__ = ["BertClassifier", "BertClassifierConfig", "BertConfig", "BertMLM", "BertMLMConfig",
           "GPT", "GPTConfig", "Transformer", "TransformerConfig", "from_hf", "from_hf_bert", "from_hf_gpt2",
           "from_hf_pretrained"]
__all__ += ["BertSpanQA", "BertTagger", "BertTaggerConfig"]
__all__ += ["T5", "T5Config", "T5SpanCorruption", "from_hf_t5"]

# Vision Transformer, CLIP and the image captioner (issue 4); hf_vision adds their converters.
from .captioner import Captioner, CaptionerConfig  # noqa: E402
from .clip import CLIP, CLIPConfig  # noqa: E402
from .hf_vision import from_hf_clip, from_hf_vit  # noqa: E402
from .vit import ViT, ViTConfig  # noqa: E402

__all__ += ["CLIP", "CLIPConfig", "Captioner", "CaptionerConfig", "ViT", "ViTConfig",
            "from_hf_clip", "from_hf_vit"]

# Llama (issue 24); hf_llama converts it both ways, hf_bert_heads adds BERT's token and span heads.
from .hf_bert_heads import from_hf_bert_head  # noqa: E402
from .hf_llama import from_hf_llama, llama_from_hf_state, llama_weights, to_hf_llama_state  # noqa: E402
from .llama import Llama, LlamaConfig  # noqa: E402

__all__ += ["Llama", "LlamaConfig", "from_hf_bert_head", "from_hf_llama", "llama_from_hf_state",
            "llama_weights", "to_hf_llama_state"]
