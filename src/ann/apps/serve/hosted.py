"""One served run: loaded once, described for clients, and its task's verbs called with the
options of a request.

A request never names a path on the server. A verb option that reads files (``files``,
``image``, ``input``) takes the files' contents, which are written to a private temporary folder
for the length of the call; an option that writes a file (``out``) takes only the format
(``"png"``, ``"csv"`` or ``true``), and the file the verb writes there comes back in the response
as base64. Every path of that folder, and the run's own folder, is replaced by a name the client
gave (or the run's name) before anything is echoed back.
"""

from __future__ import annotations

import base64
import binascii
import re
import shutil
import tempfile
import threading
from pathlib import Path

from ...errors import AnnError
from .errors import RequestError

# Media types a data: URL may carry, and the file suffix the readers know them by.
SUFFIXES = {"image/png": ".png", "image/jpeg": ".jpg", "text/csv": ".csv",
            "text/tab-separated-values": ".tsv", "audio/wav": ".wav", "audio/x-wav": ".wav",
            "application/x-npy": ".npy"}
MEDIA_TYPES = {".png": "image/png", ".csv": "text/csv", ".jpg": "image/jpeg"}
SAFE_SUFFIX = re.compile(r"^\.[a-z0-9]{1,5}$")
SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
OUT_FORMATS = ("png", "csv")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".npy")


def reads_files(option) -> bool:
    """Whether a verb option names files the verb reads (its content travels in the request)."""
    return option.name != "out" and (option.name == "files" or option.metavar == "FILE")


def writes_file(option) -> bool:
    """Whether a verb option names a file the verb writes."""
    return option.name == "out"


def option_kind(option) -> str:
    return "file" if reads_files(option) else "output" if writes_file(option) else "value"


TYPE_NAMES = {str: "string", int: "integer", float: "number", bool: "boolean"}
ARTICLES = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}


class Hosted:
    """A loaded run under its served ``name``: its verbs, a lock (one call at a time through the
    model), and its tokenizer for the text endpoints."""

    def __init__(self, name: str, run):
        self.name, self.run = name, run
        self.verbs = dict(run.task.verbs)
        self.lock = threading.Lock()
        self._tokenizer = None
        self._description = None
        generate = self.verbs.get("generate")
        # A run that writes text after a prompt: GPT, recurrent LMs, T5.
        self.is_text_model = generate is not None and "prompt" in generate.option_names

    @property
    def tokenizer(self):
        if self._tokenizer is None:
            self._tokenizer = self.run.tokenizer
        return self._tokenizer

    def count_tokens(self, text: str) -> int:
        if not text:
            return 0
        try:
            return len(self.tokenizer.encode(text))
        except AnnError:
            return len(text)

    def describe(self) -> dict:
        """What ``GET /v1/runs/{name}`` says: the run, its data's facts, and every verb with its
        options (name, JSON type, whether it is a list, required, and kind: a plain value, a
        file sent in the request, or a file the response brings back)."""
        if self._description is None:
            self._description = self._describe()
        return self._description

    def _describe(self) -> dict:
        rc, s, info = self.run.config, self.run.summary, self.run.info
        from ...data.rows import describes_rows, feature_columns

        facts = {k: info[k] for k in ("classes", "num_classes", "image_size", "in_channels",
                                      "modality", "scale", "description") if k in info}
        if describes_rows(info):            # a run trained on rows: the columns a row needs
            facts["columns"] = feature_columns(info)
        verbs = {}
        for v in self.verbs.values():
            options = [{"name": o.name, "type": "file" if reads_files(o) else TYPE_NAMES[o.type],
                        "many": o.many, "required": o.required, "kind": option_kind(o),
                        "help": o.help} for o in v.options]
            verbs[v.name] = {"name": v.name, "help": v.help, "options": options,
                             "url": f"/v1/runs/{self.name}/{v.name}"}
        out = {"name": self.name, "recipe": rc.recipe, "model": rc.model_name,
               "task": self.run.task.name, "dataset": rc.data.name, "data": facts, "verbs": verbs,
               "text_model": self.is_text_model}
        if s:
            out["result"] = {"metric": s.get("metric"), "test": s.get("test", {})}
        return out

    # --- a verb call ---------------------------------------------------------------------------
    def parse(self, verb: str, body: dict, folder: Path) -> Call:
        """The verb's keyword options from a request body (JSON, or a form's fields and
        uploads), each checked against its declared type; file contents written into
        ``folder``."""
        if verb not in self.verbs:
            have = ", ".join(self.verbs) or "none"
            raise RequestError(404, f"run {self.name!r} has no verb {verb!r}; its verbs: {have}",
                               param="verb", code="verb_not_found")
        if not isinstance(body, dict):
            raise RequestError(400, "the request body must be a JSON object of the verb's options")
        v = self.verbs[verb]
        takes = {o.name: o for o in v.options}
        extra = [k for k in body if k not in takes]
        if extra:
            raise RequestError(400, f"{verb} on run {self.name!r} takes no option {extra[0]!r}; it "
                               f"takes: {', '.join(takes) or 'no options'}", param=extra[0])
        call = Call(self, v, folder)
        for name, value in body.items():
            o = takes[name]
            if reads_files(o):
                items = value if isinstance(value, list) else [value]
                if not o.many and len(items) != 1:
                    raise RequestError(400, f"{name} takes one file, not {len(items)}", param=name)
                paths = [call.add_file(name, item, i) for i, item in enumerate(items)]
                call.options[name] = paths if o.many else paths[0]
            elif writes_file(o):
                call.want_out(value)
            elif o.many:
                items = value if isinstance(value, list) else [value]
                call.options[name] = [convert(name, o.type, item) for item in items]
            else:
                call.options[name] = convert(name, o.type, value)
        missing = [o.name for o in v.options if o.required and o.name not in call.options]
        if missing:
            raise RequestError(400, f"{verb} on run {self.name!r} needs {' and '.join(missing)}",
                               param=missing[0])
        if "out" in takes and verb == "generate" and call.out is None:
            call.want_out("png")          # an image generator's grid always comes back
        return call


class Call:
    """One verb call's options and its private files; :meth:`run` calls the task under the
    run's lock and gives back the answers as JSON with every server path replaced."""

    def __init__(self, hosted: Hosted, verb, folder: Path):
        self.hosted, self.verb, self.folder = hosted, verb, folder
        self.options: dict = {}
        self.names: dict[str, str] = {}       # temporary path -> the client's name for it
        self.out: Path | None = None

    def add_file(self, option: str, item, index: int) -> str:
        data, name = decode_file(option, item, index)
        suffix = Path(name).suffix.lower()
        path = self.folder / f"{option}-{index}{suffix}"
        path.write_bytes(data)
        self.names[str(path)] = name
        return str(path)

    def want_out(self, value):
        if value is False or value is None:
            return
        fmt = "png" if value is True else value
        if fmt not in OUT_FORMATS:
            raise RequestError(400, "out takes the format of the file to bring back "
                               f"({', '.join(OUT_FORMATS)} or true), never a path; got {value!r}",
                               param="out")
        self.out = self.folder / f"out.{fmt}"
        self.names[str(self.out)] = self.out.name
        self.options["out"] = str(self.out)

    @property
    def files(self) -> list[str]:
        return [p for p in self.names if self.out is None or p != str(self.out)]

    def scrub(self, value):
        """``value`` (text, or JSON data) with every temporary path and the run's folder
        replaced by what the client knows them as."""
        if isinstance(value, str):
            for path, name in self.names.items():
                value = value.replace(path, name)
            value = value.replace(str(self.folder), "")
            run_path = self.hosted.run.path
            return value.replace(str(run_path), self.hosted.name) if run_path else value
        if isinstance(value, dict):
            return {k: self.scrub(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.scrub(v) for v in value]
        return value

    def answer_json(self, answers) -> dict:
        text = "".join(self.scrub(a.text) + a.end for a in answers)
        if any(a.end == "" for a in answers):          # text streamed token by token: one piece
            items = [{"text": text.rstrip("\n")}]
        else:
            items = [self.scrub(a.data) if a.data is not None else {"text": self.scrub(a.text)}
                     for a in answers if a.text or a.data is not None]
        out = {"run": self.hosted.name, "verb": self.verb.name, "answers": items, "text": text}
        if self.out is not None and self.out.exists():
            media = MEDIA_TYPES.get(self.out.suffix, "application/octet-stream")
            out["file"] = {"name": self.out.name, "media_type": media,
                           "base64": base64.b64encode(self.out.read_bytes()).decode()}
        return out


def call_task(hosted: Hosted, verb, options: dict) -> list:
    """The task's method for ``verb`` with ``options``, under the run's lock, its answers
    gathered (a language model yields them one token at a time)."""
    from ... import api

    with hosted.lock:
        return list(api.use(hosted.run, verb.name, **options))


def convert(name: str, kind: type, value):
    """A JSON (or form) value as the option's type, or a 400 naming the option."""
    if isinstance(value, str) and kind is not str:     # a form field
        try:
            value = {"true": True, "false": False}[value.lower()] if kind is bool else kind(value)
        except (KeyError, ValueError):
            raise RequestError(400, f"{name} must be {ARTICLES[kind]}, got {value!r}",
                               param=name) from None
    if kind is bool:
        ok = isinstance(value, bool)
    elif kind is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    else:
        ok = isinstance(value, kind) and not isinstance(value, bool)
    if not ok:
        raise RequestError(400, f"{name} must be {ARTICLES[kind]}, got {type(value).__name__} "
                           f"{str(value)[:40]!r}", param=name)
    return float(value) if kind is float else value


def decode_file(option: str, item, index: int) -> tuple[bytes, str]:
    """The bytes of one file of a request and the name it goes by: an upload (bytes and a
    filename), ``{"name": "seven.png", "base64": "..."}`` or a ``data:MEDIA;base64,...`` URL.
    Only the name's suffix is kept, so that the run's reader knows the format."""
    if isinstance(item, tuple):                               # (filename, bytes) of an upload
        name, data = item
    elif isinstance(item, str) and item.startswith("data:"):
        head, _, payload = item.partition(",")
        media = head[5:].split(";")[0].lower()
        if media not in SUFFIXES:
            raise RequestError(400, f"{option}: a data: URL of media type {media or '(none)'!r}; "
                               f"use one of {', '.join(SUFFIXES)}", param=option)
        name, data = f"{option}{index + 1}{SUFFIXES[media]}", _b64(option, payload)
    elif isinstance(item, dict) and isinstance(item.get("base64"), str):
        name, data = str(item.get("name") or ""), _b64(option, item["base64"])
    else:
        raise RequestError(400, f"{option} takes files as {{\"name\": \"x.png\", \"base64\": \"...\"}}, "
                           "a data: URL or a form upload; paths on the server are never read",
                           param=option)
    suffix = Path(name).suffix.lower()
    if not SAFE_SUFFIX.match(suffix):
        raise RequestError(400, f"{option}: the file {name[:60]!r} needs a name with its extension "
                           "(seven.png, rows.csv) so that its format is known", param=option)
    clean = SAFE_NAME.sub("_", Path(name).name)[:80] or f"{option}{index + 1}{suffix}"
    return data, clean


def _b64(option: str, text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise RequestError(400, f"{option}: the file's base64 does not decode", param=option) from None


class Scratch:
    """A private temporary folder for one call, removed afterwards."""

    def __enter__(self) -> Path:
        self.path = Path(tempfile.mkdtemp(prefix="ann-serve-"))
        return self.path

    def __exit__(self, *exc):
        shutil.rmtree(self.path, ignore_errors=True)
