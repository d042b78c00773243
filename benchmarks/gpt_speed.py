"""GPT training-step throughput: ann's GPT against Hugging Face's GPT2LMHeadModel, same run.

    python benchmarks/gpt_speed.py                  # 6 layers x 384 wide, 6 heads, T 256, B 12
    python benchmarks/gpt_speed.py --rounds 5 --steps 5 --threads 2

Both models get the same configuration (vocabulary 65 as character-level Shakespeare, GELU with
the tanh approximation, no dropout, tied embeddings), the same batches and the same optimizer
(AdamW, torch's default implementation). Each round times `--steps` full training steps
(forward, cross-entropy, backward, optimizer step) of one model, then of the other, alternating
the order, so a noisy shared machine slows both alike; the result is the median of the rounds.

Model FLOP utilisation (MFU, Chowdhery et al. 2022, appendix B) counts 6 FLOPs per parameter per
token plus 12 * layers * T * width for attention, and divides by a peak this script measures
itself: the best fp32 matrix-multiply rate (2048^3) of a few tries on the same threads. Results
go to benchmarks/results/speed/gpt.json (BENCHMARKS.md is rendered from it).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from recipes import machine  # noqa: E402

from ann import fileio  # noqa: E402
from ann.registry import create_model  # noqa: E402

HERE = Path(__file__).resolve().parent
CONFIG = dict(vocab_size=65, block_size=256, n_layer=6, n_head=6, n_embd=384)


def matmul_peak(n: int = 2048, tries: int = 5) -> float:
    """Best measured fp32 matrix-multiply rate, FLOP/s."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = 0.0
    for _ in range(tries):
        start = time.perf_counter()
        a @ b
        best = max(best, 2 * n**3 / (time.perf_counter() - start))
    return best


def ann_model():
    return create_model("gpt", **CONFIG, dropout=0.0, activation="gelu_tanh")


def hf_model():
    import transformers

    conf = transformers.GPT2Config(
        vocab_size=CONFIG["vocab_size"], n_positions=CONFIG["block_size"], n_embd=CONFIG["n_embd"],
        n_layer=CONFIG["n_layer"], n_head=CONFIG["n_head"], resid_pdrop=0.0, embd_pdrop=0.0,
        attn_pdrop=0.0, activation_function="gelu_new", tie_word_embeddings=True,
        bos_token_id=None, eos_token_id=None)
    return transformers.GPT2LMHeadModel(conf)


def logits_ann(model, x):
    return model(x)


def logits_hf(model, x):
    return model(input_ids=x).logits


def trainer(model, logits_fn):
    """A closure doing one training step on a batch (x, y)."""
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    model.train()

    def step(x, y):
        logits = logits_fn(model, x)  # (B, T, V)
        loss = F.cross_entropy(logits.flatten(0, 1), y.flatten())
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss.item()

    return step


def flops_per_token(model) -> float:
    n = sum(p.numel() for p in model.parameters())  # tied head counted once, as it is one matmul
    L, T, C = CONFIG["n_layer"], CONFIG["block_size"], CONFIG["n_embd"]
    return 6 * n + 12 * L * T * C


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch-size", type=int, default=12)
    p.add_argument("--steps", type=int, default=4, help="timed steps per model per round")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    peak = matmul_peak()
    models = {"ann": ann_model(), "hf": hf_model()}
    steps = {"ann": trainer(models["ann"], logits_ann), "hf": trainer(models["hf"], logits_hf)}
    B, T = args.batch_size, CONFIG["block_size"]
    g = torch.Generator().manual_seed(0)
    data = torch.randint(0, CONFIG["vocab_size"], (args.steps, B, T + 1), generator=g)
    for name in steps:  # warm-up: allocator, kernels, optimizer state
        steps[name](data[0, :, :-1], data[0, :, 1:])
    times = {"ann": [], "hf": []}
    for r in range(args.rounds):
        order = ["ann", "hf"] if r % 2 == 0 else ["hf", "ann"]
        for name in order:
            start = time.perf_counter()
            for s in range(args.steps):
                steps[name](data[s, :, :-1], data[s, :, 1:])
            times[name].append((time.perf_counter() - start) / args.steps)
        print(f"round {r + 1}: " + ", ".join(f"{n} {B * T / times[n][-1]:,.0f} tokens/s"
                                            for n in ("ann", "hf")), flush=True)
    result = {"config": {**CONFIG, "batch_size": B, "dropout": 0.0}, "peak_flops": peak,
              "rounds": args.rounds, "steps_per_round": args.steps, "machine": machine(),
              "command": "python benchmarks/gpt_speed.py " + " ".join(argv or sys.argv[1:])}
    for name, model in models.items():
        step_s = statistics.median(times[name])
        tps = B * T / step_s
        result[name] = {"step_s": round(step_s, 4), "tokens_per_s": round(tps, 1),
                        "parameters": sum(p.numel() for p in model.parameters()),
                        "mfu": round(tps * flops_per_token(model) / peak, 4)}
    result["speedup"] = round(result["ann"]["tokens_per_s"] / result["hf"]["tokens_per_s"], 3)
    result["date"] = time.strftime("%Y-%m-%d")
    fileio.write_json(HERE / "results" / "speed" / "gpt.json", result)
    print(f"peak {peak / 1e9:.0f} GFLOP/s | ann {result['ann']['tokens_per_s']:,.0f} tokens/s "
          f"(MFU {result['ann']['mfu']:.1%}) | hf {result['hf']['tokens_per_s']:,.0f} tokens/s "
          f"(MFU {result['hf']['mfu']:.1%}) | ann/hf {result['speedup']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
