"""``ann export RUN --format hf --out FOLDER``: an ann run (trained by ann's recipes, or imported
with ``ann import``) becomes a Hugging Face model folder, what ``save_pretrained`` writes:
``config.json``, ``model.safetensors`` and, for text models, ``tokenizer.json``,
``tokenizer_config.json`` and ``special_tokens_map.json`` (an image model gets
``preprocessor_config.json`` instead). ``transformers.AutoModelFor...from_pretrained(FOLDER)``
and ``AutoTokenizer.from_pretrained(FOLDER)`` load it and compute ann's logits.

GPT (as ``GPT2LMHeadModel``), BERT (``BertForMaskedLM``, ``BertForSequenceClassification``),
T5, ViT and Llama export; a model setting Hugging Face lacks is refused in one line naming it.
``FOLDER`` must be new or empty and outside every run directory; the files are written into a
temporary folder beside it, which becomes ``FOLDER`` only when all of them are complete.
Writing needs ``safetensors`` and ``tokenizers`` only; ``transformers`` is not imported.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from .. import fileio, runs
from ..config import value
from ..data.tokenizer_export import to_hf_tokenizer
from ..errors import AnnError
from ..models.transformer.hf_export import to_hf_state

_TOKEN_KEYS = {"bos": "bos_token", "eos": "eos_token", "unk": "unk_token", "pad": "pad_token",
               "cls": "cls_token", "sep": "sep_token", "mask": "mask_token"}


def _is_run(path: Path) -> bool:
    file = path / "config.json"
    if not file.is_file():
        return False
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (ValueError, OSError, UnicodeDecodeError):
        return False
    return isinstance(data, dict) and "recipe" in data and "model_name" in data


def check_out(out, run_dir) -> Path:
    """``out`` as a new or empty folder outside every run directory, or one line saying why not."""
    if out is None:
        raise AnnError("--format hf writes a folder: give it with --out FOLDER (new or empty)")
    path = Path(out).expanduser()
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise AnnError(f"--out {path} is not empty; give a new or empty folder")
    here = path.resolve()
    run = Path(run_dir).resolve()
    for folder in (here, *here.parents):
        if folder == run or _is_run(folder):
            raise AnnError(f"--out {path} is inside the run directory {folder}; give a folder "
                           "outside every run")
    return path


def _text_files(run, hf_config: dict, tmp: Path) -> None:
    tok_json, specials = to_hf_tokenizer(run.tokenizer)
    fileio.write_text(tmp / "tokenizer.json", tok_json)
    tokens = {_TOKEN_KEYS[r]: t for r, t in specials.items() if r in _TOKEN_KEYS}
    tok = run.tokenizer
    longest = (value(run.model.config, "block_size") or value(run.model.config, "max_len")
               or getattr(tok, "model_max_length", None))
    fileio.write_json(tmp / "tokenizer_config.json", {
        "tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": longest,
        "padding_side": getattr(tok, "padding_side", "right"),
        "clean_up_tokenization_spaces": False,
        **({"chat_template": tok.chat_template} if getattr(tok, "chat_template", None) else {}),
        **tokens})
    fileio.write_json(tmp / "special_tokens_map.json", tokens)
    # the model's config names its special ids too (generate stops at eos, pads with pad)
    ids = {f"{r}_token_id": tok._tok.token_to_id(t) for r, t in specials.items()
           if r in ("bos", "eos", "pad")}
    hf_config.update({k: v for k, v in ids.items() if v is not None and hf_config.get(k) is None})


def _labels(run, hf_config: dict) -> None:
    classes = run.info.get("classes")
    n = hf_config.get("num_labels")
    if n and isinstance(classes, list) and len(classes) == n:
        hf_config["id2label"] = {str(i): str(c) for i, c in enumerate(classes)}
        hf_config["label2id"] = {str(c): i for i, c in enumerate(classes)}
        if len(hf_config["label2id"]) != n:        # repeated names: keep HF's own labels
            hf_config["label2id"] = {f"LABEL_{i}": i for i in range(n)}


def _image_files(run, tmp: Path) -> None:
    # ann reads an image file's pixels p (0..255) as p / 255 of its raw range, then standardises
    # with the dataset's mean and std (one number, or one per channel): as ViTImageProcessor does
    c, info = run.model.config, run.info

    def channels(v, default):
        v = default if v is None else v
        return [float(x) for x in v] if isinstance(v, list | tuple) else [float(v)] * c.in_channels

    mean, std = channels(info.get("mean"), 0.0), channels(info.get("std"), 1.0)
    fileio.write_json(tmp / "preprocessor_config.json", {
        "image_processor_type": "ViTImageProcessor", "do_resize": True,
        "size": {"height": c.image_size, "width": c.image_size}, "resample": 2,
        "do_rescale": True, "rescale_factor": 1 / 255, "do_normalize": True,
        "image_mean": mean, "image_std": std})


def export_hf(run_dir, out) -> Path:
    """Write the Hugging Face folder of the run ``run_dir`` to ``out``; returns its path."""
    from safetensors.torch import save_file

    from .. import api

    runs.check_run_dir(run_dir)
    out = check_out(out, run_dir)
    run = api.load(run_dir)
    hf_config, state = to_hf_state(run.model)       # refuses settings HF lacks, before writing
    text = value(run.model.config, "vocab_size") is not None
    if text and not (Path(run_dir) / "tokenizer.json").is_file():
        raise AnnError(f"{run_dir} holds no tokenizer.json, which a text model's Hugging Face "
                       "folder needs; train the run with ann so that it saves its tokenizer")
    _labels(run, hf_config)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        if text:
            _text_files(run, hf_config, tmp)
        elif value(run.model.config, "in_channels") is not None:
            _image_files(run, tmp)
        save_file(state, str(tmp / "model.safetensors"), metadata={"format": "pt"})
        fileio.write_text(tmp / "config.json", json.dumps(hf_config, indent=2) + "\n")
        if out.exists():
            out.rmdir()                 # empty, checked above
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out
