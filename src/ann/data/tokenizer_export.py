"""ann's tokenizers as Hugging Face ``tokenizers.Tokenizer`` JSON, so that a run exported with
``ann export RUN --format hf`` reads text with ``transformers.AutoTokenizer`` exactly as ann did.

:func:`to_hf_tokenizer` gives the ``tokenizer.json`` text and the special tokens by role. The
character, word, byte-level BPE, WordPiece and pretrained (imported) kinds export; the regex
kind (Python's regular expressions, which the Rust library does not share) and the source/target
pair of translation models do not.
"""

from __future__ import annotations

from ..errors import AnnError
from .tokenizers import (
    BPETokenizer,
    CharTokenizer,
    PretrainedTokenizer,
    Tokenizer,
    WordPieceTokenizer,
    WordTokenizer,
    _hf,
)

EXPORTED_KINDS = ("char", "word", "bpe", "wordpiece", "pretrained")
_ROLES = {"[UNK]": "unk", "[PAD]": "pad", "[CLS]": "cls", "[SEP]": "sep", "[MASK]": "mask",
          "<pad>": "pad", "</s>": "eos", "<s>": "bos", "<unk>": "unk"}


def _char(tok: CharTokenizer) -> str:
    hf = _hf()
    out = hf.Tokenizer(hf.models.WordLevel({c: i for i, c in enumerate(tok.chars)},
                                           unk_token=None))
    # every character its own token, whitespace and newlines included
    out.pre_tokenizer = hf.pre_tokenizers.Split(hf.Regex(r"[\s\S]"), behavior="isolated")
    out.decoder = hf.decoders.Fuse()
    return out.to_str()


def _word(tok: WordTokenizer) -> str:
    hf = _hf()
    out = hf.Tokenizer(hf.models.WordLevel({w: i for i, w in enumerate(tok.words)},
                                           unk_token=tok.unk))
    if tok.eos is not None:     # a newline is the eos word
        out.normalizer = hf.normalizers.Replace("\n", f" {tok.eos} ")
    out.pre_tokenizer = hf.pre_tokenizers.WhitespaceSplit()
    out.add_special_tokens([t for t in (tok.unk, tok.eos) if t is not None])
    return out.to_str()


def _bert_template(tok: WordPieceTokenizer) -> str:
    """ann's WordPiece with BERT's ``[CLS] A [SEP]`` (``[CLS] A [SEP] B [SEP]`` for pairs), or
    T5's ``A </s>``, added by ``transformers`` as ann's BERT and T5 tasks add them (ann's own
    ``encode`` adds none)."""
    hf = _hf()
    out = hf.Tokenizer.from_str(tok._json)
    if "</s>" in tok.specials and "[CLS]" not in tok.specials:
        out.post_processor = hf.processors.TemplateProcessing(
            single="$A </s>", pair="$A </s> $B:1 </s>:1",
            special_tokens=[("</s>", tok.token_to_id("</s>"))])
        return out.to_str()
    if not {"[CLS]", "[SEP]"} <= set(tok.specials):
        return tok._json
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    out.post_processor = hf.processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    return out.to_str()


def to_hf_tokenizer(tok: Tokenizer) -> tuple[str, dict]:
    """``(tokenizer.json text, {role: token})`` of an ann tokenizer, or AnnError naming the kinds
    that export."""
    if isinstance(tok, PretrainedTokenizer):
        return tok._json, dict(tok.specials)
    if isinstance(tok, WordPieceTokenizer):
        return _bert_template(tok), {_ROLES[t]: t for t in tok.specials if t in _ROLES}
    if isinstance(tok, BPETokenizer):
        return tok._json, {}
    if isinstance(tok, CharTokenizer):
        return _char(tok), {}
    if isinstance(tok, WordTokenizer):
        roles = {"unk": tok.unk, "eos": tok.eos}
        return _word(tok), {k: v for k, v in roles.items() if v is not None}
    raise AnnError(f"a {tok.kind!r} tokenizer cannot be written as a Hugging Face tokenizer; "
                   f"the kinds that can: {', '.join(EXPORTED_KINDS)}")
