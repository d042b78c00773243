"""A run directory is data, never code (issue 30): damaged and hostile run directories are
refused with one line by every command that reads them, and nothing outside the run is read."""

import json
import shutil

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

import ann
from ann.errors import CorruptFile
from ann.train.checkpoint import read_pointer
from helpers import ann as ann_cli
from helpers import fails_cleanly


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "cnn"
    ann.train("cnn-digits", {"train.epochs": 0, "train.max_steps": 6, "train.eval_every": 3,
                             "train.batch_size": 32, "train.threads": 1}, out=out, quiet=True)
    return out


@pytest.fixture
def copy(run_dir, tmp_path):
    target = tmp_path / "copy"
    shutil.copytree(run_dir, target)
    return target


def _every_reader(run, tmp_path):
    """The commands that load a run's weights: predict, eval, info and resume."""
    image = tmp_path / "x.npy"
    np.save(image, np.zeros((8, 8), np.float32))
    return [("predict", run, image), ("eval", run), ("train", "--resume", run, "train.max_steps=9")]


def test_weights_carry_their_sha256_in_the_sha256sum_format(run_dir):
    import hashlib

    line = (run_dir / "model.safetensors.sha256").read_text()
    digest, name = line.split()
    assert name == "model.safetensors"
    assert digest == hashlib.sha256((run_dir / "model.safetensors").read_bytes()).hexdigest()
    pointer = json.loads((run_dir / "checkpoints/latest.json").read_text())
    ckpt = run_dir / "checkpoints" / pointer["last"]
    digest, _ = (ckpt / "model.safetensors.sha256").read_text().split()
    assert digest == hashlib.sha256((ckpt / "model.safetensors").read_bytes()).hexdigest()


def _point(copy, where):
    (copy / "model.safetensors").unlink()            # the readers fall back to the checkpoint
    path = copy / "checkpoints/latest.json"
    pointer = json.loads(path.read_text())
    path.write_text(json.dumps({**pointer, "best": where, "last": where}))


def test_a_pointer_outside_the_run_is_refused_by_every_reader(copy, tmp_path):
    _point(copy, "../..")
    for args in _every_reader(copy, tmp_path):
        fails_cleanly(ann_cli(*args, check=False), "latest.json", "'../..'")


@pytest.mark.parametrize("where", ["/tmp", "step-00000003/../../x", "step-00000003/", 7, None])
def test_no_pointer_but_a_checkpoint_name_beside_it_loads(copy, where):
    _point(copy, where)
    with pytest.raises(CorruptFile, match="latest.json"):
        ann.load(copy)


@pytest.mark.parametrize("text", ["{", "[]", '{"last": 1}', "\xff\xfe", '{"last": "step-00000003", '
                                  '"best": "step-00000003", "step": "../x"}'])
def test_a_damaged_pointer_is_one_line(copy, text):
    (copy / "checkpoints/latest.json").write_bytes(text.encode("latin-1"))
    with pytest.raises(CorruptFile, match="latest.json.*damaged"):
        read_pointer(copy / "checkpoints")


def test_a_damaged_pointer_on_resume_is_one_line(copy):
    (copy / "checkpoints/latest.json").write_text("{")
    fails_cleanly(ann_cli("train", "--resume", copy, "train.max_steps=9", check=False),
                  "latest.json", "damaged")


def test_a_flipped_byte_is_found_and_no_verify_loads_it(copy, tmp_path):
    weights = copy / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-3] ^= 0x01                                  # inside the last tensor's bytes
    weights.write_bytes(bytes(data))
    for args in _every_reader(copy, tmp_path)[:2]:
        fails_cleanly(ann_cli(*args, check=False), "model.safetensors", "sha256", "--no-verify")
    ann_cli("--no-verify", "eval", copy)


def test_weights_holding_nan_are_refused_even_without_a_checksum(copy, tmp_path):
    weights = copy / "model.safetensors"
    tensors = load_file(str(weights))
    key = next(k for k, v in tensors.items() if v.dtype == np.float32 and v.ndim > 1)
    tensors[key] = tensors[key].copy()
    tensors[key].flat[0] = np.nan
    save_file(tensors, str(weights))
    (copy / "model.safetensors.sha256").unlink()      # as in a run written before checksums
    fails_cleanly(ann_cli("eval", copy, check=False), "non-finite", key)
    with pytest.raises(CorruptFile, match="non-finite"):
        ann.load(copy)


def test_a_run_written_before_checksums_still_loads(copy):
    (copy / "model.safetensors.sha256").unlink()
    run = ann.load(copy)
    assert run.summary["recipe"] == "cnn-digits"


@pytest.mark.parametrize("kind,value,words", [
    (float, float("nan"), ["nan", "finite"]), (float, float("inf"), ["inf", "finite"]),
    (float, -float("inf"), ["finite"]), (int, 2 ** 64, ["64 bits"]), (int, -2 ** 63 - 1, ["64 bits"]),
])
def test_a_number_that_is_no_number_is_refused_for_every_verb_option(kind, value, words):
    from ann.api import check_number
    from ann.errors import AnnError
    from ann.tasks.base import Option

    with pytest.raises(AnnError, match="|".join(words)):
        check_number(Option("x", kind), value)
    check_number(Option("x", kind), kind(1))              # an ordinary number passes
    check_number(Option("x", kind, many=True), [kind(1), kind(2)])


def test_a_verb_refuses_an_oversized_number_in_one_line(run_dir, tmp_path):
    image = tmp_path / "x.npy"
    np.save(image, np.zeros((8, 8), np.float32))
    fails_cleanly(ann_cli("predict", run_dir, image, "--top", str(2 ** 70), check=False),
                  "--top", "64 bits")
