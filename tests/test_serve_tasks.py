"""`ann serve` for the tasks beyond classification and text (issue 28): segmentation masks,
detection boxes, forecasts of a posted series and a graph's node classes come back through the
verb endpoints exactly as `ann.use` gives them in the same process, with files travelling in
the request and never as a path on the server."""

import base64
import io

import numpy as np
import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")

from test_serve import Server  # noqa: E402

import ann  # noqa: E402
from ann.apps.serve import create_app  # noqa: E402

QUICK = ["train.epochs=0", "train.max_steps=2", "train.eval_every=2", "train.threads=1"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("serve-tasks")
    ann.train("unet-shapes-quick", [*QUICK, "train.batch_size=8"], out=root / "seg", quiet=True)
    ann.train("detector-shapes-quick", [*QUICK, "train.batch_size=8"], out=root / "det",
              quiet=True)
    ann.train("lstm-mackey-glass", QUICK, out=root / "series", quiet=True)
    rng = np.random.RandomState(0)
    (root / "edges.csv").write_text("".join(f"{i},{(i + 1) % 40}\n{i},{(i + 7) % 40}\n"
                                            for i in range(40)))
    labels = [i % 2 if i % 5 else -1 for i in range(40)]          # every fifth node unlabelled
    (root / "nodes.csv").write_text("".join(
        f"{y}," + ",".join(f"{v:.3f}" for v in rng.randn(4) + (i % 2)) + "\n"
        for i, y in enumerate(labels)))
    ann.train("gcn-custom", [*QUICK, f"data.edges={root / 'edges.csv'}",
                             f"data.features={root / 'nodes.csv'}"], out=root / "graph", quiet=True)
    return root


@pytest.fixture(scope="module")
def http(runs):
    app = create_app([runs / name for name in ("seg", "det", "series", "graph")])
    with Server(app) as s, httpx.Client(base_url=s.url, timeout=60) as c:
        yield c


def picture(run_dir, seed=0) -> bytes:
    from PIL import Image

    size = ann.load(run_dir).config.model.image_size
    pixels = np.random.RandomState(seed).randint(0, 255, (size, size, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    return buf.getvalue()


def upload(name, data: bytes) -> dict:
    return {"name": name, "base64": base64.b64encode(data).decode()}


def same_as_the_library(http, runs, tmp_path, name, verb, body, files=()):
    """The server's answers for ``body`` equal ``ann.use`` on the same files in this process
    (the server names a file as the client did, the library by its path)."""
    for file_name, data in files:
        (tmp_path / file_name).write_bytes(data)
    options = {k: v for k, v in body.items() if k != "files"}
    if files:
        options["files"] = [str(tmp_path / f) for f, _ in files]
    want = [a.data for a in ann.use(ann.load(runs / name), verb, **options) if a.data]
    r = http.post(f"/v1/runs/{name}/{verb}", json=body)
    assert r.status_code == 200, r.text
    got = r.json()["answers"]
    for w in want:
        if "file" in w:
            w["file"] = w["file"].rsplit("/", 1)[-1]
    assert got == want
    assert str(tmp_path) not in r.text and "ann-serve-" not in r.text
    return got


def test_segmentation_masks(http, runs, tmp_path):
    png = picture(runs / "seg")
    got = same_as_the_library(http, runs, tmp_path, "seg", "predict",
                              {"files": [upload("scan.png", png)]}, [("scan.png", png)])
    assert got and got[0]["file"] == "scan.png"
    r = http.post("/v1/runs/seg/predict", json={"files": [upload("scan.png", png)], "out": "png"})
    assert r.status_code == 200, r.text
    mask = base64.b64decode(r.json()["file"]["base64"])
    assert mask.startswith(b"\x89PNG")


def test_detection_boxes(http, runs, tmp_path):
    png = picture(runs / "det", seed=1)
    same_as_the_library(http, runs, tmp_path, "det", "predict",
                        {"files": [upload("street.png", png)], "threshold": 0.0},
                        [("street.png", png)])


def test_a_posted_series_is_forecast(http, runs, tmp_path):
    t = np.arange(400)
    csv = ("value\n" + "\n".join(f"{v:.6f}" for v in np.sin(t / 9.0))).encode()
    got = same_as_the_library(http, runs, tmp_path, "series", "predict",
                              {"files": [upload("history.csv", csv)], "steps": 5},
                              [("history.csv", csv)])
    assert got


def test_graph_nodes(http, runs, tmp_path):
    got = same_as_the_library(http, runs, tmp_path, "graph", "predict", {})
    assert len(got) == 8 or len(got[0].get("nodes", [])) == 8, got     # the unlabelled nodes


def test_each_run_describes_its_verbs(http):
    for name in ("seg", "det", "series", "graph"):
        d = http.get(f"/v1/runs/{name}").json()
        assert "predict" in d["verbs"], d


def test_a_path_instead_of_a_file_is_refused(http):
    r = http.post("/v1/runs/seg/predict", json={"files": ["/etc/passwd"]})
    assert 400 <= r.status_code < 500
    assert "root:" not in r.text
