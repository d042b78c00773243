"""Find, download, verify and cache the files of real datasets.

A file is looked up in ``$ANN_DATA_DIR/<folder>/<name>``, then in the cache
(``$ANN_CACHE_DIR`` or ``~/.cache/ann``) under ``<folder>/<name>``; found files must match their
sha256. A file found nowhere is downloaded into the cache from its official addresses, in order,
unless ``ANN_OFFLINE=1``. A download goes to a temporary file beside its target and is renamed
only once complete and verified, so an interrupted or wrong download never sits under the real name.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from ..errors import CorruptFile, DatasetMissing
from ..fileio import atomic_path

_CHUNK = 1 << 20
_TIMEOUT_S = 30


@dataclass(frozen=True)
class RemoteFile:
    """One file of a dataset: its name, checksum and official addresses (tried in order).

    The checksum is a sha256; for the few files whose only published checksum is an MD5 (e.g.
    WikiText's zips), ``sha256`` is empty and ``md5`` holds it.
    """

    name: str
    sha256: str
    urls: tuple[str, ...]
    size: int | None = None  # bytes; only sizes the progress bar when the server does not
    md5: str = ""

    def __post_init__(self):
        if not (self.sha256 or self.md5):
            raise ValueError(f"{self.name}: give a sha256 or md5 checksum")

    def digest(self):
        """A fresh hash object of the kind this file's checksum uses."""
        return hashlib.sha256() if self.sha256 else hashlib.md5(usedforsecurity=False)

    @property
    def checksum(self) -> str:
        return self.sha256 or self.md5


def cache_dir() -> Path:
    return Path(os.environ.get("ANN_CACHE_DIR") or Path.home() / ".cache" / "ann").expanduser()


def data_dirs() -> list[Path]:
    """Where dataset folders are looked up, in order: ``$ANN_DATA_DIR`` (when set), the cache."""
    dirs = [Path(os.environ["ANN_DATA_DIR"]).expanduser()] if os.environ.get("ANN_DATA_DIR") else []
    return dirs + [cache_dir()]


def offline() -> bool:
    return os.environ.get("ANN_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def sha256sum(path, digest=None) -> str:
    """The hex digest of a file (sha256 unless another hash object is given)."""
    digest = digest or hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _origin(file: RemoteFile) -> str:
    return file.urls[0] if file.urls else "its official source"


def _checked(path: Path, file: RemoteFile) -> Path:
    if sha256sum(path, file.digest()) != file.checksum:
        kind = "sha256" if file.sha256 else "md5"
        raise CorruptFile(f"{path}: its {kind} checksum does not match the official file; "
                          f"delete it and download it again from {_origin(file)}")
    return path


class _BadDownload(Exception):
    """The server answered, but not with the official file."""


def _download(url: str, target: Path, file: RemoteFile) -> None:
    """Stream ``url`` into ``target`` via a temporary file, checking length and sha256 before
    the rename."""
    from tqdm import tqdm

    digest, received = file.digest(), 0
    with urllib.request.urlopen(url, timeout=_TIMEOUT_S) as response, atomic_path(target) as tmp:
        declared = int(response.headers.get("Content-Length") or 0)
        bar = tqdm(total=declared or file.size, unit="B", unit_scale=True, unit_divisor=1024,
                   leave=False, desc=file.name, disable=not sys.stderr.isatty())
        with bar, open(tmp, "wb") as out:
            while chunk := response.read(_CHUNK):
                digest.update(chunk)
                out.write(chunk)
                received += len(chunk)
                bar.update(len(chunk))
        if declared and received != declared:
            raise _BadDownload(f"the transfer stopped after {received} of {declared} bytes")
        if digest.hexdigest() != file.checksum:
            kind = "sha256" if file.sha256 else "md5"
            raise _BadDownload(f"the downloaded file's {kind} checksum does not match")


def _reason(url: str, error: Exception) -> str:
    host = urllib.parse.urlsplit(url).netloc or url
    if isinstance(error, urllib.error.HTTPError):
        why = f"HTTP {error.code} {error.reason}"
    elif isinstance(error, urllib.error.URLError):
        why = getattr(error.reason, "strerror", None) or str(error.reason)
    else:
        why = str(error) or type(error).__name__
    return f"{host}: {why}"


def _download_any(file: RemoteFile, target: Path) -> str | None:
    """Try each address in turn; None on success, else why each one failed."""
    reasons = []
    for url in file.urls:
        try:
            _download(url, target, file)
            return None
        except (OSError, http.client.HTTPException, ValueError, _BadDownload) as e:
            # OSError covers URLError, HTTPError and timeouts; HTTPException broken responses
            reasons.append(_reason(url, e))
    return "download failed: " + ("; ".join(reasons) or "no address is known")


def _origins(files: list[RemoteFile]) -> str:
    """Where to get ``files`` by hand: their first addresses, or the one folder they share."""
    urls = [_origin(f) for f in files]
    folders = {u[: -len(f.name)] for u, f in zip(urls, files) if u.endswith("/" + f.name)}
    if len(files) > 1 and len(folders) == 1 and all(f.urls for f in files):
        return folders.pop()
    return " ".join(urls)


def _missing(dataset: str, folder: str, files: list[RemoteFile], reason: str) -> DatasetMissing:
    data_dir = os.environ.get("ANN_DATA_DIR")
    home = f"{Path(data_dir).expanduser() / folder}/" if data_dir else f"$ANN_DATA_DIR/{folder}/"
    it = "it" if len(files) == 1 else "them"
    return DatasetMissing(
        f"dataset {dataset!r} is missing {', '.join(f.name for f in files)} ({reason}); "
        f"download {it} from {_origins(files)} and place {it} in {home} or "
        f"{cache_dir() / folder}/")


def fetch(dataset: str, folder: str, files: list[RemoteFile]) -> dict[str, Path]:
    """The verified local path of each file (by name), downloading the missing ones.

    Raises ``CorruptFile`` for a file whose checksum does not match, and ``DatasetMissing``
    naming every file that could be neither found nor downloaded.
    """
    found: dict[str, Path] = {}
    missing: list[RemoteFile] = []
    reason = "not downloaded: ANN_OFFLINE=1 is set" if offline() else None
    for file in files:
        path = next((d / folder / file.name for d in data_dirs()
                     if (d / folder / file.name).is_file()), None)
        if path is not None:
            found[file.name] = _checked(path, file)
            continue
        target = cache_dir() / folder / file.name
        if reason is None:  # after one failure, do not wait on the network for every file
            reason = _download_any(file, target)
        if reason is None:
            found[file.name] = target
        else:
            missing.append(file)
    if missing:
        raise _missing(dataset, folder, missing, reason)
    return found
