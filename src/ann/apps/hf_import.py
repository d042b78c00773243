"""``ann import FOLDER --out RUN``: a Hugging Face model folder (what ``transformers``'
``save_pretrained`` writes, or a download from the Hub) becomes an ordinary ann run directory,
so that ``ann generate``, ``ann fill``, ``ann predict``, ``ann info``, ``ann eval`` and
``ann train RECIPE train.init_from=RUN`` take it like a run ann trained itself.

The run holds ann's ``config.json`` (the recipe the architecture belongs to, with the
checkpoint's sizes), the weights under ann's names (``model.safetensors``), the checkpoint's own
tokenizer (``tokenizer.json``, a :class:`~ann.data.tokenizers.PretrainedTokenizer`: its special
tokens, padding side and chat template kept), the facts of its inputs (``data.json``: the
vocabulary, or an image model's size, normalisation and class names) and ``imported.json``
(where it came from) beside the checkpoint's ``config.json`` as ``hf_config.json``. Reading the
folder needs only ``safetensors``, ``tokenizers`` and JSON; ``transformers`` is not imported.
Nothing is written until the whole folder has been read and checked.
"""

from __future__ import annotations

import json
from pathlib import Path

from .. import config as cfg
from .. import fileio, logs, registry, runs
from .._version import __version__
from ..data.hf_tokenizer import TOKENIZER_FILES, read_tokenizer
from ..errors import AnnError
from ..models.transformer.hf_folder import architecture, convert, read_config
from ..runner import build_config
from ..train import checkpoint


def _check_out(out) -> None:
    if out is None:
        return
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise AnnError(f"--out {path} is a file, not a folder; choose another --out")
    if (path / "config.json").exists():
        raise AnnError(f"--out {path} already holds a run; choose another --out")


def _mlm_ids(tok, vocab_rows: int) -> dict:
    """BERT's ``mask_id`` and ``n_special`` (ids below it are never masked nor drawn as random
    replacements) from the tokenizer: Google's vocabularies keep [unused] tokens below [MASK]."""
    if tok is None or tok.special_id("mask") is None:
        return {}
    mask = tok.special_id("mask")
    n_special = max(tok.special_ids) + 1
    if not mask < n_special < vocab_rows:      # specials not first: mask what follows [MASK]
        n_special = mask + 1
    return {"mask_id": mask, "n_special": n_special} if n_special < vocab_rows else {}


def _image_facts(folder: Path, hf_config: dict, model) -> dict:
    """How images are prepared for an image model, from ``preprocessor_config.json`` (the
    defaults of ``ViTImageProcessor`` where it is absent): ann's ``scale``, ``mean``, ``std``."""
    file = folder / "preprocessor_config.json"
    pre = runs.read_json(file, "the image preprocessing") if file.is_file() else {}
    c = model.config
    rescale = pre.get("rescale_factor", 1 / 255) if pre.get("do_rescale", True) else 1.0
    mean, std = pre.get("image_mean", [0.5] * c.in_channels), pre.get("image_std", [0.5] * c.in_channels)
    if not pre.get("do_normalize", True):
        mean, std = [0.0] * c.in_channels, [1.0] * c.in_channels
    facts = {"in_channels": c.in_channels, "image_size": c.image_size, "scale": 1 / rescale,
             "mean": mean, "std": std, "fit_images": True}
    if cfg.value(c, "num_classes") is not None:           # a classifier: its labels
        labels = hf_config.get("id2label") or {}
        facts["num_classes"] = c.num_classes
        facts["classes"] = [labels.get(str(i), str(i)) for i in range(c.num_classes)]
    else:                                                 # CLIP: the labels come with --labels
        facts["classes"] = []
    return facts


def _text_facts(tok, hf_config: dict, model) -> dict:
    facts = {"vocab_size": model.config.vocab_size, "tokenizer_kind": "pretrained",
             "prefixes": [], "fill_examples": []}      # none of the recipe's own data
    labels = hf_config.get("id2label")
    if labels and cfg.value(model.config, "num_classes") is not None:
        facts["classes"] = [labels.get(str(i), str(i)) for i in range(model.config.num_classes)]
        facts["num_classes"] = model.config.num_classes
    return facts


def import_folder(folder, out=None, quiet: bool = False) -> Path:
    """Turn the Hugging Face folder ``folder`` into an ann run directory (``out``, or
    ``runs/import-MODEL_TYPE-DATE-TIME``); returns its path."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise AnnError(f"{folder} is not a folder; give the folder that holds the checkpoint's "
                       "config.json and weights")
    _check_out(out)
    model_type, _, _ = architecture(read_config(folder))        # an unknown architecture: first
    tok = read_tokenizer(folder)
    rows = read_config(folder).get("vocab_size")
    extra = _mlm_ids(tok, rows) if isinstance(rows, int) else {}
    if tok is not None and tok.special_id("eos") is not None:
        extra["eos_id"] = tok.special_id("eos")
    imported = convert(folder, extra)
    model, hf_config = imported.model, imported.hf_config
    text = cfg.value(model.config, "vocab_size") is not None
    if text and tok is None:
        raise AnnError(f"{folder} holds no tokenizer ({', '.join(TOKENIZER_FILES)}), which a "
                       f"{imported.hf_class} needs to read text; save the tokenizer into the "
                       "folder with its save_pretrained")
    if text and tok.vocab_size > model.config.vocab_size:
        raise AnnError(f"the tokenizer in {folder} has {tok.vocab_size} tokens but the model's "
                       f"embedding has {model.config.vocab_size} rows; the tokenizer and the "
                       "weights do not belong together")
    rc = build_config(imported.recipe)
    if type(rc.model) is not type(model.config):
        raise AnnError(f"recipe {imported.recipe} builds a {type(rc.model).__name__}, not the "
                       f"imported {type(model.config).__name__}")   # a wrong ARCHITECTURES entry
    rc.model = model.config
    cfg.validate(rc)
    facts = _text_facts(tok, hf_config, model) if text else {}
    if cfg.value(model.config, "in_channels") is not None:
        facts.update(_image_facts(folder, hf_config, model))
    info = {**registry.dataset_entry(rc.data.name).info, **facts,
            "description": f"{imported.hf_class} imported from {folder}", "source": str(folder)}
    n_params = sum(p.numel() for p in model.parameters())
    run_dir = runs.new_run_dir(f"import-{model_type}", out)
    checkpoint.save_weights(model, run_dir / "model.safetensors")
    if tok is not None:
        tok.save(run_dir / "tokenizer.json")
    fileio.write_json(run_dir / "data.json", runs.data_facts(info))
    fileio.write_text(run_dir / "hf_config.json", json.dumps(hf_config, indent=2) + "\n")
    fileio.write_json(run_dir / "imported.json", {
        "from": str(folder.resolve()), "model_type": model_type, "hf_class": imported.hf_class,
        "transformers_version": hf_config.get("transformers_version"), "parameters": n_params,
        "ann": __version__})
    if tok is not None:     # `ann eval` reads the recipe's text with the checkpoint's tokenizer
        rc.data.tokenizer = str((run_dir / "tokenizer.json").resolve())
    fileio.write_json(run_dir / "config.json", rc.to_dict())   # last: now it is a run
    runs.release_run(run_dir)                  # held by new_run_dir while it was written
    if not quiet:
        logs.info(f"ann: imported {imported.hf_class} ({n_params:,} parameters"
                  f"{f', {tok.vocab_size:,}-token tokenizer' if tok is not None else ''}) into "
                  f"{run_dir}", __name__)
    return run_dir
