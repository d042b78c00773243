"""Export a trained model to ONNX (``ann export RUN_DIR --format onnx``), for onnxruntime and the
other runtimes that read it.

Which models export, and with which inputs, is decided here in one place:

* a model class may say it itself: ``onnx_export = False`` refuses, and a method
  ``onnx_inputs(self) -> tuple[Tensor, ...]`` opts in with example inputs of its ``forward``;
* otherwise ``EXPORTS`` below lists the registered models that fit and how to make their example
  inputs (the model's own ``example_batch``). Everything else fails with one line.

What is exported is the model's ``forward`` in eval mode, the batch dimension of every input and
output left free (except where ``FIXED_BATCH`` says the model's forward fixes it), and the time
dimension too for the models that read sequences of any length (``SEQUENCE_AXES``). A GAN exports
its generator (noise, and a label for a conditional one, to images in [-1, 1]); GPT, Llama and
the recurrent language model export their full-sequence forward (logits for every position),
without a key-value cache or carried state. The file is written atomically.

``--format hf`` writes a Hugging Face model folder instead (:mod:`ann.apps.hf_export`).

Needs the ``export`` extra: ``pip install onnx onnxruntime onnxscript``.
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from .. import fileio
from ..errors import AnnError


def _first(model: nn.Module) -> tuple:
    """The input part of the model's own example batch (B = 2)."""
    return (model.example_batch(2, torch.Generator().manual_seed(0))[0],)


def _generator(model: nn.Module) -> tuple:
    """A GAN's generator inputs: noise (B, z_dim) (an InfoGAN's one-hot code after it), and the
    labels (B,) when conditional."""
    z = model.noise(2, torch.Generator().manual_seed(0), torch.device("cpu"))
    return (z, torch.tensor([0, 1])) if model.conditional else (z,)


# registered model name -> example inputs of its forward
EXPORTS: dict[str, Callable[[nn.Module], tuple]] = {
    "mlp": _first, "cnn": _first, "lenet": _first,              # image classifiers
    "vit": _first,
    "fcn": _first, "unet": _first, "detector": _first,          # dense conv outputs
    "gpt": _first, "bert": _first, "bert-classifier": _first,   # transformers (token ids)
    "llama": _first,
    "rnn-lm": _first, "rnn-classifier": _first,                 # RNN / LSTM / GRU
    "ae": _first, "conv-ae": _first, "dae": _first, "vae": _first,
    "dcgan": _generator, "cgan": _generator,
    "tdnn": _first, "tdnn-xvector": _first,
}
# Models whose forward reads the batch size as a Python number (``view(len(z), ...)``), which
# tracing records as a constant: their graph takes exactly the batch size it was exported with.
FIXED_BATCH: dict[str, int] = {}
# Models that read sequences of any length: (time axis of the input, of the output or None).
# GPT, Llama and BERT take at most their block_size / max_len tokens.
SEQUENCE_AXES = {"gpt": (1, 1), "bert": (1, 1), "bert-classifier": (1, None), "rnn-lm": (1, 1),
                 "tdnn": (2, None), "tdnn-xvector": (2, None)}
SEQUENCE_AXES["llama"] = (1, 1)


def _free_axes(name: str, input_names: list[str]) -> dict:
    """The dynamic axes of the exported graph: batch everywhere, time where the model reads
    sequences of any length."""
    if name in FIXED_BATCH:
        return {}
    t_in, t_out = SEQUENCE_AXES.get(name, (None, None))
    axes = {n: {0: "batch", **({t_in: "time"} if t_in else {})} for n in input_names}
    axes["output"] = {0: "batch", **({t_out: "time"} if t_out else {})}
    return axes


def export_inputs(model: nn.Module) -> tuple:
    """Example inputs for ``model.forward``, or AnnError saying the model does not export."""
    name = getattr(model, "registry_name", type(model).__name__)
    if getattr(model, "onnx_export", True) is False:
        raise AnnError(f"model {name!r} cannot be exported to ONNX (it says so: onnx_export = "
                       "False)")
    if hasattr(model, "onnx_inputs"):
        return tuple(model.onnx_inputs())
    if name not in EXPORTS:
        raise AnnError(f"model {name!r} cannot be exported to ONNX; exportable models: "
                       f"{', '.join(sorted(EXPORTS))}")
    inputs = EXPORTS[name](model)
    batch = FIXED_BATCH.get(name)
    return tuple(t[:batch] for t in inputs) if batch else inputs


def to_onnx_bytes(model: nn.Module, inputs: tuple | None = None) -> bytes:
    """The ONNX model (opset 17) of ``model.forward`` in eval mode, as bytes."""
    try:
        import onnx  # noqa: F401  (the exporter needs it)
    except ImportError:
        raise AnnError("ONNX export needs the onnx package: pip install onnx onnxruntime "
                       "onnxscript (or the export extra)") from None
    inputs = export_inputs(model) if inputs is None else inputs
    name = getattr(model, "registry_name", "")
    names = [f"input{i}" if len(inputs) > 1 else "input" for i in range(len(inputs))]
    free = _free_axes(name, names)
    was_training = model.training
    model.eval()
    buffer = io.BytesIO()
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")     # tracer warnings about shape checks in forward
            # The TorchScript exporter: fast, and exact for these models (the tests compare
            # every exported model with PyTorch through onnxruntime).
            torch.onnx.export(model, inputs, buffer, dynamo=False, opset_version=17,
                              input_names=names, output_names=["output"], dynamic_axes=free)
    finally:
        model.train(was_training)
    return buffer.getvalue()


# Facts of a run's data a consumer of the ONNX file needs to prepare inputs and read outputs, as
# data.json records them, and the metadata key each goes under (values JSON-encoded).
DATA_FACTS = {"classes": "classes", "scale": "input_scale", "mean": "input_mean",
              "std": "input_std", "image_size": "image_size", "in_channels": "in_channels",
              "input_shape": "input_shape", "feature_names": "feature_names",
              "vocab_size": "vocab_size", "max_len": "max_len", "pad_id": "pad_id",
              "bos_id": "bos_id", "eos_id": "eos_id", "unk_id": "unk_id"}


def run_metadata(run) -> dict[str, str]:
    """The ``metadata_props`` of a run's ONNX file: what made it (ann version, recipe, model,
    task, dataset) and how its inputs are prepared: class names, input scale, mean and std
    (``input = (raw / input_scale - input_mean) / input_std``, per channel), image size, and
    the tokenizer's kind and special ids. Values are JSON text; a fact the run lacks is left
    out."""
    import json

    from .._version import __version__
    from ..runs import read_json

    info = read_json(run.path / "data.json", "the facts of the run's data") \
        if (run.path / "data.json").is_file() else {}
    meta = {"producer": "ann", "ann_version": __version__, "recipe": run.config.recipe,
            "model": run.config.model_name, "task": run.task.name, "dataset": run.config.data.name}
    for fact, key in DATA_FACTS.items():
        if fact in info:
            meta[key] = json.dumps(info[fact])
    if "mean" in info and "scale" in info:
        meta["preprocessing"] = "input = (raw / input_scale - input_mean) / input_std"
    tok_file = run.path / "tokenizer.json"
    if tok_file.is_file():
        tok = run.tokenizer
        meta["tokenizer"] = tok.kind
        meta["tokenizer_vocab_size"] = json.dumps(tok.vocab_size)
        meta["tokenizer_file"] = "tokenizer.json of the run (ann.data.tokenizers.load_tokenizer)"
    return meta


def with_metadata(data: bytes, props: dict[str, str]) -> bytes:
    """ONNX bytes with ``props`` as the model's ``metadata_props``."""
    import onnx

    model = onnx.load_from_string(data)
    onnx.helper.set_model_props(model, {k: str(v) for k, v in props.items()})
    return model.SerializeToString()


def describe_inputs(model: nn.Module, inputs: tuple) -> str:
    """The exported graph's inputs, e.g. ``input int64 (batch, 16)``."""
    names = [f"input{i}" if len(inputs) > 1 else "input" for i in range(len(inputs))]
    axes = _free_axes(getattr(model, "registry_name", ""), names)

    def dims(n, t):
        return ", ".join(axes.get(n, {}).get(i, str(d)) for i, d in enumerate(t.shape))

    return ", ".join(f"{n} {str(t.dtype).removeprefix('torch.')} ({dims(n, t)})"
                     for n, t in zip(names, inputs))


def check_out(path: Path) -> None:
    """One line for an ``--out`` that cannot take the exported file: empty, a folder, or a file
    of a run directory (its config, weights or checkpoints are never replaced; a new file name
    there, or an earlier export ``*.onnx``, is fine)."""
    if not str(path).strip():
        raise AnnError("--out is empty; give the file to write, e.g. --out model.onnx")
    if path.is_dir():
        raise AnnError(f"--out {path} is a folder; give a file name, e.g. --out {path / 'model.onnx'}")
    for folder in Path(os.path.abspath(path)).parents:
        if (folder / "config.json").is_file():        # inside a run directory
            inside = Path(os.path.abspath(path)).relative_to(folder)
            if inside.parts[0] == "checkpoints" or (path.exists() and path.suffix != ".onnx"):
                raise AnnError(f"--out {path} is a file of the run in {folder}; ann never "
                               "replaces a run's config, weights or checkpoints: give a new file "
                               "name, e.g. --out model.onnx")
            break


def export_run(run_dir, fmt: str = "onnx", out=None) -> tuple[Path, str]:
    """Export the model of a trained run; writes ``out`` (default RUN_DIR/model.onnx) and
    returns its path and a description of the graph's inputs. ``fmt="hf"`` writes the Hugging
    Face folder ``out`` instead (see :mod:`.hf_export`)."""
    from .. import api

    if fmt == "hf":
        from .hf_export import export_hf

        path = export_hf(run_dir, out)
        return path, "a Hugging Face folder: from_pretrained reads it"
    if fmt != "onnx":
        raise AnnError(f"unknown export format {fmt!r}; choose from: onnx, hf")
    path = Path(out) if out is not None else Path(run_dir) / "model.onnx"
    check_out(path)
    run = api.load(run_dir)
    inputs = export_inputs(run.model)
    data = with_metadata(to_onnx_bytes(run.model, inputs), run_metadata(run))
    fileio.write_bytes(path, data)
    return path, describe_inputs(run.model, inputs)
