"""Data larger than memory: a folder of 50,000 JPEGs and a 200 MB text file, trained on.

    python benchmarks/bench_streaming.py                       # 50,000 128x128 JPEGs, 200 MB text
    python benchmarks/bench_streaming.py --images 2000 --text-mb 20 --threads 2
    python benchmarks/bench_streaming.py --smoke               # a minute: tiny sizes, nothing stored

Images: a generated folder of ``--images`` JPEGs (``--size`` square, ``--classes`` class folders
of noisy stripes at a class's angle, written once into ``--work``) trains one epoch of ann's
CNN (the cnn-digits recipe, sized by the data) through ``image-folder`` with ``data.stream=on``,
with ``train.workers`` 0 and 2; the peer is a plain PyTorch loop written here, as torchvision's
ImageFolder examples are: a Dataset of (file, label) that opens each picture with PIL, crops
and resizes it, turns it into a tensor and normalises it, a shuffling DataLoader with 2 workers,
the same model, AdamW and cross-entropy. Each run is its own process, so its peak memory is its
own: ``peak_rss_mb`` is the process tree's largest summed resident memory (proportional set
sizes, sampled by psutil when installed) and ``maxrss_mb`` the training process's own peak
(``resource.getrusage``; ``workers_maxrss_mb`` the largest worker's); ``cores_busy`` is the
CPU seconds of the process and its workers over the wall seconds (2.0: both cores kept busy).
Images/s counts training images over the epoch's wall time (one validation pass included, the
same small one for both).

Text: a generated ``--text-mb`` file of sentences trains a small GPT (``gpt-shakespeare``'s,
narrowed) for ``--gpt-steps`` steps through ``text-file`` with ``data.stream=on``, and a file a
tenth of the size the same way, so that "memory flat in the file's size" is two numbers side by
side; the in-memory reading of the small file is the contrast. The token file is built in
``--work``'s cache on the first run (its seconds are recorded).

At the full size the CNN's own arithmetic dominates: one step of 64 pictures of 128x128 took
about 5 s on this project's 2-core machine (an epoch of 40,000: about 50 minutes per run, three
runs); ``--train-size 32`` decodes the same JPEGs but trains on 32x32, where the data pipeline's
share (and the workers' effect) shows.

Results go to benchmarks/results/speed/streaming.json (not with ``--smoke``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULT = HERE / "results" / "speed" / "streaming.json"
WORDS = ("the", "a", "cat", "dog", "sat", "ran", "on", "under", "mat", "tree", "quickly",
         "slowly", "and", "then", "it", "was", "red", "blue", "small", "large", "house", "river")


# ------------------------------------------------------------------------------ generated data

def make_images(folder: Path, count: int, size: int, classes: int, seed: int = 0) -> Path:
    """``count`` JPEGs in ``classes`` class folders (kept when already there)."""
    import numpy as np
    from PIL import Image

    done = folder / ".complete"
    if done.is_file() and done.read_text() == f"{count} {size} {classes}":
        return folder
    rng = np.random.RandomState(seed)
    yy, xx = np.mgrid[:size, :size].astype(np.float32)
    for c in range(classes):
        (folder / f"class{c:02d}").mkdir(parents=True, exist_ok=True)
    for i in range(count):
        c = i % classes
        angle = np.pi * c / classes
        wave = np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * 0.4 + rng.rand() * 6.28)
        base = 128 + 80 * wave[..., None] * rng.uniform(0.5, 1.0, 3)
        pixels = np.clip(base + rng.normal(0, 25, (size, size, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"class{c:02d}" / f"{i:06d}.jpg", quality=90)
    done.write_text(f"{count} {size} {classes}")
    return folder


def make_text(path: Path, megabytes: float, seed: int = 0) -> Path:
    """A UTF-8 file of about ``megabytes`` MB of short sentences (kept when already there)."""
    import numpy as np

    want = int(megabytes * 2**20)
    if path.is_file() and path.stat().st_size >= want:
        return path
    rng = np.random.RandomState(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with open(path, "w", encoding="utf-8") as f:
        while written < want:
            lines = [" ".join(rng.choice(WORDS, rng.randint(3, 12))) + "." for _ in range(5000)]
            block = "\n".join(lines) + "\n"
            f.write(block)
            written += len(block)
    return path


# ---------------------------------------------------------------------------- measuring memory

def _resident(process) -> int:
    """A process's proportional set size (its shared pages split between their sharers, so a
    forked worker's copy-on-write pages are not counted twice) where Linux gives it, else RSS."""
    try:
        return process.memory_full_info().pss
    except AttributeError:
        return process.memory_info().rss


def _cpu_seconds() -> float:
    """CPU seconds of this process and of its finished children (the loader's workers)."""
    return sum(getattr(resource.getrusage(who), f) for who in (resource.RUSAGE_SELF,
               resource.RUSAGE_CHILDREN) for f in ("ru_utime", "ru_stime"))


class PeakMemory:
    """The largest resident memory of this process and its children summed, sampled every
    0.1 s while running (psutil; without it, only ``resource``'s own peak is known)."""

    def __init__(self):
        self.peak, self._stop, self._start = 0, threading.Event(), time.perf_counter()
        self._cpu = _cpu_seconds()
        try:
            import psutil
        except ImportError:
            self._thread = None
            return
        me = psutil.Process()

        def sample():
            while not self._stop.is_set():
                try:
                    tree = [me, *me.children(recursive=True)]
                    self.peak = max(self.peak, sum(_resident(p) for p in tree))
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    pass
                self._stop.wait(0.1)

        self._thread = threading.Thread(target=sample, daemon=True)
        self._thread.start()

    def stop(self) -> dict:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        used = _cpu_seconds() - self._cpu
        return {"cores_busy": round(used / (time.perf_counter() - self._start), 2),
                "peak_rss_mb": round(self.peak / 2**20, 1) if self._thread else None,
                "maxrss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                "workers_maxrss_mb": round(
                    resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)}


# ------------------------------------------------------------------------------- the children

def image_settings(args) -> dict:
    return {"data.name": "image-folder", "data.path": str(args.folder), "data.stream": "on",
            "data.image_size": args.train_size or args.size, "data.channels": 3, "data.augment_shift": 0,
            "data.val_fraction": args.val_fraction, "data.test_fraction": args.val_fraction,
            "train.epochs": 1, "train.batch_size": args.batch_size, "train.threads": args.threads,
            "train.eval_batch_size": 100, "train.log_every": 50}


def child_ann_images(args) -> dict:
    import ann

    memory = PeakMemory()
    start = time.perf_counter()
    run = ann.train("cnn-digits", {**image_settings(args), "train.workers": args.workers},
                    out=Path(args.out) / f"ann-w{args.workers}", quiet=True)
    wall = time.perf_counter() - start
    steps, batch = run.summary["steps"], args.batch_size
    return {"workers": args.workers, "train_images": steps * batch, "steps": steps,
            "train_seconds": run.summary["wall_time_s"], "process_seconds": round(wall, 1),
            "images_per_s": round(steps * batch / run.summary["wall_time_s"], 1),
            "test_accuracy": run.summary["test"]["accuracy"], **memory.stop()}


class Pictures:
    """The peer's Dataset: (path, label) pairs; PIL decode, centre crop, resize, to a normalised
    tensor, as torchvision's ``ImageFolder`` with ``CenterCrop``/``Resize``/``ToTensor``/
    ``Normalize`` does."""

    def __init__(self, items, size, mean, std):
        self.items, self.size, self.mean, self.std = items, size, mean, std

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        import numpy as np
        import torch
        from PIL import Image

        path, label = self.items[i]
        with Image.open(path) as img:
            img = img.convert("RGB")
            w, h = img.size
            s = min(w, h)
            box = ((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s)
            img = img.resize((self.size, self.size), Image.Resampling.BILINEAR, box=box)
        x = torch.from_numpy(np.asarray(img, dtype=np.float32) / 255).permute(2, 0, 1)
        return (x - self.mean) / self.std, label


def child_peer_images(args) -> dict:
    import torch
    import torch.nn.functional as F

    import ann
    from ann.registry import load_dataset

    torch.set_num_threads(args.threads)
    memory = PeakMemory()
    opts = {k.split(".", 1)[1]: v for k, v in image_settings(args).items()
            if k.startswith("data.") and k not in ("data.name", "data.augment_shift")}
    train = load_dataset("image-folder", "train", **opts)        # the same split and statistics
    val = load_dataset("image-folder", "val", **opts)
    mean = torch.tensor(train.info["mean"]).view(3, 1, 1)
    std = torch.tensor(train.info["std"]).view(3, 1, 1)
    items = lambda d: list(zip(d.x.files, d.y.tolist()))            # noqa: E731
    side = args.train_size or args.size
    loader = torch.utils.data.DataLoader(Pictures(items(train), side, mean, std),
                                         batch_size=args.batch_size, shuffle=True,
                                         num_workers=args.workers, drop_last=True)
    model = ann.create_model("cnn", in_channels=3, image_size=side,
                             num_classes=train.info["num_classes"])
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=5e-4)
    start = time.perf_counter()
    steps = 0
    model.train()
    for x, y in loader:
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        steps += 1
    model.eval()
    right = 0
    with torch.no_grad():
        for x, y in torch.utils.data.DataLoader(Pictures(items(val), side, mean, std),
                                                batch_size=100, num_workers=args.workers):
            right += int((model(x).argmax(-1) == y).sum())
    wall = time.perf_counter() - start
    return {"workers": args.workers, "train_images": steps * args.batch_size, "steps": steps,
            "train_seconds": round(wall, 2),
            "images_per_s": round(steps * args.batch_size / wall, 1),
            "val_accuracy": right / len(val), **memory.stop()}


def child_gpt(args) -> dict:
    import ann

    memory = PeakMemory()
    start = time.perf_counter()
    run = ann.train("gpt-shakespeare", {
        "data.name": "text-file", "data.path": str(args.text), "data.stream": args.stream,
        "model.n_layer": 2, "model.n_head": 2, "model.n_embd": 64, "model.block_size": 64,
        "train.batch_size": 32, "train.max_steps": args.gpt_steps, "train.eval_every":
        args.gpt_steps, "train.eval_batch_size": 256, "train.threads": args.threads,
        "train.workers": args.workers}, out=Path(args.out) / f"gpt-{args.label}", quiet=True)
    wall = time.perf_counter() - start
    return {"text_mb": round(Path(args.text).stat().st_size / 2**20, 1), "stream": args.stream,
            "steps": run.summary["steps"], "train_seconds": run.summary["wall_time_s"],
            "process_seconds": round(wall, 1), "test_loss": run.summary["test"]["loss"],
            **memory.stop()}


CHILDREN = {"ann-images": child_ann_images, "peer-images": child_peer_images, "gpt": child_gpt}


def run_child(kind: str, args, **extra) -> dict:
    """One measurement in a fresh process (its peak memory its own)."""
    argv = [sys.executable, __file__, "--child", kind, "--work", str(args.work),
            "--images", str(args.images), "--size", str(args.size), "--classes", str(args.classes),
            "--train-size", str(args.train_size),
            "--batch-size", str(args.batch_size), "--threads", str(args.threads),
            "--val-fraction", str(args.val_fraction), "--gpt-steps", str(args.gpt_steps),
            "--runs", str(args.runs)]
    for k, v in extra.items():
        argv += [f"--{k.replace('_', '-')}", str(v)]
    env = {**os.environ, "ANN_CACHE_DIR": str(args.work / "cache"),
           "PYTHONPATH": str(HERE.parent / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run(argv, capture_output=True, text=True, env=env)
    if proc.returncode:
        raise SystemExit(f"{kind} {extra} failed:\n{proc.stderr[-4000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"  {kind} {extra}: {result}", flush=True)
    return result


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=50_000, help="JPEGs in the generated folder")
    p.add_argument("--size", type=int, default=128, help="their side in pixels")
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--train-size", type=int, default=0, help="side the CNN reads the pictures "
                   "at (0: --size); smaller makes the data pipeline a larger share of the time")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--val-fraction", type=float, default=0.02, help="val and test share each")
    p.add_argument("--text-mb", type=float, default=200.0, help="size of the large text file")
    p.add_argument("--gpt-steps", type=int, default=300)
    p.add_argument("--threads", type=int, default=2, help="torch threads of the training process")
    p.add_argument("--work", type=Path, default=None, help="folder for the data, cache and runs "
                   "(default: a temporary one)")
    p.add_argument("--smoke", action="store_true", help="tiny sizes; stores nothing")
    p.add_argument("--child", choices=tuple(CHILDREN), help=argparse.SUPPRESS)
    p.add_argument("--workers", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--stream", default="on", help=argparse.SUPPRESS)
    p.add_argument("--text", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--label", default="", help=argparse.SUPPRESS)
    p.add_argument("--runs", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.smoke:
        args.images, args.size, args.text_mb, args.gpt_steps = 120, 32, 0.5, 10
        args.val_fraction = 0.1
    return args


def main(argv=None):
    args = parse(argv)
    if args.child:
        args.folder, args.out = args.work / "images", args.runs
        print(json.dumps(CHILDREN[args.child](args)))
        return
    args.work = args.work or Path(tempfile.mkdtemp(prefix="ann-streaming-"))
    args.runs = args.work / "runs" / time.strftime("%Y%m%d-%H%M%S")
    print(f"data and runs in {args.work}", flush=True)
    start = time.perf_counter()
    make_images(args.work / "images", args.images, args.size, args.classes)
    made_images = time.perf_counter() - start
    images = {"ann_workers_0": run_child("ann-images", args, workers=0),
              "ann_workers_2": run_child("ann-images", args, workers=2),
              "peer_workers_2": run_child("peer-images", args, workers=2)}
    big = make_text(args.work / "text" / "big.txt", args.text_mb)
    small = make_text(args.work / "text" / "small.txt", args.text_mb / 10, seed=1)
    text = {label: run_child("gpt", args, text=path, stream=stream, label=label)
            for label, path, stream in (("small_in_memory", small, "off"),
                                        ("small_streamed", small, "on"),
                                        ("big_streamed", big, "on"),      # builds the token file
                                        ("big_streamed_again", big, "on"))}   # reuses it
    out = {"images": {"count": args.images, "size": args.size, "classes": args.classes,
                      "train_size": args.train_size or args.size,
                      "generated_seconds": round(made_images, 1), **images,
                      "workers_speedup": round(images["ann_workers_2"]["images_per_s"]
                                               / images["ann_workers_0"]["images_per_s"], 2),
                      "vs_peer": round(images["ann_workers_2"]["images_per_s"]
                                       / images["peer_workers_2"]["images_per_s"], 2)},
           "text": {"big_mb": args.text_mb, **text,
                    "memory_big_over_small": round(text["big_streamed"]["maxrss_mb"]
                                                   / text["small_streamed"]["maxrss_mb"], 2)},
           "command": "python benchmarks/bench_streaming.py",
           "date": time.strftime("%Y-%m-%d")}
    try:
        sys.path.insert(0, str(HERE))
        from recipes import machine
        out["machine"] = machine()
    except ImportError:
        pass
    print(json.dumps(out, indent=1))
    if not args.smoke:
        from ann import fileio
        fileio.write_json(RESULT, out)
        print(f"wrote {RESULT}")


if __name__ == "__main__":
    main()
