"""The IDX reader and writer: round trips, the byte layout, and every kind of damaged file."""

import gzip

import numpy as np
import pytest

from ann.data.idx import read_idx, write_idx
from ann.errors import AnnError, CorruptFile

DTYPES = ["uint8", "int8", "int16", "int32", "float32", "float64"]
SHAPES = [(7,), (3, 4, 5), (2, 1, 3, 2)]


@pytest.mark.parametrize("compress", [True, False])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_round_trip(tmp_path, dtype, shape, compress):
    rng = np.random.default_rng(0)
    array = (rng.standard_normal(shape) * 100).astype(dtype)
    path = tmp_path / "a.idx"
    write_idx(path, array, compress=compress)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == compress
    back = read_idx(path, expected_count=shape[0])
    assert back.dtype == np.dtype(dtype) and back.dtype.isnative
    assert back.shape == shape
    np.testing.assert_array_equal(back, array)
    assert [p.name for p in tmp_path.iterdir()] == ["a.idx"]  # no temporary file left behind


def test_byte_layout_matches_the_format(tmp_path):
    """Hand-written bytes, so that the reader is not only checked against our own writer."""
    path = tmp_path / "h.idx"
    path.write_bytes(b"\0\0\x0b\x01" + b"\0\0\0\x03" + b"\x01\x00" + b"\xff\xfe" + b"\x00\x07")
    np.testing.assert_array_equal(read_idx(path), np.array([256, -2, 7], dtype=np.int16))
    write_idx(path, np.array([[1, 2], [3, 4]], dtype=np.uint8), compress=False)
    assert path.read_bytes() == bytes([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 2, 1, 2, 3, 4])


def test_reads_gzip_written_by_the_standard_library(tmp_path):
    path = tmp_path / "labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(b"\0\0\x08\x01\0\0\0\x04" + bytes([3, 1, 4, 1])))
    np.testing.assert_array_equal(read_idx(path, expected_count=4), [3, 1, 4, 1])


def _valid_gzip() -> bytes:
    return gzip.compress(b"\0\0\x08\x02\0\0\0\x10\0\0\0\x10" + bytes(range(256)), mtime=0)


def _flip_middle_byte(data: bytes) -> bytes:
    middle = len(data) // 2
    return data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1:]


DAMAGED = {
    "bad gzip": (b"\x1f\x8b" + b"this is not deflate data", "cannot be read"),
    "gzip cut short": (_valid_gzip()[:-20], "cannot be read"),
    "gzip payload changed": (_flip_middle_byte(_valid_gzip()), "cannot be read"),
    "wrong magic": (b"\x01\x00\x08\x01\0\0\0\x01\x05", "not an IDX file"),
    "unknown dtype": (b"\0\0\x0a\x01\0\0\0\x01\x05", "dtype code 0x0A"),
    "no dimensions": (b"\0\0\x08\x00\x05", "0 dimensions"),
    "truncated header": (b"\0\0\x08", "truncated"),
    "truncated dims": (b"\0\0\x08\x02\0\0\0\x01\0\0", "truncated"),
    "truncated payload": (b"\0\0\x08\x01\0\0\0\x0a" + bytes(5), "truncated"),
    "truncated float payload": (b"\0\0\x0d\x01\0\0\0\x02" + bytes(7), "truncated"),
    "trailing bytes": (b"\0\0\x08\x01\0\0\0\x02" + bytes(3), "trailing bytes"),
}


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("case", sorted(DAMAGED))
def test_damaged_files_raise_corrupt_file_naming_the_file(tmp_path, case, compress):
    data, words = DAMAGED[case]
    if compress and not data.startswith(b"\x1f\x8b"):
        data = gzip.compress(data)
    path = tmp_path / "damaged-idx1-ubyte.gz"
    path.write_bytes(data)
    with pytest.raises(CorruptFile) as info:
        read_idx(path)
    message = str(info.value)
    assert str(path) in message and words in message
    assert "\n" not in message


def test_wrong_expected_count(tmp_path):
    path = tmp_path / "labels.gz"
    write_idx(path, np.zeros(5, dtype=np.uint8))
    with pytest.raises(CorruptFile, match="holds 5 items but 6 were expected") as info:
        read_idx(path, expected_count=6)
    assert str(path) in str(info.value)


def test_missing_file_is_a_user_error_not_corruption(tmp_path):
    with pytest.raises(AnnError, match="no such file") as info:
        read_idx(tmp_path / "absent.gz")
    assert not isinstance(info.value, CorruptFile)


def test_write_refuses_unsupported_dtypes_and_leaves_nothing(tmp_path):
    with pytest.raises(ValueError, match="IDX cannot store"):
        write_idx(tmp_path / "x.idx", np.zeros(3, dtype=np.uint16))
    with pytest.raises(ValueError, match="dimensions"):
        write_idx(tmp_path / "x.idx", np.float32(1.0))
    assert list(tmp_path.iterdir()) == []
