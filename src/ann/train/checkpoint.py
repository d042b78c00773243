"""Checkpoints that survive a kill at any moment.

Layout inside a run directory::

    checkpoints/step-00000500/model.safetensors   weights (safetensors: no code is ever unpickled)
    checkpoints/step-00000500/state.pt            optimizer, schedule, RNG, step (weights_only load)
    checkpoints/latest.json                       {"last": "step-00000500", "best": "step-00000400"}

A checkpoint is written into a hidden temporary folder, fsync'd, and renamed into place; only then
does ``latest.json`` (itself replaced atomically) point at it, and only then are older folders
removed. A kill before the pointer moves leaves the previous checkpoint as the one that loads.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import re
import shutil
import warnings
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .. import fileio
from ..errors import CorruptFile

POINTER = "latest.json"
_NAME = re.compile(r"step-[0-9]{8}")      # the only names a pointer may hold: no path at all


def _save_weights(model: torch.nn.Module, path: Path):
    # safetensors refuses tensors that share memory (tied weights); store contiguous copies.
    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in model.state_dict().items()}
    save_file(tensors, str(path))


def digest_path(weights) -> Path:
    """The checksum file beside a weights file: ``model.safetensors.sha256``, in the format
    ``sha256sum -c`` reads."""
    weights = Path(weights)
    return weights.with_name(weights.name + ".sha256")


def sha256_of(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _digest_line(weights: Path, data_file: Path) -> str:
    return f"{sha256_of(data_file)}  {weights.name}\n"


def save_weights(model: torch.nn.Module, path):
    """Write ``model``'s weights to ``path`` as safetensors, atomically, and their sha256 beside
    them (:func:`digest_path`)."""
    path = Path(path)
    with fileio.atomic_path(path) as tmp:
        _save_weights(model, tmp)
        line = _digest_line(path, tmp)
    fileio.write_text(digest_path(path), line)


def verifying() -> bool:
    """Whether weights are checked against their recorded sha256 on load (``ANN_NO_VERIFY=1``,
    or the command line's ``--no-verify``, turns it off for weights edited on purpose)."""
    return os.environ.get("ANN_NO_VERIFY", "") in ("", "0")


def _verify(path: Path):
    recorded = digest_path(path)
    if not recorded.exists() or not verifying():    # runs written before checksums load as before
        return
    try:
        want = recorded.read_text(encoding="utf-8").split()[0].lower()
    except (OSError, ValueError, IndexError):
        want = ""
    if sha256_of(path) != want:
        raise CorruptFile(f"weights file {path} does not match its recorded sha256 ({recorded.name}):"
                          " it was damaged or changed; restore it, or pass --no-verify to load "
                          "weights you edited on purpose")


def _check_finite(path: Path, tensors: dict, buffers: set):
    for key, value in tensors.items():
        if not value.is_floating_point():
            continue
        # parameters are never inf or NaN; a buffer may hold -inf (an attention mask), never NaN
        bad = value.isnan().any() if key in buffers else (~value.isfinite()).any()
        if bad:
            raise CorruptFile(f"weights file {path} holds non-finite values in {key!r}: the run "
                              "diverged or the file was damaged; resume from an earlier "
                              "checkpoint or train again")


def load_weights(model: torch.nn.Module, path, device="cpu"):
    """Load safetensors weights into ``model``; a damaged file (unreadable, not matching its
    recorded sha256, holding NaN or infinite parameters) raises CorruptFile."""
    path = Path(path)
    _verify(path)
    try:
        tensors = load_file(str(path), device=str(device))
    except (SafetensorError, OSError, ValueError) as e:
        raise CorruptFile(f"weights file {path} cannot be read ({_short(e)}); it is damaged or not "
                          "a safetensors file: delete it and resume from an earlier checkpoint") from None
    _check_finite(path, tensors, {name for name, _ in model.named_buffers()})
    size_placeholders(model, tensors)
    own = model.state_dict()
    for key, t in tensors.items():      # sizes that disagree: config.json and weights differ
        if key in own and tuple(own[key].shape) != tuple(t.shape):
            raise CorruptFile(f"weights file {path} does not fit the model its config.json "
                              f"describes: {key} is {tuple(t.shape)} in the weights but "
                              f"{tuple(own[key].shape)} in the model; the model.* sizes of "
                              "config.json were changed after training: restore them")
    missing, unexpected = model.load_state_dict(tensors, strict=False)
    if missing or unexpected:
        raise CorruptFile(f"weights file {path} does not fit this model (missing: "
                          f"{', '.join(missing[:3]) or '-'}; unexpected: {', '.join(unexpected[:3]) or '-'})")


def size_placeholders(model: torch.nn.Module, tensors: dict):
    """Give every empty buffer or parameter of ``model`` the shape its tensor in ``tensors`` has.

    Models fitted in closed form (see ann.train.fitted) hold state whose size is known only
    after fitting (a PNN's stored training set, a GMDH's layers) in tensors created empty; a
    fresh model must take the fitted sizes before ``load_state_dict`` can copy them. Tensors
    that are not empty are never touched, so every other model loads exactly as before.
    """
    own = model.state_dict()
    for key, value in tensors.items():
        mine = own.get(key)
        if mine is None or mine.numel() != 0 or mine.shape == value.shape:
            continue
        owner_name, _, attr = key.rpartition(".")
        owner = model.get_submodule(owner_name)
        fresh = torch.empty(value.shape, dtype=mine.dtype, device=mine.device)
        if attr in owner._parameters:
            owner._parameters[attr] = torch.nn.Parameter(fresh, owner._parameters[attr].requires_grad)
        elif attr in owner._buffers:
            owner._buffers[attr] = fresh


def _short(e: Exception) -> str:
    return str(e).splitlines()[0][:160] if str(e) else type(e).__name__


def save(ckpt_dir, step: int, model, state: dict, best: bool):
    """Write checkpoint ``step``; mark it best if ``best``; keep only the last and the best."""
    ckpt_dir = Path(ckpt_dir)
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    name = f"step-{step:08d}"
    tmp = ckpt_dir / f".tmp-{name}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    _save_weights(model, tmp / "model.safetensors")
    (tmp / "model.safetensors.sha256").write_text(
        _digest_line(tmp / "model.safetensors", tmp / "model.safetensors"))
    torch.save(state, tmp / "state.pt")
    for f in tmp.iterdir():
        with open(f, "rb") as fh:
            os.fsync(fh.fileno())
    fileio.fsync_dir(tmp)
    final = ckpt_dir / name
    if final.exists():                      # left by an earlier attempt that died before the pointer
        shutil.rmtree(final)
    os.replace(tmp, final)
    fileio.fsync_dir(ckpt_dir)
    pointer = read_pointer(ckpt_dir) or {}
    pointer = {"last": name, "best": name if best else pointer.get("best", name), "step": step}
    fileio.write_json(ckpt_dir / POINTER, pointer)
    keep = {pointer["last"], pointer["best"], POINTER}
    for old in ckpt_dir.iterdir():
        if old.name not in keep:
            shutil.rmtree(old, ignore_errors=True) if old.is_dir() else old.unlink()


def read_pointer(ckpt_dir) -> dict | None:
    path = Path(ckpt_dir) / POINTER
    if not path.exists():
        return None
    try:
        pointer = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, OSError):              # UnicodeDecodeError is a ValueError
        pointer = None
    if not (isinstance(pointer, dict) and "last" in pointer and "best" in pointer):
        raise CorruptFile(f"{path} is damaged; delete the checkpoints folder to start the run "
                          "again") from None
    for key in ("last", "best"):
        # a pointer names a checkpoint folder beside it, never a path ('../..', '/elsewhere')
        if not (isinstance(pointer[key], str) and _NAME.fullmatch(pointer[key])):
            raise CorruptFile(f"{path} points its {key!r} checkpoint at {str(pointer[key])[:60]!r}, "
                              "not at a step-NNNNNNNN folder of this run; delete the checkpoints "
                              "folder to start the run again")
    if "step" in pointer and not (isinstance(pointer["step"], int) and pointer["step"] >= 0):
        raise CorruptFile(f"{path} is damaged (its step is not a count); delete the checkpoints "
                          "folder to start the run again")
    return pointer


def load(ckpt_dir, which: str, model, device="cpu") -> dict:
    """Load checkpoint ``which`` ('last' or 'best') into ``model``; return its training state."""
    pointer = read_pointer(ckpt_dir)
    if pointer is None:
        raise CorruptFile(f"{ckpt_dir} holds no checkpoint yet (no {POINTER}); start the run again")
    folder = Path(ckpt_dir) / pointer[which]
    load_weights(model, folder / "model.safetensors", device)
    path = folder / "state.pt"
    try:
        with warnings.catch_warnings():     # a refused pickle is one line, not warnings first
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:      # weights_only refused an object: never unpickled
        raise CorruptFile(f"training state {path} holds pickled Python objects, which ann never "
                          "loads (a checkpoint is data, not code); start the run again") from None
    except Exception as e:  # torch raises many types for a damaged zip/pickle stream
        raise CorruptFile(f"training state {path} cannot be read ({_short(e)}); the checkpoint is "
                          "damaged: start the run again") from None
    # what Trainer.state writes (a model fitted in closed form writes only the step and "fitted")
    needs = ("step",) if isinstance(state, dict) and state.get("fitted") else STATE_KEYS
    if not isinstance(state, dict) or any(k not in state for k in needs):
        raise CorruptFile(f"training state {path} is damaged (it lacks the step, optimizer, "
                          "schedule or random state); start the run again")
    return state


# What a gradient-trained checkpoint's state.pt holds (ann.train.engine.Trainer.state).
STATE_KEYS = ("step", "optimizer", "schedule", "rng")
