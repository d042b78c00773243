"""The IDX format of MNIST-style datasets, read and written without torchvision.

An IDX file is a header and a payload (http://yann.lecun.com/exdb/mnist/, bottom of the page):
two zero bytes, a dtype code, the number of dimensions, one big-endian uint32 per dimension, then
the items in C order, big-endian. Distributions gzip the whole file.

:func:`read_idx` either returns the complete array or raises :class:`~ann.errors.CorruptFile`:
the payload is read straight into its final array, so a bad file never yields a partial load.
"""

from __future__ import annotations

import gzip
import math
import struct
import zlib
from pathlib import Path

import numpy as np

from ..errors import AnnError, CorruptFile
from ..fileio import atomic_path

# IDX dtype code -> big-endian numpy dtype.
DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"
_FIX = "delete it and fetch a fresh copy"


def _corrupt(path: Path, problem: str) -> CorruptFile:
    return CorruptFile(f"{path}: {problem}; {_FIX}")


def _open(path: Path):
    """A binary stream of the file's IDX bytes, decompressing when it starts with the gzip magic."""
    if not path.is_file():
        raise AnnError(f"{path}: no such file")
    with open(path, "rb") as f:
        compressed = f.read(2) == _GZIP_MAGIC
    return gzip.open(path, "rb") if compressed else open(path, "rb")


def _read_header(stream, path: Path) -> tuple[np.dtype, tuple[int, ...]]:
    magic = stream.read(4)
    if len(magic) < 4:
        raise _corrupt(path, "truncated: the IDX header is incomplete")
    if magic[:2] != b"\0\0":
        raise _corrupt(path, f"not an IDX file (magic bytes {magic.hex()} do not start with 0000)")
    code, ndim = magic[2], magic[3]
    if code not in DTYPES:
        raise _corrupt(path, f"unknown IDX dtype code 0x{code:02X}")
    if ndim == 0:
        raise _corrupt(path, "the IDX header declares 0 dimensions")
    raw_dims = stream.read(4 * ndim)
    if len(raw_dims) < 4 * ndim:
        raise _corrupt(path, "truncated: the IDX header is incomplete")
    return DTYPES[code], struct.unpack(f">{ndim}I", raw_dims)


def _fill(stream, out: np.ndarray) -> int:
    """Read bytes into ``out`` until it is full or the stream ends; returns the bytes read."""
    view, done = memoryview(out).cast("B"), 0
    while done < len(view):
        n = stream.readinto(view[done:])
        if not n:
            break
        done += n
    return done


def read_idx(path, expected_count: int | None = None) -> np.ndarray:
    """The array stored in IDX file ``path`` (gzip-compressed or raw), in native byte order.

    ``expected_count`` checks the first dimension (the number of items). Any defect (bad gzip,
    wrong magic, unknown dtype, truncated or trailing bytes, wrong count) raises ``CorruptFile``.
    """
    path = Path(path)
    try:
        with _open(path) as stream:
            dtype, dims = _read_header(stream, path)
            if expected_count is not None and dims[0] != expected_count:
                raise _corrupt(path, f"holds {dims[0]} items but {expected_count} were expected")
            out = np.empty(dims, dtype=dtype)
            got = _fill(stream, out)
            if got < out.nbytes:
                raise _corrupt(path, f"truncated: {got} of {out.nbytes} payload bytes present")
            if stream.read(1):  # also makes gzip check its CRC at the end of the stream
                raise _corrupt(path, f"trailing bytes after the {math.prod(dims)} items")
    except (OSError, EOFError, zlib.error) as e:
        raise _corrupt(path, f"cannot be read ({type(e).__name__}: {e})") from e
    return out.astype(dtype.newbyteorder("="), copy=False)


def _code_of(dtype: np.dtype) -> int:
    for code, idx_dtype in DTYPES.items():
        if idx_dtype.newbyteorder("=") == dtype.newbyteorder("="):
            return code
    names = ", ".join(str(d.newbyteorder("=")) for d in DTYPES.values())
    raise ValueError(f"IDX cannot store {dtype}; use one of {names}")


def write_idx(path, array, compress: bool = True) -> None:
    """Write ``array`` as an IDX file (gzip-compressed unless ``compress=False``), atomically."""
    array = np.asarray(array)
    if not 1 <= array.ndim <= 255:
        raise ValueError(f"IDX stores 1 to 255 dimensions, not {array.ndim}")
    code = _code_of(array.dtype)
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + np.ascontiguousarray(array, dtype=DTYPES[code]).tobytes()
    if compress:
        data = gzip.compress(data, mtime=0)  # mtime=0: equal arrays give equal files
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
