"""ann's spiking MLP against the same network built of snnTorch neurons, same data, same run.

    python benchmarks/snn_peer.py                            # digits, 64-128-10, 16 steps, 10 epochs
    python benchmarks/snn_peer.py --data mnist --hidden 500 --epochs 1   # (ANN_DATA_DIR)

Both sides start from the same weights (ann's ``snn`` model's, copied into ``nn.Linear`` layers
feeding ``snntorch.Leaky`` neurons with the same beta, threshold, reset by subtraction and fast
sigmoid surrogate), train with Adam at the same rate on the same batches of the same rate-coded
spike trains (drawn once per batch from one generator and handed to both), with the same loss
(cross-entropy of the output spike counts). They differ only in their own code: ann computes
each layer's currents for all T steps in one product and runs the LIF recurrence over them
(``ann.models.spiking.snn.Leaky``); snnTorch is driven the way its tutorials drive it, one time
step at a time through every layer. The epochs alternate (ann, then snnTorch, each epoch), so
both see the same machine load; the step time is the median over each side's steps. Test
accuracy is read with spikes drawn from a fixed seed, the same for both. Results go to
benchmarks/results/snn_peer/DATA.json.
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
from ann.registry import create_model, load_dataset  # noqa: E402

HERE = Path(__file__).resolve().parent


def ann_counts(net, spikes):
    h = spikes
    for fc, lif in zip(net.fcs, net.lifs):
        h, _ = lif(fc(h))                                          # (B, T, N)
    return h.sum(1)


class PeerNet(torch.nn.Module):
    """The same layers with snnTorch's Leaky neurons, run step by step."""

    def __init__(self, net):
        import snntorch
        from snntorch import surrogate

        super().__init__()
        c = net.config
        self.fcs = torch.nn.ModuleList(torch.nn.Linear(fc.in_features, fc.out_features)
                                       for fc in net.fcs)
        self.fcs.load_state_dict(net.fcs.state_dict())
        self.lifs = torch.nn.ModuleList(
            snntorch.Leaky(beta=c.beta, threshold=c.threshold, reset_mechanism="subtract",
                           spike_grad=surrogate.fast_sigmoid(slope=c.slope)) for _ in net.fcs)

    def forward(self, spikes):
        mems = [lif.init_leaky() for lif in self.lifs]
        count = 0
        for t in range(spikes.shape[1]):
            h = spikes[:, t]
            for i, (fc, lif) in enumerate(zip(self.fcs, self.lifs)):
                h, mems[i] = lif(fc(h), mems[i])
            count = count + h
        return count


def encode(net, x, generator):
    """Rate-coded spikes (B, T, D) of standardized images, as the ann model draws them."""
    c = net.config
    p = (x.flatten(1) * c.std + c.mean).clamp(0, 1)
    seq = p.unsqueeze(1).expand(-1, c.steps, -1)
    return (torch.rand(seq.shape, generator=generator) < seq).float()


def accuracy(forward, net, x, y, batch=1000):
    g = torch.Generator().manual_seed(123)
    right = 0
    with torch.no_grad():
        for a in range(0, len(x), batch):
            right += (forward(encode(net, x[a:a + batch], g)).argmax(-1) == y[a:a + batch]).sum()
    return int(right) / len(x)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="digits")
    p.add_argument("--hidden", type=int, nargs="+", default=[128])
    p.add_argument("--steps", type=int, default=16, help="time steps T")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=5e-3)
    p.add_argument("--max-batches", type=int, default=0, help="stop each epoch after this many")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="", help="default benchmarks/results/snn_peer/DATA.json")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    train, test = load_dataset(a.data, "train"), load_dataset(a.data, "test")
    info = train.info
    x, y = train.batch(slice(0, len(train)))[:2]
    tx, ty = test.batch(slice(0, len(test)))[:2]
    torch.manual_seed(a.seed)
    net = create_model("snn", image_size=info["image_size"], hidden=tuple(a.hidden),
                       steps=a.steps, mean=info["mean"], std=info["std"])
    peer = PeerNet(net)
    sides = {"ann": (lambda s: ann_counts(net, s), net),
             "snntorch": (peer, peer)}
    opts = {k: torch.optim.Adam(m.parameters(), lr=a.lr) for k, (_, m) in sides.items()}
    times = {k: [] for k in sides}
    history = []
    for epoch in range(a.epochs):
        order = torch.randperm(len(x), generator=torch.Generator().manual_seed(a.seed + epoch))
        batches = [order[i:i + a.batch] for i in range(0, len(x), a.batch)]
        batches = batches[:a.max_batches] if a.max_batches else batches
        for side, (forward, _) in sides.items():               # alternating, same batches
            g = torch.Generator().manual_seed(1000 + epoch)
            for idx in batches:
                spikes = encode(net, x[idx], g)
                start = time.perf_counter()
                loss = F.cross_entropy(forward(spikes), y[idx])
                opts[side].zero_grad(set_to_none=True)
                loss.backward()
                opts[side].step()
                times[side].append(time.perf_counter() - start)
        row = {"epoch": epoch + 1, **{f"{k}_test_accuracy": accuracy(f, net, tx, ty)
                                      for k, (f, _) in sides.items()}}
        history.append(row)
        print(row, flush=True)
    step = {k: statistics.median(v) for k, v in times.items()}
    last = history[-3:]                 # the last epochs' mean: one epoch's figure is noisy
    tail = {k: statistics.mean(r[f"{k}_test_accuracy"] for r in last) for k in sides}
    result = {"data": a.data, "hidden": a.hidden, "steps": a.steps, "epochs": a.epochs,
              "batch": a.batch, "lr": a.lr, "max_batches": a.max_batches, "seed": a.seed,
              **{k: {"test_accuracy": history[-1][f"{k}_test_accuracy"],
                     "mean_test_accuracy_last_epochs": tail[k], "last_epochs": len(last),
                     "step_s": step[k]} for k in sides},
              "step_ratio": step["snntorch"] / step["ann"], "history": history,
              "command": "python benchmarks/snn_peer.py " + " ".join(argv or sys.argv[1:]),
              "machine": machine()}
    fileio.write_json(Path(a.out or HERE / "results" / "snn_peer" / f"{a.data}.json"), result)
    print(f"test accuracy ann {result['ann']['test_accuracy']:.4f}, snntorch "
          f"{result['snntorch']['test_accuracy']:.4f} | median step ann {step['ann'] * 1e3:.1f} ms,"
          f" snntorch {step['snntorch'] * 1e3:.1f} ms (snntorch / ann {result['step_ratio']:.2f});"
          f" mean of the last {len(last)} epochs: ann {tail['ann']:.4f}, snntorch "
          f"{tail['snntorch']:.4f}")
    return result


if __name__ == "__main__":
    main()
