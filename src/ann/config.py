"""Dataclass configuration with one grammar for the command line, JSON files and code.

A run's configuration is a tree of dataclasses. Overrides are dotted ``key=value`` strings
(``model.width=32``, ``train.lr=3e-4``) or keyword arguments; every value is parsed and checked
against the field's type, and range checks live in a field's metadata (``positive``, ``range``,
``choices``). Unknown keys and bad values raise :class:`~ann.errors.AnnError` naming the valid keys.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import types
import typing
from typing import Any

from .errors import AnnError, suggest


def field(default: Any, help: str = "", **checks) -> Any:
    """A dataclass field with a one-line ``help`` and optional checks.

    checks: ``positive=True`` (> 0), ``nonneg=True`` (>= 0), ``range=(lo, hi)`` (inclusive),
    ``choices=(...)``; ``path=True``: a file or folder of the user's, kept as an absolute path
    (so that a run's config.json finds it again from any working directory); ``path="list"``:
    the same for each of a comma-separated list; ``in_run="data/FILE"``: where a run keeps that
    file inside its own folder, so a run folder moved elsewhere finds it there
    (:func:`ann.runs.relocate`).
    """
    if isinstance(default, (list, dict, tuple)):
        return dataclasses.field(default_factory=lambda: type(default)(default),
                                 metadata={"help": help, **checks})
    return dataclasses.field(default=default, metadata={"help": help, **checks})


def _base_type(tp):
    """Strip ``Optional[...]``; returns (type, allows_none)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return (args[0] if len(args) == 1 else tp), True
    return tp, False


INT_LIMIT = 2 ** 63


def _parse_scalar(tp, value, key):
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "1", "yes", "on"):
            return True
        if isinstance(value, str) and value.lower() in ("false", "0", "no", "off"):
            return False
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise AnnError(f"{key} must be true or false, got {value!r}")
    if tp is int:
        if isinstance(value, bool):
            raise AnnError(f"{key} must be an integer, got {value!r}")
        if isinstance(value, int):
            out = value
        elif isinstance(value, float) and value.is_integer():
            out = int(value)
        else:
            try:
                out = int(str(value).replace("_", ""))
            except ValueError:
                raise AnnError(f"{key} must be an integer, got {value!r}") from None
        if not -INT_LIMIT <= out < INT_LIMIT:     # seeds, sizes and counts go to torch as int64
            raise AnnError(f"{key} must fit in 64 bits (between {-INT_LIMIT} and "
                           f"{INT_LIMIT - 1}), got {value!r}")
        return out
    if tp is float:
        if isinstance(value, bool):
            raise AnnError(f"{key} must be a number, got {value!r}")
        try:
            out = float(value)
        except (TypeError, ValueError):
            raise AnnError(f"{key} must be a number, got {value!r}") from None
        if not math.isfinite(out):
            raise AnnError(f"{key} must be a finite number, got {value!r}")
        return out
    if tp is str:
        return str(value)
    raise AnnError(f"{key}: cannot parse a value of type {tp}")


def parse_value(tp, value, key: str):
    """Parse ``value`` (a string from the command line, or a Python/JSON value) as type ``tp``."""
    tp, optional = _base_type(tp)
    if optional and (value is None or (isinstance(value, str) and value.lower() in ("none", "null"))):
        return None
    origin = typing.get_origin(tp)
    if origin in (list, tuple):
        (item,) = typing.get_args(tp)[:1] or (str,)
        if isinstance(value, str):
            text = value.strip().strip("[]()")
            parts = [p.strip() for p in text.split(",") if p.strip()]
        elif isinstance(value, (list, tuple)):
            parts = list(value)
        else:
            raise AnnError(f"{key} must be a comma-separated list, got {value!r}")
        return origin(parse_value(item, p, key) for p in parts)
    return _parse_scalar(tp, value, key)


def check_field(f: dataclasses.Field, value, key: str):
    """Apply the range checks in ``f.metadata`` to ``value``."""
    if value is None:
        return
    meta = f.metadata
    items = value if isinstance(value, (list, tuple)) else [value]
    for v in items:
        if meta.get("positive") and not v > 0:
            raise AnnError(f"{key} must be greater than 0, got {value!r}")
        if meta.get("nonneg") and not v >= 0:
            raise AnnError(f"{key} must be 0 or more, got {value!r}")
        if "range" in meta:
            lo, hi = meta["range"]
            if not lo <= v <= hi:
                raise AnnError(f"{key} must be between {lo} and {hi}, got {value!r}")
        if "choices" in meta and v not in meta["choices"]:
            raise AnnError(f"{key} must be one of {', '.join(map(str, meta['choices']))}, "
                           f"got {v!r}{suggest(v, meta['choices'])}")


def _fields(obj) -> dict[str, dataclasses.Field]:
    hints = typing.get_type_hints(type(obj))
    out = {}
    for f in dataclasses.fields(obj):
        f.type = hints.get(f.name, f.type)
        out[f.name] = f
    return out


def value(obj, name: str, default=None):
    """The value of field ``name`` of config ``obj``, or ``default`` when its dataclass declares
    no such field (a fact some configs have and others lack: a width, a context length)."""
    return getattr(obj, name) if name in {f.name for f in dataclasses.fields(obj)} else default


def fill(obj, values: dict) -> list[str]:
    """Set each field of config ``obj`` named in ``values`` (names it lacks are skipped); the
    names set, in order."""
    names = {f.name for f in dataclasses.fields(obj)}
    done = [k for k in values if k in names]
    for k in done:
        setattr(obj, k, values[k])
    return done


def keys(obj, prefix: str = "") -> list[str]:
    """All dotted keys of a config tree."""
    out = []
    for name in _fields(obj):
        value = getattr(obj, name)
        if dataclasses.is_dataclass(value):
            out += keys(value, prefix + name + ".")
        else:
            out.append(prefix + name)
    return out


def set_key(obj, key: str, value, prefix: str = ""):
    """Set a dotted key on a config tree, parsing and checking the value."""
    head, _, rest = key.partition(".")
    fields = _fields(obj)
    full = prefix + key
    if head not in fields:
        valid = keys(obj, prefix)
        raise AnnError(f"unknown key {full!r}{suggest(full, valid)}; valid keys: {', '.join(valid)}")
    current = getattr(obj, head)
    if dataclasses.is_dataclass(current):
        if not rest:
            raise AnnError(f"{full!r} is a section; set one of its keys, e.g. {keys(current, full + '.')[0]}")
        set_key(current, rest, value, prefix + head + ".")
        return
    if rest:
        raise AnnError(f"{full!r}: {prefix + head!r} has no sub-keys")
    parsed = parse_value(fields[head].type, value, full)
    check_field(fields[head], parsed, full)
    kind = fields[head].metadata.get("path")
    if kind and parsed:
        parts = parsed.split(",") if kind == "list" else [parsed]
        parsed = ",".join(os.path.abspath(os.path.expanduser(p.strip())) for p in parts)
    setattr(obj, head, parsed)


def apply_overrides(obj, overrides) -> Any:
    """Apply ``["a.b=1", ...]`` strings or a ``{"a.b": 1}`` mapping to a config tree (in place)."""
    if isinstance(overrides, dict):
        items = list(overrides.items())
    else:
        items = []
        for text in overrides:
            if "=" not in text:
                raise AnnError(f"override {text!r} is not key=value (for example train.lr=0.01)")
            k, v = text.split("=", 1)
            items.append((k.strip(), v.strip()))
    for k, v in items:
        set_key(obj, k, v)
    validate(obj)
    return obj


def validate(obj, prefix: str = ""):
    """Check every field of a config tree (types already parsed) and call ``__post_check__``."""
    for name, f in _fields(obj).items():
        value = getattr(obj, name)
        if dataclasses.is_dataclass(value):
            validate(value, prefix + name + ".")
        else:
            check_field(f, value, prefix + name)
    post = getattr(obj, "__post_check__", None)
    if post is not None:
        post()


def to_dict(obj) -> dict:
    """A JSON-ready dict of a config tree (tuples become lists)."""
    return json.loads(json.dumps(dataclasses.asdict(obj)))


def from_dict(cls, data: dict, prefix: str = ""):
    """Rebuild a config tree from :func:`to_dict` output; unknown keys raise."""
    obj = cls()
    for k, v in data.items():
        fields = _fields(obj)
        if k not in fields:
            raise AnnError(f"config key {prefix + k!r} is not known to this version of ann")
        current = getattr(obj, k)
        if dataclasses.is_dataclass(current) and isinstance(v, dict):
            setattr(obj, k, from_dict(type(current), v, prefix + k + "."))
        else:
            value = parse_value(fields[k].type, v, prefix + k)
            setattr(obj, k, value)
    return obj


def describe(obj, prefix: str = "") -> list[tuple[str, Any, str]]:
    """(key, value, help) rows for ``-h`` output."""
    rows = []
    for name, f in _fields(obj).items():
        value = getattr(obj, name)
        if dataclasses.is_dataclass(value):
            rows += describe(value, prefix + name + ".")
        else:
            rows.append((prefix + name, value, f.metadata.get("help", "")))
    return rows
