"""A Hugging Face checkpoint's own tokenizer, read from its folder without ``transformers``, as an
ann :class:`~ann.data.tokenizers.PretrainedTokenizer` (what ``ann import`` keeps in the run).

Read, first found first: ``tokenizer.json`` (any model the ``tokenizers`` library describes:
byte-level BPE, WordPiece, Unigram); ``vocab.txt`` (BERT's WordPiece, lowercased as
``tokenizer_config.json``'s ``do_lower_case`` says); ``vocab.json`` + ``merges.txt`` (GPT-2's
byte-level BPE); ``spiece.model`` (SentencePiece, converted by ``transformers`` when it is
installed). ``tokenizer_config.json`` and ``special_tokens_map.json`` give the special tokens by
role, the padding side, the chat template (or ``chat_template.jinja``) and the longest input.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import AnnError
from .tokenizers import SPECIAL_ROLES, PretrainedTokenizer, _hf

TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "vocab.json", "spiece.model")


def _json(file: Path) -> dict:
    if not file.is_file():
        return {}
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise AnnError(f"{file} is not valid JSON ({e})") from None
    return data if isinstance(data, dict) else {}


def _token(value) -> str | None:
    """A special token as the config files write it: a string or ``{"content": ...}``."""
    if isinstance(value, dict):
        value = value.get("content")
    return value if isinstance(value, str) else None


def _wordpiece(folder: Path, conf: dict) -> str:
    hf = _hf()
    vocab = {}
    for i, line in enumerate((folder / "vocab.txt").read_text(encoding="utf-8").splitlines()):
        vocab.setdefault(line.rstrip("\n"), i)
    unk = _token(conf.get("unk_token")) or "[UNK]"
    tok = hf.Tokenizer(hf.models.WordPiece(vocab, unk_token=unk))
    tok.normalizer = hf.normalizers.BertNormalizer(lowercase=bool(conf.get("do_lower_case", True)))
    tok.pre_tokenizer = hf.pre_tokenizers.BertPreTokenizer()
    tok.decoder = hf.decoders.WordPiece()
    return tok.to_str()


def _byte_bpe(folder: Path, conf: dict) -> str:
    hf = _hf()
    merges = folder / "merges.txt"
    if not merges.is_file():
        raise AnnError(f"{folder} holds vocab.json but not merges.txt; a byte-level BPE "
                       "tokenizer needs both (or give tokenizer.json)")
    model = hf.models.BPE.from_file(str(folder / "vocab.json"), str(merges))
    tok = hf.Tokenizer(model)
    tok.pre_tokenizer = hf.pre_tokenizers.ByteLevel(
        add_prefix_space=bool(conf.get("add_prefix_space", False)))
    tok.decoder = hf.decoders.ByteLevel()
    return tok.to_str()


def _sentencepiece(folder: Path) -> str:
    try:
        from transformers import AutoTokenizer
    except ImportError:
        raise AnnError(f"{folder} has only a SentencePiece spiece.model, which ann reads through "
                       "transformers (pip install transformers sentencepiece); or save the "
                       "tokenizer with a fast tokenizer's save_pretrained, which writes "
                       "tokenizer.json") from None
    try:
        return AutoTokenizer.from_pretrained(str(folder)).backend_tokenizer.to_str()
    except Exception as e:  # a missing sentencepiece/protobuf or a damaged model file
        raise AnnError(f"cannot convert {folder}/spiece.model ({type(e).__name__}: "
                       f"{str(e).splitlines()[0] if str(e) else ''}); save tokenizer.json with a "
                       "fast tokenizer") from None


def read_tokenizer(folder) -> PretrainedTokenizer | None:
    """The tokenizer of a Hugging Face folder, or ``None`` when it has none (an image model)."""
    folder = Path(folder)
    conf = _json(folder / "tokenizer_config.json")
    special_map = _json(folder / "special_tokens_map.json")
    if (folder / "tokenizer.json").is_file():
        text = (folder / "tokenizer.json").read_text(encoding="utf-8")
    elif (folder / "vocab.txt").is_file():
        text = _wordpiece(folder, conf)
    elif (folder / "vocab.json").is_file():
        text = _byte_bpe(folder, conf)
    elif (folder / "spiece.model").is_file():
        text = _sentencepiece(folder)
    else:
        return None
    hf = _hf()
    try:
        tok = hf.Tokenizer.from_str(text)
    except Exception as e:  # the library's own parse error
        raise AnnError(f"the tokenizer in {folder} cannot be read by the tokenizers library "
                       f"({str(e).splitlines()[0] if str(e) else type(e).__name__})") from None
    specials = {}
    for role in SPECIAL_ROLES:
        token = _token(conf.get(f"{role}_token")) or _token(special_map.get(f"{role}_token"))
        if token is not None:
            specials[role] = token
    # the special tokens the config files name are matched whole in text ("the [MASK] sat"):
    # those in the vocabulary keep their ids, others are appended (the embedding check in
    # ann.apps.hf_import then says whether the model has rows for them)
    tok.add_special_tokens(list(dict.fromkeys(specials.values())))
    template = conf.get("chat_template")
    if template is None and (folder / "chat_template.jinja").is_file():
        template = (folder / "chat_template.jinja").read_text(encoding="utf-8")
    longest = conf.get("model_max_length")
    longest = longest if isinstance(longest, int) and longest < 10**9 else None
    side = conf.get("padding_side", "right")
    return PretrainedTokenizer(tok.to_str(), specials, side if side in ("left", "right") else "right",
                               template if isinstance(template, str) else None, longest)
