"""`ann serve`: trained runs behind HTTP. The text endpoints are spoken to through the official
`openai` client, the verb endpoints through httpx, the page through headless Chromium; every
bad request must be a 4xx with one JSON error line, and the server must keep serving."""

import base64
import concurrent.futures
import io
import json
import shutil
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

starlette = pytest.importorskip("starlette")
uvicorn = pytest.importorskip("uvicorn")
openai = pytest.importorskip("openai")
httpx = pytest.importorskip("httpx")

import ann  # noqa: E402
from ann import cli  # noqa: E402
from ann.apps.serve import create_app  # noqa: E402

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
GPT = ["model.n_layer=1", "model.n_head=2", "model.n_embd=32", "model.block_size=64",
       "train.max_steps=30", "train.eval_every=30", "train.batch_size=16", "train.warmup_steps=5",
       "train.threads=1", "data.tokenizer=char"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """uvicorn serving ``app`` in a thread on a free port of 127.0.0.1."""

    def __init__(self, app):
        self.app, self.port = app, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="error")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        for _ in range(500):
            if self.server.started:
                return self
            time.sleep(0.01)
        raise RuntimeError("the server did not start")

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("serve")
    ann.train("cnn-digits", ["train.epochs=1", "train.threads=1"], out=root / "digits", quiet=True)
    ann.train("gpt-pydoc", GPT, out=root / "pydoc", quiet=True)
    ann.train("vae-digits", ["train.epochs=1", "train.threads=1"], out=root / "vae", quiet=True)
    return root


@pytest.fixture(scope="module")
def server(runs):
    app = create_app([runs / "digits", runs / "pydoc", runs / "vae"])
    with Server(app) as s:
        yield s


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0, timeout=30)


@pytest.fixture(scope="module")
def http(server):
    with httpx.Client(base_url=server.url, timeout=30) as c:
        yield c


def digit_png(index: int = 0) -> tuple[bytes, int]:
    """A test image of scikit-learn's digits as an 8x8 grayscale PNG, and its label."""
    from PIL import Image
    from sklearn.datasets import load_digits

    d = load_digits()
    pixels = (d.images[index] * 255 / 16).round().astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels, mode="L").save(buf, format="PNG")
    return buf.getvalue(), int(d.target[index])


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def assert_error(r, status: int, *words):
    """A refusal: the status, OpenAI's error body with one line naming ``words``."""
    assert r.status_code == status, (r.status_code, r.text)
    message = r.json()["error"]["message"]
    assert "\n" not in message and "Traceback" not in r.text
    for w in words:
        assert w.lower() in message.lower(), (w, message)


# --- the OpenAI endpoints, through the official client ----------------------------------------

def test_models_lists_every_run(client):
    ids = {m.id for m in client.models.list()}
    assert ids == {"digits", "pydoc", "vae"}


def reference_greedy(run_dir, prompt: str, n: int) -> str:
    """Greedy decoding computed here: the model's full forward pass over the whole sequence at
    every step (no cache), argmax of the last position, the tokenizer's own decode."""
    run = ann.load(run_dir)
    tok = run.tokenizer
    ids = tok.encode(prompt)
    with torch.no_grad():
        for _ in range(n):
            logits = run.model(torch.tensor([ids]))
            ids.append(int(logits[0, -1].argmax()))
    return tok.decode(ids)[len(prompt):]


def test_greedy_completion_matches_a_reference_decode(client, runs):
    r = client.completions.create(model="pydoc", prompt="def ", max_tokens=12, temperature=0)
    assert r.object == "text_completion" and r.model == "pydoc"
    choice = r.choices[0]
    assert choice.text == reference_greedy(runs / "pydoc", "def ", 12)
    assert choice.finish_reason == "length"
    assert (r.usage.prompt_tokens, r.usage.completion_tokens, r.usage.total_tokens) == (4, 12, 16)


def test_sampling_seed_and_n(client):
    args = dict(model="pydoc", prompt="The ", max_tokens=10, temperature=1.0, top_p=0.9)
    one = client.completions.create(seed=5, **args).choices[0].text
    assert one == client.completions.create(seed=5, **args).choices[0].text
    many = client.completions.create(seed=5, n=3, **args)
    assert [c.index for c in many.choices] == [0, 1, 2]
    assert many.choices[0].text == one                  # choice i samples with seed + i
    assert len({c.text for c in many.choices}) > 1
    assert many.usage.completion_tokens == 30


def test_stop_cuts_before_the_stop_string(client):
    args = dict(model="pydoc", prompt="def ", max_tokens=20, temperature=0)
    full = client.completions.create(**args).choices[0].text
    stop = full[5:7]
    cut = client.completions.create(stop=[stop, "\x00never"], **args).choices[0]
    assert cut.text == full[:full.index(stop)] and cut.finish_reason == "stop"


def test_streamed_completion_and_chat_equal_the_whole_answer(client):
    args = dict(model="pydoc", prompt="import ", max_tokens=15, temperature=0.8, seed=2)
    whole = client.completions.create(**args).choices[0].text
    chunks = list(client.completions.create(stream=True, stream_options={"include_usage": True}, **args))
    assert "".join(c.choices[0].text for c in chunks if c.choices) == whole
    assert len([c for c in chunks if c.choices and c.choices[0].text]) > 3     # token by token
    assert chunks[-1].usage.completion_tokens == 15

    messages = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]
    chat = client.chat.completions.create(model="pydoc", messages=messages, max_tokens=8, seed=1)
    assert chat.object == "chat.completion" and chat.choices[0].message.role == "assistant"
    deltas = [c.choices[0].delta for c in client.chat.completions.create(
        model="pydoc", messages=messages, max_tokens=8, seed=1, stream=True) if c.choices]
    assert deltas[0].role == "assistant"
    assert "".join(d.content or "" for d in deltas) == chat.choices[0].message.content
    assert chat.usage.prompt_tokens == len("system: be brief\nuser: hi\nassistant:")


@pytest.mark.parametrize("args,error,words", [
    (dict(temperature=-1), openai.BadRequestError, ["temperature"]),
    (dict(max_tokens=5000), openai.BadRequestError, ["max_tokens", "2048"]),
    (dict(max_tokens=63), openai.BadRequestError, ["context of 64", "at most 60"]),
    (dict(prompt="x" * 100), openai.BadRequestError, ["context is 64"]),
    (dict(prompt="\u2603 snow"), openai.BadRequestError, ["\u2603"]),
    (dict(top_p=0), openai.BadRequestError, ["top_p"]),
    (dict(n=0), openai.BadRequestError, ["n must"]),
    (dict(model="nope"), openai.NotFoundError, ["nope", "pydoc"]),
    (dict(model="digits"), openai.BadRequestError, ["classify", "does not write text"]),
    (dict(frequency_penalty=0.5), openai.BadRequestError, ["frequency_penalty", "not supported"]),
    (dict(logprobs=2), openai.BadRequestError, ["logprobs", "not supported"]),
    (dict(logit_bias={"50": 10}), openai.BadRequestError, ["logit_bias", "not supported"]),
    (dict(echo=True), openai.BadRequestError, ["echo", "not supported"]),
])
def test_openai_errors(client, args, error, words):
    for stream in (False, True):
        with pytest.raises(error) as e:
            client.completions.create(**{"model": "pydoc", "prompt": "def ", "max_tokens": 4,
                                         "stream": stream, **args})
        body = e.value.body
        assert body["type"] in ("invalid_request_error", "not_found_error")
        for w in words:
            assert w.lower() in body["message"].lower(), (w, body)
    assert client.completions.create(model="pydoc", prompt="a", max_tokens=2).choices[0].text


def test_options_at_their_neutral_value_or_only_labels_are_accepted(client):
    # an option that would change the answer is refused (above) unless it asks for nothing
    out = client.completions.create(model="pydoc", prompt="a", max_tokens=2, frequency_penalty=0,
                                    presence_penalty=0.0, logprobs=None, echo=False, user="u1")
    assert out.choices[0].text
    chat = [{"role": "user", "content": "hi"}]
    with pytest.raises(openai.BadRequestError, match="tools"):
        client.chat.completions.create(model="pydoc", messages=chat, max_tokens=2, tools=[
            {"type": "function", "function": {"name": "f", "parameters": {}}}])
    with pytest.raises(openai.BadRequestError, match="response_format"):
        client.chat.completions.create(model="pydoc", messages=chat, max_tokens=2,
                                       response_format={"type": "json_object"})
    assert client.chat.completions.create(model="pydoc", messages=chat, max_tokens=2, seed=0,
                                          response_format={"type": "text"}).choices


def test_chat_needs_messages(client):
    with pytest.raises(openai.BadRequestError, match="messages"):
        client.chat.completions.create(model="pydoc", messages=[])
    with pytest.raises(openai.BadRequestError, match="role"):
        client.chat.completions.create(model="pydoc", messages=[{"role": "wizard", "content": "x"}])


# --- the verb endpoints, through httpx ----------------------------------------------------------

def test_runs_describe_themselves(http):
    runs = {r["name"]: r for r in http.get("/v1/runs").json()["runs"]}
    d = http.get("/v1/runs/digits").json()
    assert d == runs["digits"]
    assert d["task"] == "classify" and d["data"]["image_size"] == 8 and len(d["data"]["classes"]) == 10
    files = next(o for o in d["verbs"]["predict"]["options"] if o["name"] == "files")
    assert files["type"] == "file" and files["many"]
    g = http.get("/v1/runs/pydoc").json()
    assert g["text_model"] and "prompt" in [o["name"] for o in g["verbs"]["generate"]["options"]]
    assert str(Path.cwd()) not in json.dumps(runs)            # no server path echoed


def test_predict_image_as_json_form_and_data_url(http, runs, tmp_path):
    png, label = digit_png(3)
    (tmp_path / "three.png").write_bytes(png)
    direct = ann.use(ann.load(runs / "digits"), "predict", files=[str(tmp_path / "three.png")], top=10)
    expect = direct[0].data
    r = http.post("/v1/runs/digits/predict",
                  json={"files": [{"name": "three.png", "base64": b64(png)}], "top": 10})
    assert r.status_code == 200, r.text
    got = r.json()["answers"][0]
    assert got == expect | {"file": "three.png"}             # the client's name, not the temp path
    assert sum(p for _, p in got["top"]) == pytest.approx(1, abs=1e-3)
    form = http.post("/v1/runs/digits/predict", data={"top": "10"},
                     files={"files": ("three.png", png, "image/png")})
    assert form.status_code == 200 and form.json()["answers"][0] == got
    url = http.post("/v1/runs/digits/predict",
                    json={"files": "data:image/png;base64," + b64(png), "top": 10})
    assert url.json()["answers"][0]["top"] == got["top"]


def test_generate_verb_and_output_file(http):
    r = http.post("/v1/runs/pydoc/generate", json={"prompt": "for ", "max_new_tokens": 5,
                                                   "temperature": 0})
    assert r.status_code == 200 and r.json()["answers"][0]["text"].startswith("for ")
    one = [{"name": "a.png", "base64": b64(digit_png(1)[0])}]
    r = http.post("/v1/runs/digits/predict", json={"files": one, "out": "csv"})
    assert r.status_code == 200, r.text
    f = r.json()["file"]
    assert f["media_type"] == "text/csv"
    header = base64.b64decode(f["base64"]).decode().splitlines()[0]
    assert header.startswith("file,class,p(0)")
    assert "ann-serve-" not in r.text                         # no temporary path echoed


def test_image_generator_brings_its_png_back(http, runs):
    from PIL import Image

    def grid(seed):
        r = http.post("/v1/runs/vae/generate", json={"n": 4, "seed": seed})
        assert r.status_code == 200, r.text
        assert r.json()["file"]["media_type"] == "image/png"
        return base64.b64decode(r.json()["file"]["base64"])

    first = grid(1)
    image = Image.open(io.BytesIO(first))
    assert image.width >= 16 and image.height >= 16           # a 2x2 grid of 8x8 digits
    assert grid(1) == first and grid(2) != first
    assert not (runs / "vae" / "generated.png").exists()        # nothing written into the run


def test_concurrent_requests_are_batched_and_answered_alike(server, http):
    pngs = [digit_png(i)[0] for i in range(16)]
    body = lambda p: {"files": [{"name": "d.png", "base64": b64(p)}], "top": 10}   # noqa: E731
    alone = [http.post("/v1/runs/digits/predict", json=body(p)).json()["answers"][0] for p in pngs]
    batcher = server.app.state.batchers["digits"]
    before = batcher.merged
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        together = list(pool.map(lambda p: httpx.post(server.url + "/v1/runs/digits/predict",
                                                      json=body(p), timeout=30).json(), pngs))
    assert [t["answers"][0]["class"] for t in together] == [a["class"] for a in alone]
    for t, a in zip(together, alone):
        for (_, p1), (_, p2) in zip(t["answers"][0]["top"], a["top"]):
            assert p1 == pytest.approx(p2, abs=2e-4)
    assert batcher.merged > before                            # some requests shared a model call


P = "/v1/runs/digits/predict"
BAD = [
    ("malformed JSON", P, b'{"files": ', 400, ["not valid JSON"]),
    ("not an object", P, b"[1, 2]", 400, ["JSON object"]),
    ("missing field", P, b"{}", 400, ["image files"]),
    ("missing prompt", "/v1/completions", b'{"model": "pydoc"}', 400, ["prompt must be"]),
    ("wrong type", P, b'{"files": [], "top": "three"}', 400, ["top", "integer"]),
    ("bool for int", "/v1/runs/pydoc/generate", b'{"max_new_tokens": true}', 400, ["integer"]),
    ("unknown option", P, b'{"colour": 1}', 400, ["colour", "files"]),
    ("unknown run", "/v1/runs/nope/predict", b"{}", 404, ["nope", "digits"]),
    ("unknown verb", "/v1/runs/digits/translate", b"{}", 404, ["translate", "predict"]),
    ("a path", P, b'{"files": ["/etc/passwd"]}', 400, ["never read"]),
    ("out as a path", P, b'{"files": [], "out": "/tmp/x.csv"}', 400, ["never a path"]),
    ("no suffix", P, b'{"files": [{"name": "x", "base64": "AAAA"}]}', 400, ["extension"]),
    ("bad base64", P, b'{"files": [{"name": "x.png", "base64": "%%"}]}', 400, ["base64"]),
    ("image that does not decode", P,
     json.dumps({"files": [{"name": "x.png", "base64": b64(b"not a png at all")}]}).encode(), 400,
     ["x.png", "not a readable image"]),
    ("wrong image size", P, None, 400, ["8x8"]),
    ("prompt over the context", "/v1/runs/pydoc/generate", b'{"prompt": "' + b"x" * 80 + b'"}', 400,
     ["context"]),
    ("negative temperature", "/v1/completions",
     b'{"model": "pydoc", "prompt": "a", "temperature": -0.5}', 400, ["temperature"]),
    ("max_tokens over the limit", "/v1/completions",
     b'{"model": "pydoc", "prompt": "a", "max_tokens": 100000}', 400, ["max_tokens"]),
    ("no such endpoint", "/v1/nothing", b"{}", 404, ["/v1/nothing"]),
]


@pytest.mark.parametrize("what,path,body,status,words", BAD, ids=[b[0] for b in BAD])
def test_bad_requests_are_4xx_and_the_server_goes_on(http, what, path, body, status, words):
    if body is None:                                     # a 16x16 picture for an 8x8 model
        from PIL import Image

        buf = io.BytesIO()
        Image.new("L", (16, 16)).save(buf, format="PNG")
        body = json.dumps({"files": [{"name": "big.png", "base64": b64(buf.getvalue())}]}).encode()
    r = http.post(path, content=body, headers={"Content-Type": "application/json"})
    assert_error(r, status, *words)
    assert "ann-serve-" not in r.text                  # no temporary path of the server
    assert http.get("/healthz").json()["status"] == "ok"


def test_upload_over_the_limit_is_413(http):
    big = b'{"files": [{"name": "x.png", "base64": "' + b"A" * (11 * 1024 * 1024) + b'"}]}'
    assert_error(http.post("/v1/runs/digits/predict", content=big), 413, "limit")
    form = http.post("/v1/runs/digits/predict", files={"files": ("x.png", b"\0" * (11 * 1024 * 1024))})
    assert_error(form, 413, "limit")
    assert http.get("/healthz").status_code == 200


def test_metrics_count_requests_errors_and_latency(http):
    http.get("/v1/runs/nope")
    text = http.get("/metrics").text
    assert 'ann_requests_total{route="/v1/runs/{name}",method="GET",status="404"}' in text
    assert 'ann_request_errors_total{route="/v1/runs/{name}"}' in text
    buckets = [line for line in text.splitlines()
               if line.startswith('ann_request_duration_seconds_bucket{route="/healthz"')]
    counts = [int(line.split()[-1]) for line in buckets]
    assert counts == sorted(counts) and counts[-1] >= 1          # cumulative buckets up to +Inf


def test_bearer_token(runs):
    from starlette.testclient import TestClient

    app = create_app([runs / "digits", runs / "pydoc"], token="s3cret")
    with Server(app) as s:
        assert_error(httpx.get(s.url + "/v1/models"), 401, "Bearer")
        assert_error(httpx.get(s.url + "/v1/models", headers={"Authorization": "Bearer wrong"}), 401)
        assert httpx.get(s.url + "/healthz").status_code == 200
        good = openai.OpenAI(base_url=s.url + "/v1", api_key="s3cret", max_retries=0)
        assert good.completions.create(model="pydoc", prompt="a", max_tokens=2).choices
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=s.url + "/v1", api_key="nope", max_retries=0).models.list()
    assert TestClient(app).get("/").status_code == 200          # the page holds no run data


def test_a_damaged_run_is_refused_with_the_line_ann_eval_gives(runs, tmp_path, capsys):
    bad = tmp_path / "broken"
    shutil.copytree(runs / "digits", bad)
    weights = bad / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    assert cli.main(["eval", str(bad)]) != 0
    eval_line = capsys.readouterr().err.strip()
    assert cli.main(["serve", str(bad), "--port", "0"]) != 0
    serve_line = capsys.readouterr().err.strip()
    assert serve_line == eval_line and serve_line.startswith("ann: error:") and "\n" not in serve_line


@pytest.mark.slow             # a server process of its own: imports torch
def test_ctrl_c_lets_the_request_in_flight_finish(runs):
    import signal
    import subprocess
    import sys

    from helpers import env

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "ann", "serve", str(runs / "pydoc"), "--port",
                             str(port)], env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(1200):
            try:
                if httpx.get(url + "/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        body = {"model": "pydoc", "prompt": "a", "max_tokens": 60, "n": 8}
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pending = pool.submit(httpx.post, url + "/v1/completions", json=body, timeout=60)
            time.sleep(0.2)
            proc.send_signal(signal.SIGINT)
            r = pending.result()
        assert r.status_code == 200 and len(r.json()["choices"]) == 8
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "stopped" in out and "Traceback" not in err


BERT = ["model.n_layer=1", "model.n_head=2", "model.n_embd=32", "train.max_steps=20",
        "train.eval_every=20", "train.batch_size=16", "train.threads=1"]
SHORT = ["train.max_steps=20", "train.eval_every=20", "train.threads=1"]


@pytest.fixture(scope="module")
def sentences(runs):
    ann.train("bert-pydoc", BERT, out=runs / "bert", quiet=True)
    ann.train("transformer-numbers", SHORT, out=runs / "numbers", quiet=True)
    with Server(create_app([runs / "bert", runs / "numbers"])) as s, \
            httpx.Client(base_url=s.url, timeout=30) as c:
        yield c


def same_json(answers):
    return json.loads(json.dumps([a.data for a in answers]))


def test_fill_and_translate(sentences, runs):
    text = "the [MASK] statement raises an exception"
    r = sentences.post("/v1/runs/bert/fill", json={"text": text, "top": 3})
    assert r.status_code == 200, r.text
    assert r.json()["answers"] == same_json(ann.use(ann.load(runs / "bert"), "fill", text=text, top=3))
    r = sentences.post("/v1/runs/numbers/translate", json={"text": "4721"})
    assert r.status_code == 200, r.text
    assert r.json()["answers"] == same_json(ann.use(ann.load(runs / "numbers"), "translate", text="4721"))
    assert_error(sentences.post("/v1/runs/bert/fill", json={}), 400, "needs text")
    assert_error(sentences.post("/v1/runs/bert/fill", json={"text": 5}), 400, "text", "string")
    assert_error(sentences.post("/v1/runs/bert/fill", json={"text": "no mask here"}), 400, "[MASK]")
    assert_error(sentences.post("/v1/completions", json={"model": "numbers", "prompt": "1"}), 400,
                 "does not write text")


def test_rows_of_a_table(runs, tmp_path):
    from sklearn.datasets import load_iris

    ann.train("pnn-iris", ["train.threads=1"], out=runs / "iris", quiet=True)
    with Server(create_app([runs / "iris"])) as s, httpx.Client(base_url=s.url, timeout=30) as c:
        columns = c.get("/v1/runs/iris").json()["data"]["columns"]
        rows = load_iris().data[::10]
        csv = ",".join(columns) + "\n" + "\n".join(",".join(f"{v:g}" for v in r) for r in rows) + "\n"
        (tmp_path / "rows.csv").write_text(csv)
        expect = same_json(ann.use(ann.load(runs / "iris"), "predict", files=[str(tmp_path / "rows.csv")]))
        r = c.post("/v1/runs/iris/predict", json={"files": [{"name": "rows.csv",
                                                             "base64": b64(csv.encode())}]})
        assert r.status_code == 200, r.text
        assert r.json()["answers"] == expect and len(expect) == len(rows)
        bad = c.post("/v1/runs/iris/predict", json={"files": [{"name": "rows.csv",
                                                               "base64": b64(b"x,y\n1,2\n")}]})
        assert_error(bad, 400)


@pytest.mark.slow                   # a T5 run's evaluation decodes its whole test split
def test_t5_answers_completions(runs):
    ann.train("t5-tasks-tiny", SHORT, out=runs / "t5", quiet=True)
    prompt = "sort: 5 2 9 1"
    expect = ann.use(ann.load(runs / "t5"), "generate", prompt=prompt, max_len=8)[0].text
    with Server(create_app([runs / "t5"])) as s:
        client = openai.OpenAI(base_url=s.url + "/v1", api_key="-", max_retries=0)
        r = client.completions.create(model="t5", prompt=prompt, max_tokens=8)
        assert r.choices[0].text == expect and r.choices[0].finish_reason == "stop"
        streamed = client.completions.create(model="t5", prompt=prompt, max_tokens=8, stream=True)
        assert "".join(c.choices[0].text for c in streamed if c.choices) == expect


# --- load --------------------------------------------------------------------------------------

def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


@pytest.mark.slow
def test_load_2000_requests_from_64_clients(server):
    png = b64(digit_png(7)[0])
    bodies = [("/v1/runs/digits/predict", {"files": [{"name": "d.png", "base64": png}]}),
              ("/v1/runs/digits/predict", {"files": [{"name": "d.png", "base64": "%%"}]}),   # a 400
              ("/v1/runs/digits", None), ("/healthz", None)]
    statuses: list[int] = []

    def client(k):
        with httpx.Client(base_url=server.url, timeout=60) as c:
            for i in range(k, 1000, 64):
                path, body = bodies[i % len(bodies)]
                r = c.post(path, json=body) if body is not None else c.get(path)
                statuses.append(r.status_code)

    def wave():
        with concurrent.futures.ThreadPoolExecutor(64) as pool:
            list(pool.map(client, range(64)))

    wave()                                                      # 1,000 requests
    first = rss_mb()
    wave()                                                      # 1,000 more
    assert len(statuses) == 2000 and not [s for s in statuses if s >= 500]
    assert statuses.count(400) == 500
    assert rss_mb() - first < 100, "memory grew during the second 1,000 requests"


# --- the page, in headless Chromium ------------------------------------------------------------

@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    try:
        pw = sync_api.sync_playwright().start()
    except Exception as e:  # noqa: BLE001
        pytest.skip(f"playwright does not start: {e}")
    try:
        b = pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
    except Exception as e:  # noqa: BLE001
        pw.stop()
        pytest.skip(f"chromium does not launch: {e}")
    yield b
    b.close()
    pw.stop()


def open_page(browser, server):
    page = browser.new_page()
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(server.url + "/")
    page.wait_for_selector("[data-run=digits] canvas")
    return page, requests


def test_page_draws_a_digit_and_shows_its_class(browser, server):
    page, requests = open_page(browser, server)
    canvas = page.locator("[data-run=digits] canvas.draw")
    box = canvas.bounding_box()
    x, y, w, h = box["x"], box["y"], box["width"], box["height"]
    page.mouse.move(x + w * 0.5, y + h * 0.15)                  # a vertical stroke: a one
    page.mouse.down()
    for i in range(1, 21):
        page.mouse.move(x + w * 0.5, y + h * (0.15 + 0.7 * i / 20))
    page.mouse.up()
    page.wait_for_function("document.querySelector('[data-run=digits] .class').textContent.length > 0")
    shown = page.locator("[data-run=digits] .class").text_content()
    rows = [r.split("\t") for r in page.locator("[data-run=digits] .probs tr").all_inner_texts()]
    percent = {cells[0].strip(): float(cells[-1].strip().rstrip("%")) for cells in rows}
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "serve-page.png"), full_page=True)
    assert sorted(percent) == [str(d) for d in range(10)]
    assert shown == max(percent, key=percent.get)                # the likeliest class is shown
    assert sum(percent.values()) == pytest.approx(100, abs=0.6)
    assert all(u.startswith(server.url) for u in requests)       # nothing from the network
    page.close()


def test_page_streams_a_prompt(browser, server):
    page, _ = open_page(browser, server)
    panel = page.locator("[data-run=pydoc]")
    panel.locator("textarea").fill("def ")
    panel.locator("button.go").click()
    page.wait_for_function("document.querySelector('[data-run=pydoc] .output').textContent.length > 8"
                           " && document.querySelector('[data-run=pydoc] .status').textContent == 'done'")
    assert panel.locator(".output").text_content().startswith("def ")
    page.close()


def test_page_fills_a_sentence(browser, sentences):
    page = browser.new_page()
    page.goto(str(sentences.base_url).rstrip("/") + "/")
    panel = page.locator("[data-run=bert]")
    panel.locator("input[type=text]").fill("the [MASK] statement")
    panel.locator("input[type=text]").press("Enter")
    page.wait_for_selector("[data-run=bert] table td")
    assert panel.locator("td").first.text_content() == "the [MASK] statement"   # the answer's text
    assert len(json.loads(panel.locator("td").nth(1).text_content())[0]) == 5      # 5 candidates
    translate = page.locator("[data-run=numbers]")
    translate.locator("input[type=text]").fill("<b>12</b>")            # echoed, never parsed as HTML
    translate.locator("button.go").click()
    page.wait_for_selector("[data-run=numbers] table td, [data-run=numbers] .error:not(:empty)")
    assert page.locator("[data-run=numbers] b").count() == 0
    page.close()
