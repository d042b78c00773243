"""Data larger than memory: batches built ahead by ``train.workers`` processes (the same batches,
the same weights, exact resume), image folders decoded lazily (``data.stream``), and text
tokenized once into a memory-mapped token file in the cache."""

import dataclasses
import os

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

import ann
from ann.data import lazyimages, tokenfile
from ann.data.base import ArrayDataset
from ann.errors import AnnError
from ann.registry import load_dataset
from ann.tasks.classify import Classification
from ann.train import RunConfig, Trainer, checkpoint
from ann.train.engine import seed_everything

CLASSES = ("bars", "dots")


def write_folder(root, count=12, size=10, seed=0):
    """Two classes of small noisy pictures, in mixed modes and sizes (PNG and JPEG)."""
    rng = np.random.RandomState(seed)
    for c, name in enumerate(CLASSES):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            h, w = size + rng.randint(0, 6), size + rng.randint(0, 6)
            a = rng.randint(0, 80, (h, w)).astype(np.uint8)
            if c == 0:
                a[:, ::3] += 150
            else:
                a[::3, ::3] += 150
            img = Image.fromarray(a, "L") if i % 2 else Image.fromarray(np.stack([a] * 3, -1))
            img.save(root / name / f"{i}.{'png' if i % 3 else 'jpg'}")
    return root


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return write_folder(tmp_path_factory.mktemp("pictures"))


IMAGES = {"data.name": "image-folder", "data.image_size": 8, "data.val_fraction": 0.25,
          "data.test_fraction": 0.25, "data.augment_shift": 1, "train.epochs": 0,
          "train.max_steps": 6, "train.eval_every": 3, "train.batch_size": 4, "train.threads": 1,
          "train.deterministic": True, "train.lr": 3e-3, "train.eval_batch_size": 4}


def same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    return all(torch.equal(sa[k], sb[k]) for k in sa)


# ------------------------------------------------------------------------ workers, image-folder

def test_streamed_with_workers_ends_with_the_in_memory_weights(folder, tmp_path):
    """In memory without workers, and streamed with two workers decoding (and augmenting) the
    batches, and decoding the evaluation's batches of 4: the same weights, the same test
    figures."""
    runs = [ann.train("cnn-digits", {**IMAGES, "data.path": str(folder), "data.stream": stream,
                                     "train.workers": workers}, out=tmp_path / stream, quiet=True)
            for stream, workers in (("off", 0), ("on", 2))]
    assert same_weights(runs[0].model, runs[1].model)
    assert runs[0].summary["test"] == runs[1].summary["test"]
    # the baselines read the streamed splits a batch at a time: the in-memory figures
    assert runs[0].summary["baselines"] == runs[1].summary["baselines"] != {}
    # eval and predict of the streamed run read the folder the way training did
    loaded = ann.load(tmp_path / "on")
    assert loaded.evaluate("test")["accuracy"] == runs[1].summary["test"]["accuracy"]
    files = sorted((folder / "dots").iterdir())[:3]
    answers = ann.use(loaded, "predict", files=[str(f) for f in files])
    assert len(answers) == 3


def reference_pixels(path, size, mean, std):
    """The picture as a plain PIL + NumPy pipeline reads it: the central square, Lanczos-resized,
    RGB, scaled to 0..1 and standardised per channel. (C, S, S)"""
    img = Image.open(path).convert("RGB")
    w, h = img.size
    side = min(w, h)
    box = ((w - side) // 2, (h - side) // 2, (w - side) // 2 + side, (h - side) // 2 + side)
    a = np.asarray(img.resize((size, size), Image.Resampling.LANCZOS, box=box), np.float32) / 255
    return ((a - np.float32(mean)) / np.float32(std)).transpose(2, 0, 1)


def test_streamed_batches_equal_the_in_memory_ones_and_a_plain_pil_reading(folder):
    opts = dict(path=str(folder), image_size=8, channels=3)
    memory = load_dataset("image-folder", "train", **opts, stream="off")
    streamed = load_dataset("image-folder", "train", **opts, stream="on")
    assert isinstance(streamed, lazyimages.StreamedImages) and not isinstance(
        memory, lazyimages.StreamedImages)
    assert streamed.info == memory.info        # fewer than 2,000: the statistics of all of them
    index = torch.tensor([5, 0, 11, 3])
    xm, ym = memory.batch(index)
    xs, ys = streamed.batch(index)
    assert torch.equal(xm, xs) and torch.equal(ym, ys) and xs.shape == (4, 3, 8, 8)
    files = streamed.x.files
    want = np.stack([reference_pixels(files[i], 8, streamed.info["mean"], streamed.info["std"])
                     for i in index.tolist()])
    assert np.allclose(xs.numpy(), want, atol=1e-5)
    # the statistics are those of the training pixels
    raw = np.stack([reference_pixels(f, 8, 0.0, 1.0) for f in files])
    assert np.allclose(streamed.info["mean"], raw.mean((0, 2, 3)), atol=1e-5)
    assert np.allclose(streamed.info["std"], raw.std((0, 2, 3)), atol=1e-5)
    assert torch.equal(streamed.x[2], memory.x[2])
    assert len(streamed.head(5)) == 5 and torch.equal(streamed.head(5).x[:], memory.x[:5])


def test_stream_auto_streams_past_the_memory_budget(folder, monkeypatch):
    opts = dict(path=str(folder), image_size=8)
    assert isinstance(load_dataset("image-folder", "val", **opts), ArrayDataset)
    assert not isinstance(load_dataset("image-folder", "val", **opts), lazyimages.StreamedImages)
    # 24 images of 3 x 8 x 8 float32 take 18,432 bytes
    monkeypatch.setattr(lazyimages, "STREAM_BUDGET", 18_431)
    monkeypatch.setattr("ann.data.folders.STREAM_BUDGET", 18_431)
    assert isinstance(load_dataset("image-folder", "val", **opts), lazyimages.StreamedImages)


def test_streamed_statistics_come_from_a_seeded_sample(folder, monkeypatch):
    monkeypatch.setattr(lazyimages, "STATS_SAMPLE", 4)
    opts = dict(path=str(folder), image_size=8, channels=3, stream="on", split_seed=3)
    data = load_dataset("image-folder", "train", **opts)
    sample = lazyimages.stats_sample(len(data), 3)
    assert len(sample) == 4 and sample == lazyimages.stats_sample(len(data), 3)
    raw = np.stack([reference_pixels(data.x.files[i], 8, 0.0, 1.0) for i in sample])
    assert np.allclose(data.info["mean"], raw.mean((0, 2, 3)), atol=1e-5)


def test_a_bad_picture_met_by_a_worker_stops_the_run_in_one_line(tmp_path):
    root = write_folder(tmp_path / "p")
    bad = root / "dots" / "0.jpg"
    bad.write_bytes(bad.read_bytes()[:40])      # truncated: found only when decoded
    with pytest.raises(AnnError) as caught:
        ann.train("cnn-digits", {**IMAGES, "data.path": str(root), "data.stream": "on",
                                 "data.channels": 3, "train.workers": 2},
                  out=tmp_path / "run", quiet=True)
    line = str(caught.value)
    assert "\n" not in line and "Traceback" not in line and str(bad) in line


# --------------------------------------------------------------------- workers in the engine

class Tiny(nn.Module):
    task = "classify"

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(16, 32), nn.ReLU(), nn.Dropout(0.3),
                                 nn.Linear(32, 3))

    def forward(self, x):
        return self.net(x)


@dataclasses.dataclass
class TinyConfig:
    hidden: int = 16


def tiny_data(n, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 1, 4, 4, generator=g)
    return ArrayDataset(x, x.flatten(1)[:, :3].argmax(1), {"num_classes": 3})


def trainer(run_dir, workers):
    rc = RunConfig(recipe="tiny", model_name="tiny", model=TinyConfig())
    rc.train = dataclasses.replace(rc.train, max_steps=20, batch_size=16, lr=1e-2, eval_every=6,
                                   checkpoint_every=4, seed=3, deterministic=True,
                                   workers=workers)
    seed_everything(3, True)
    model = Tiny()
    shift = lambda x, g: x + 0.1 * torch.randn(x.shape, generator=g)   # noqa: E731
    return Trainer(rc, model, Classification(), tiny_data(96, 0), tiny_data(32, 1),
                   torch.device("cpu"), run_dir, augment=shift, quiet=True), model


def test_a_run_killed_with_workers_resumes_to_the_uninterrupted_weights(tmp_path, monkeypatch):
    full, m_full = trainer(tmp_path / "full", workers=0)
    full.fit()
    crashed, _ = trainer(tmp_path / "crash", workers=2)
    real_step = Trainer.train_step

    def dying(self):
        if self.step == 11:
            raise RuntimeError("killed")
        return real_step(self)

    monkeypatch.setattr(Trainer, "train_step", dying)
    with pytest.raises(RuntimeError):
        crashed.fit()
    monkeypatch.setattr(Trainer, "train_step", real_step)
    assert checkpoint.read_pointer(tmp_path / "crash" / "checkpoints")["step"] == 8
    resumed, m_res = trainer(tmp_path / "crash", workers=2)
    resumed.restore()
    resumed.fit()
    assert resumed.step == 20 and same_weights(m_full, m_res)


# ------------------------------------------------------------------------- text-file, memmap

def write_text(path, lines=400, seed=0):
    rng = np.random.RandomState(seed)
    words = ("the", "cat", "sat", "on", "a", "mat", "naïve", "it's", "x,y", "\t")
    text = "\n".join(" ".join(rng.choice(words, rng.randint(0, 9))) for _ in range(lines))
    path.write_text(text + "\n", encoding="utf-8")
    return text + "\n"


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ANN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(tokenfile, "READ_BYTES", 500)      # many pieces in a small file
    return tmp_path / "cache"


def test_memmapped_char_tokens_equal_a_plain_reading(tmp_path, cache):
    text = write_text(tmp_path / "notes.txt")
    a, b = int(len(text) * 0.9), int(len(text) * 0.95)
    chars = sorted(set(text[:a]))                 # the char vocabulary: the training part's
    for split, part in (("train", text[:a]), ("val", text[a:b]), ("test", text[b:])):
        data = load_dataset("text-file", split, path=str(tmp_path / "notes.txt"), block_size=8,
                            stream="on")
        assert isinstance(data.tokens, np.memmap) and data.tokens.dtype == np.uint16
        want = [chars.index(c) for c in part if c in chars]
        assert data.tokens.tolist() == want
        x, y = data.batch(torch.tensor([0, len(data) - 1]))
        assert x.dtype == torch.int64 and x[0].tolist() == want[:8] and y[0].tolist() == want[1:9]
    assert len(list(cache.glob("tokens/*/meta.json"))) == 1


@pytest.mark.parametrize("kind", ["word", "bpe"])
def test_memmapped_tokens_equal_the_in_memory_ones(tmp_path, cache, kind):
    write_text(tmp_path / "a.txt", seed=1)
    (tmp_path / "b.txt").write_text("no newline at the end  ")
    path = f"{tmp_path / 'a.txt'},{tmp_path / 'b.txt'}"
    for split in ("train", "val", "test"):
        opts = dict(path=path, block_size=4, tokenizer=kind, bpe_vocab_size=300)
        memory = load_dataset("text-file", split, **opts, stream="off")
        mapped = load_dataset("text-file", split, **opts, stream="on")
        assert mapped.tokens.tolist() == memory.tokens.tolist() and mapped.info == memory.info


def test_stream_auto_maps_the_tokens_of_a_large_text(tmp_path, cache, monkeypatch):
    write_text(tmp_path / "notes.txt")
    opts = dict(path=str(tmp_path / "notes.txt"), block_size=8)
    assert not isinstance(load_dataset("text-file", "val", **opts), tokenfile.MappedTokenWindows)
    monkeypatch.setattr("ann.data.textfiles.STREAM_BYTES", 1000)
    assert isinstance(load_dataset("text-file", "val", **opts), tokenfile.MappedTokenWindows)


def test_token_file_is_reused_and_rebuilt_when_the_file_changes(tmp_path, cache, monkeypatch):
    path = tmp_path / "notes.txt"
    write_text(path)
    first = load_dataset("text-file", "train", path=str(path), block_size=8, stream="on")

    def no_build(*args):
        raise AssertionError("rebuilt an unchanged file's tokens")

    real_build = tokenfile._build
    monkeypatch.setattr(tokenfile, "_build", no_build)
    again = load_dataset("text-file", "train", path=str(path), block_size=8, stream="on")
    assert again.tokens.tolist() == first.tokens.tolist()
    monkeypatch.setattr(tokenfile, "_build", real_build)
    text = write_text(path, lines=300, seed=5)
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    changed = load_dataset("text-file", "train", path=str(path), block_size=8, stream="on")
    assert len(changed.tokens) == len(text[:int(len(text) * 0.9)])
    assert len(list(cache.glob("tokens/*/meta.json"))) == 2
    # nothing half-written is left beside the finished files
    assert not [f for f in cache.rglob("*") if f.name.endswith(".tmp")]


def test_a_streamed_text_file_that_is_not_utf8_fails_in_one_line(tmp_path, cache):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"fine text\n" * 100 + b"\xff oops\n")
    with pytest.raises(AnnError, match="byte 1000 .0xff"):
        load_dataset("text-file", "train", path=str(path), block_size=8, stream="on")
    assert not list(cache.glob("tokens/*/meta.json"))


def test_a_gpt_trains_on_a_streamed_text_file_as_on_the_in_memory_one(tmp_path, cache):
    write_text(tmp_path / "notes.txt", lines=600)
    settings = {"data.name": "text-file", "data.path": str(tmp_path / "notes.txt"),
                "model.n_layer": 1, "model.n_head": 2, "model.n_embd": 16, "model.block_size": 16,
                "train.batch_size": 8, "train.max_steps": 6, "train.eval_every": 3,
                "train.epochs": 0, "train.threads": 1, "train.deterministic": True}
    runs = [ann.train("gpt-shakespeare", {**settings, "data.stream": stream,
                                          "train.workers": workers},
                      out=tmp_path / stream, quiet=True)
            for stream, workers in (("off", 0), ("on", 2))]
    assert same_weights(runs[0].model, runs[1].model)
    assert runs[0].summary["test"]["loss"] == runs[1].summary["test"]["loss"]


@pytest.mark.slow
def test_a_run_sigkilled_with_workers_resumes_to_the_weights_of_one_without(tmp_path):
    """SIGKILL (no checkpoint on the way out, the loader's workers orphaned) while two workers
    prepare the batches; ``--resume`` with workers ends where a run without them ends."""
    import json
    import signal
    import subprocess
    import sys
    import time

    from safetensors.torch import load_file

    from helpers import ann as cli
    from helpers import env

    args = ["mlp-digits", "train.deterministic=true", "train.seed=5", "train.epochs=0",
            "train.max_steps=1500", "train.checkpoint_every=100", "train.eval_every=500",
            "train.threads=1", "--quiet"]
    cli("train", *args, "train.workers=0", "--out", tmp_path / "full")
    out = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "ann", "train", *args, "train.workers=2",
                             "--out", str(out)], env=env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    pointer = out / "checkpoints" / "latest.json"
    deadline = time.time() + 180
    while time.time() < deadline and proc.poll() is None:
        if pointer.exists() and json.loads(pointer.read_text())["step"] >= 300:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the run ended before it could be killed; give it more steps"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / "summary.json").exists()
    cli("train", "--resume", out, "train.workers=2", "--quiet")
    full, resumed = (load_file(str(run / "model.safetensors")) for run in (tmp_path / "full", out))
    assert full.keys() == resumed.keys() and all(torch.equal(full[k], resumed[k]) for k in full)
