"""Proof on real data that no one here wrote: the real datasets written out in the formats a user
brings (PNG class folders, a text file, CSV tables, an edge list, WAV class folders, a TSV of
pairs), then trained through the user-data sources (``image-folder``, ``text-file``,
``text-classes``, ``table``, ``custom-graph``, ...) with the recipe's own model and settings.

    python benchmarks/own_data.py --list
    python benchmarks/own_data.py --only iris-csv wine-csv          # some
    python benchmarks/own_data.py --only mnist-png train.threads=2  # overrides go to every run

Each proof stores the summary, the command, the machine, the load average and the wall time in
benchmarks/results/own-data/NAME.json, beside the built-in loader's figure for the same recipe
(benchmarks/results/RECIPE.json) when one was recorded. The files are written once into
``--work`` (default: ~/.cache/ann/own-data) and reused. Real datasets are read through
$ANN_DATA_DIR.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

import ann
from ann import fileio

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "own-data"
sys.path.insert(0, str(HERE))
from recipes import machine  # noqa: E402


def _data_dir() -> Path:
    home = os.environ.get("ANN_DATA_DIR")
    if not home:
        sys.exit("own_data.py: set ANN_DATA_DIR to the folder of the real datasets")
    return Path(home)


def _idx(path: Path) -> np.ndarray:
    """An IDX file (MNIST's format) as an array, read here with numpy alone."""
    raw = gzip.open(path).read()
    dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * dims).reshape(shape)


def _png_folders(name: str, classes: list[str], out: Path) -> None:
    """``out/{train,test}/CLASS/NNNNN.png`` from the IDX files of ``$ANN_DATA_DIR/name``."""
    from PIL import Image

    src = _data_dir() / name
    for split, prefix in (("train", "train"), ("test", "t10k")):
        images = _idx(src / f"{prefix}-images-idx3-ubyte.gz")
        labels = _idx(src / f"{prefix}-labels-idx1-ubyte.gz")
        for c in classes:
            (out / split / c).mkdir(parents=True, exist_ok=True)
        for i, (img, y) in enumerate(zip(images, labels)):
            Image.fromarray(img).save(out / split / classes[y] / f"{i:05d}.png")


def mnist_png(out: Path):
    _png_folders("mnist", [str(d) for d in range(10)], out)
    return "cnn-mnist", {"data.name": "image-folder", "data.path": str(out)}


FASHION = ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker",
           "bag", "ankle-boot"]


def fashion_png(out: Path):
    _png_folders("fashion-mnist", FASHION, out)
    return "cnn-fashion", {"data.name": "image-folder", "data.path": str(out)}


def shakespeare_txt(out: Path):
    out.mkdir(parents=True, exist_ok=True)
    text = (_data_dir() / "tinyshakespeare" / "input.txt").read_bytes()
    (out / "shakespeare.txt").write_bytes(text)
    return "gpt-shakespeare", {"data.name": "text-file", "data.path": str(out / "shakespeare.txt")}


def _sst2_csv(out: Path) -> Path:
    """SST-2's GLUE train and dev as one CSV of text, label (negative/positive) and split (dev is
    the test split, as in papers: GLUE's test labels are private)."""
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for split, file in (("train", "train.tsv"), ("test", "dev.tsv")):
        lines = (_data_dir() / "sst2" / file).read_text(encoding="utf-8").splitlines()[1:]
        for line in lines:
            sentence, label = line.rsplit("\t", 1)
            rows.append((sentence.strip(), ("negative", "positive")[int(label)], split))
    path = out / "sst2.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label", "split"])
        writer.writerows(rows)
    return path


def sst2_gru(out: Path):
    return "gru-sst2", {"data.name": "text-classes", "data.path": str(_sst2_csv(out))}


def _sklearn_table(loader, out: Path, name: str) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    bunch = loader()
    path = out / f"{name}.csv"
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([*bunch.feature_names, "species"])
        for row, y in zip(bunch.data, bunch.target):
            writer.writerow([*(f"{v:g}" for v in row), bunch.target_names[y]])
    return path


def _table(recipe: str, loader_name: str, name: str):
    def prepare(out: Path):
        import sklearn.datasets

        path = _sklearn_table(getattr(sklearn.datasets, loader_name), out, name)
        return recipe, {"data.name": "table", "data.path": str(path), "data.target": "species"}
    return prepare


def cora_csv(out: Path):
    """Cora's graph (from the Planetoid files, through ann's reader of them) as an edge list and
    a node table; custom-graph splits the labelled nodes at random 60/20/20, so the figure is
    not the Planetoid split's (20 nodes per class for training)."""
    from ann.data.planetoid import load_cora

    g = load_cora("train").graph
    out.mkdir(parents=True, exist_ok=True)
    src, dst = g.edge_index.numpy()
    keep = src < dst
    (out / "edges.csv").write_text("".join(f"{a},{b}\n" for a, b in zip(src[keep], dst[keep])))
    with (out / "nodes.csv").open("w") as f:
        for y, row in zip(g.y.tolist(), g.x.numpy()):
            f.write(",".join([str(y), *(f"{v:g}" for v in row)]) + "\n")
    return "gcn-cora", {"data.name": "custom-graph", "data.edges": str(out / "edges.csv"),
                        "data.features": str(out / "nodes.csv")}


def fsdd_wavs(out: Path):
    """FSDD's recordings copied into one folder per digit; audio-folder splits them."""
    import shutil

    for wav in sorted((_data_dir() / "fsdd" / "recordings").glob("*.wav")):
        (out / wav.name.split("_")[0]).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(wav, out / wav.name.split("_")[0] / wav.name)
    return "tdnn-fsdd", {"data.name": "audio-folder", "data.path": str(out)}


def multi30k_tsv(out: Path):
    """Multi30k task 1 as one TSV of German source, English target and split (test:
    test_2016_flickr, as the built-in loader's), trained through text-pairs with its defaults,
    which are the built-in loader's (lowercased words, train words seen twice, 64 tokens)."""
    out.mkdir(parents=True, exist_ok=True)
    home = _data_dir() / "multi30k"

    def lines(name: str) -> list[str]:
        text = gzip.open(home / name, "rt", encoding="utf-8").read()
        return text.split("\n")[:-1] if text.endswith("\n") else text.split("\n")

    rows = []
    for split, stem in (("train", "train"), ("val", "val"), ("test", "test_2016_flickr")):
        de, en = lines(f"{stem}.de.gz"), lines(f"{stem}.en.gz")
        # a TSV holds no tab inside a sentence (one German training sentence has one): a space
        # instead reads as the same words
        rows += ["\t".join((d.replace("\t", " ").strip(), e.replace("\t", " ").strip(), split))
                 for d, e in zip(de, en)]
    fileio.write_text(out / "pairs.tsv", "source\ttarget\tsplit\n" + "\n".join(rows) + "\n")
    return "transformer-multi30k", {"data.name": "text-pairs", "data.path": str(out / "pairs.tsv")}


PROOFS = {
    "iris-csv": _table("pnn-iris", "load_iris", "iris"),
    "wine-csv": _table("pnn-wine", "load_wine", "wine"),
    "breast-cancer-csv": _table("pnn-breast-cancer", "load_breast_cancer", "breast_cancer"),
    "cora-csv": cora_csv,
    "shakespeare-txt": shakespeare_txt,
    "sst2-csv-gru": sst2_gru,
    "fsdd-wav": fsdd_wavs,
    "mnist-png": mnist_png,
    "fashion-png": fashion_png,
    "multi30k-tsv": multi30k_tsv,
}


def _builtin(recipe: str) -> dict | None:
    path = HERE / "results" / f"{recipe}.json"
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    return {k: data.get(k) for k in ("mean", "command", "date")}


def prove(name: str, work: Path, overrides: dict, runs: Path) -> dict:
    folder = work / name
    stamp = folder / ".written"
    started = time.time()
    if not stamp.exists():
        import shutil

        shutil.rmtree(folder, ignore_errors=True)
    recipe, data = PROOFS[name](folder)
    stamp.touch()
    prepared = time.time() - started
    settings = {**data, **overrides}
    command = "ann train " + recipe + " " + " ".join(f"{k}={v}" for k, v in settings.items())
    load = os.getloadavg()
    started = time.time()
    # a proof stopped part-way (Ctrl-C, a kill) is resumed: the wall time is then the last
    # piece's only, and the result says so
    resumed = (runs / name / "checkpoints" / "latest.json").exists() and \
        not (runs / name / "summary.json").exists()
    run = ann.train(resume=runs / name) if resumed else ann.train(recipe, settings, out=runs / name)
    wall = time.time() - started
    s = run.summary
    metric = s["metric"]
    result = {"proof": name, "recipe": recipe, "command": command, "metric": metric,
              "test": s["test"], "best_val": s.get("best_val"), "baselines": s.get("baselines"),
              "beats_baselines": s.get("beats_baselines"),
              "recipe_target": ann.get_recipe(recipe).target, "builtin": _builtin(recipe),
              "steps": s["steps"], "wall_time_s": round(wall, 1), "resumed": resumed,
              "write_files_s": round(prepared, 1), "load_average": [round(v, 2) for v in load],
              "machine": machine(), "recorded": time.strftime("%Y-%m-%d")}
    RESULTS.mkdir(parents=True, exist_ok=True)
    fileio.write_json(RESULTS / f"{name}.json", result)
    print(f"{name}: {recipe} test {metric} {s['test'][metric]:.4f} "
          f"(recipe target {result['recipe_target']}) in {wall:.0f}s", flush=True)
    return result


SOURCE_FORMATS = {"iris-csv": "CSV table", "wine-csv": "CSV table",
                  "breast-cancer-csv": "CSV table", "cora-csv": "edge list + node CSV",
                  "shakespeare-txt": "text file", "sst2-csv-gru": "CSV of text, label",
                  "fsdd-wav": "WAV class folders", "mnist-png": "PNG class folders",
                  "fashion-png": "PNG class folders", "multi30k-tsv": "TSV of pairs"}


def _pct(metric: str, value) -> str:
    if value is None:
        return "-"
    return f"{100 * value:.2f}%" if metric == "accuracy" else f"{value:.4f}"


def table() -> str:
    """The stored proofs as the Markdown table of BENCHMARKS.md ("Your own data")."""
    rows = ["| proof | user's format | recipe | through the source (test) | best val | built-in loader | "
            "recipe target | baselines | wall time | load average | command | date |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for path in sorted(RESULTS.glob("*.json")):
        r = json.loads(path.read_text())
        metric = r["metric"]
        builtin = r.get("builtin") or {}
        bases = ", ".join(f"{k} {_pct(metric, v)}" for k, v in (r.get("baselines") or {}).items())
        command = r["command"].replace(str(Path.home()), "~")
        load = ", ".join(f"{v:.1f}" for v in r["load_average"])
        piece = " (resumed: the last piece)" if r.get("resumed") else ""
        rows.append(f"| {r['proof']} | {SOURCE_FORMATS.get(r['proof'], '-')} | `{r['recipe']}` | "
                    f"{metric} {_pct(metric, r['test'][metric])} | "
                    f"{_pct(metric, (r.get('best_val') or {}).get(metric))} | "
                    f"{_pct(metric, builtin.get('mean'))} | {_pct(metric, r['recipe_target'])} | "
                    f"{bases or '-'} | {r['wall_time_s']:.0f} s{piece} | "
                    f"{load} | `{command}` | "
                    f"{r['recorded']} |")
    machines = {(r["machine"]["cpu"], r["machine"]["cores"], r["machine"]["torch"])
                for r in (json.loads(p.read_text()) for p in sorted(RESULTS.glob("*.json")))}
    rows.append("\nMachine: " + "; ".join(f"{c} cores ({cpu}), torch {t}" for cpu, c, t in
                                         sorted(machines)) + ".")
    return "\n".join(rows)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", nargs="+", choices=sorted(PROOFS), metavar="PROOF")
    p.add_argument("--list", action="store_true", help="list the proofs and stop")
    p.add_argument("--work", type=Path, default=Path.home() / ".cache" / "ann" / "own-data")
    p.add_argument("--runs", type=Path, default=Path("runs") / "own-data")
    p.add_argument("overrides", nargs="*", help="KEY=VALUE settings for every run")
    argv = sys.argv[1:] if argv is None else argv
    settings = [a for a in argv if "=" in a and not a.startswith("-")]
    args = p.parse_args([a for a in argv if a not in settings])
    if args.list:
        print("\n".join(PROOFS))
        return
    overrides = dict(kv.split("=", 1) for kv in settings + args.overrides)
    for name in args.only or list(PROOFS):
        prove(name, args.work, overrides, args.runs)


if __name__ == "__main__":
    main()
