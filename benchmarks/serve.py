"""`ann serve` throughput and latency: an image classifier with and without micro-batching, and
streamed GPT completions.

    python benchmarks/serve.py                                  # trains cnn-mnist and gpt-shakespeare
    python benchmarks/serve.py --classifier runs/cnn-mnist-... --lm runs/gpt-shakespeare-...
    python benchmarks/serve.py --recipe cnn-digits --lm-recipe gpt-pydoc --requests 200   # no downloads

Classifier: for 1, 8 and 64 concurrent clients (threads, each with its own HTTP connection on
127.0.0.1), `--requests` POSTs of one test image each to `/v1/runs/NAME/predict`, once against a
server that batches requests arriving together and once against one that answers each alone
(`--no-batching`), the two servers started one after the other, each in its own process.
It records requests/s, p50 and p99 latency, and the ratio batched / unbatched.

Language model: `--completions` streamed completions of `--tokens` tokens through the official
`openai` client, one at a time: time to first token (request sent to first text chunk) and
tokens/s after it (generation uses the model's key-value cache).

Results go to benchmarks/results/speed/serve.json.
"""

from __future__ import annotations

import argparse
import base64
import concurrent.futures
import io
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from recipes import machine  # noqa: E402

import ann  # noqa: E402
from ann import fileio  # noqa: E402

HERE = Path(__file__).resolve().parent
CLIENTS = (1, 8, 64)


class Server:
    """``ann serve RUNS`` in its own process on a free port of 127.0.0.1 (so that the clients'
    threads do not share its interpreter), ready once ``/healthz`` answers."""

    def __init__(self, run_dirs, batching: bool = True):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.argv = [sys.executable, "-m", "ann", "serve", *map(str, run_dirs), "--port",
                     str(self.port), *([] if batching else ["--no-batching"])]

    def __enter__(self):
        import httpx

        env = dict(os.environ, PYTHONPATH=str(HERE.parent / "src"))
        self.proc = subprocess.Popen(self.argv, env=env, stdout=subprocess.DEVNULL)
        for _ in range(1200):
            try:
                if httpx.get(self.url + "/healthz").status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.05)
            if self.proc.poll() is not None:
                raise SystemExit(f"ann serve exited with {self.proc.returncode}")
        raise SystemExit("ann serve did not start within a minute")

    def __exit__(self, *exc):
        self.proc.send_signal(signal.SIGINT)          # Ctrl-C: requests in flight finish
        self.proc.wait(60)


def test_image(run) -> dict:
    """One image of the run's test split as a .npy file on the data's raw scale."""
    import torch

    from ann.api import load_split

    x = load_split(run.config, "test").batch(slice(0, 1))[0][0]      # (C, H, W), standardised
    info = run.info
    mean = torch.as_tensor(info["mean"], dtype=torch.float32).reshape(-1, 1, 1)
    std = torch.as_tensor(info["std"], dtype=torch.float32).reshape(-1, 1, 1)
    raw = (x * std + mean) * info["scale"]                           # back to the raw scale
    buf = io.BytesIO()
    np.save(buf, raw.numpy().astype("float32"))
    return {"name": "x.npy", "base64": base64.b64encode(buf.getvalue()).decode()}


def load_test(url: str, path: str, body: dict, clients: int, requests: int) -> dict:
    """``requests`` POSTs shared among ``clients`` threads: requests/s, p50 and p99 (ms)."""
    import httpx

    latencies: list[float] = []
    errors = [0]

    def client(k: int):
        with httpx.Client(base_url=url, timeout=120) as c:
            for _ in range(k, requests, clients):
                start = time.perf_counter()
                r = c.post(path, json=body)
                latencies.append(time.perf_counter() - start)
                errors[0] += r.status_code != 200

    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, range(clients)))
    wall = time.perf_counter() - start
    ms = sorted(t * 1000 for t in latencies)
    return {"clients": clients, "requests": len(ms), "errors": errors[0],
            "requests_per_s": round(len(ms) / wall, 2), "p50_ms": round(ms[len(ms) // 2], 2),
            "p99_ms": round(ms[min(len(ms) - 1, int(len(ms) * 0.99))], 2)}


def classifier_bench(run_dir: Path, requests: int) -> dict:
    run = ann.load(run_dir)
    body = {"files": [test_image(run)]}
    name = run_dir.resolve().name
    out = {"run": name, "recipe": run.config.recipe}
    for batching in (True, False):
        with Server([run_dir], batching=batching) as s:
            load_test(s.url, f"/v1/runs/{name}/predict", body, 8, 50)           # warm up
            rows = [load_test(s.url, f"/v1/runs/{name}/predict", body, c, requests) for c in CLIENTS]
            out["batched" if batching else "unbatched"] = rows
            for r in rows:
                print(f"  {'batched' if batching else 'one by one':>10}  {r['clients']:>2} clients  "
                      f"{r['requests_per_s']:>8.1f} req/s  p50 {r['p50_ms']:>7.1f} ms  "
                      f"p99 {r['p99_ms']:>7.1f} ms", flush=True)
    out["ratio"] = {str(c): round(b["requests_per_s"] / u["requests_per_s"], 2)
                    for c, b, u in zip(CLIENTS, out["batched"], out["unbatched"])}
    return out


def lm_bench(run_dir: Path, completions: int, tokens: int) -> dict:
    import openai

    name = run_dir.resolve().name
    with Server([run_dir]) as s:
        client = openai.OpenAI(base_url=s.url + "/v1", api_key="-", max_retries=0)
        ttft, rates = [], []
        for i in range(completions + 1):
            start = time.perf_counter()
            first, count = None, 0
            for chunk in client.completions.create(model=name, prompt="\n", max_tokens=tokens,
                                                   temperature=0.8, seed=i, stream=True):
                if chunk.choices and chunk.choices[0].text:
                    count += 1
                    first = first or time.perf_counter()
            end = time.perf_counter()
            if i == 0:
                continue                                     # warm-up
            ttft.append((first - start) * 1000)
            rates.append((count - 1) / (end - first))
    out = {"run": name, "tokens": tokens, "completions": completions,
           "ttft_ms_p50": round(statistics.median(ttft), 2),
           "tokens_per_s_median": round(statistics.median(rates), 1)}
    print(f"  streamed completions: time to first token {out['ttft_ms_p50']} ms, "
          f"{out['tokens_per_s_median']} tokens/s", flush=True)
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--classifier", type=Path, help="a trained image classifier run (default: train --recipe)")
    p.add_argument("--recipe", default="cnn-mnist", help="the classifier recipe to train (default cnn-mnist)")
    p.add_argument("--lm", type=Path, help="a trained language-model run (default: train --lm-recipe)")
    p.add_argument("--lm-recipe", default="gpt-shakespeare", help="default gpt-shakespeare")
    p.add_argument("--requests", type=int, default=2000, help="requests per client count (default 2000)")
    p.add_argument("--completions", type=int, default=10, help="streamed completions (default 10)")
    p.add_argument("--tokens", type=int, default=200, help="tokens per completion (default 200)")
    p.add_argument("--out", type=Path, default=HERE / "results" / "speed" / "serve.json")
    args = p.parse_args()
    work = HERE / "results" / "runs"                    # ignored by git
    classifier = args.classifier or ann.train(args.recipe, out=work / args.recipe, quiet=True).path
    lm = args.lm or ann.train(args.lm_recipe, out=work / args.lm_recipe, quiet=True).path
    print(f"classifier {classifier}")
    result = {"machine": machine(), "classifier": classifier_bench(Path(classifier), args.requests)}
    print(f"language model {lm}")
    result["lm"] = lm_bench(Path(lm), args.completions, args.tokens)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fileio.write_json(args.out, result)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
