"""Full-batch training epochs of ann's GCN and GAT against PyTorch Geometric's, same run.

    python benchmarks/gnn_speed.py                         # Cora and CiteSeer, GCN and GAT
    python benchmarks/gnn_speed.py --rounds 20 --threads 1

Both sides build the same network (GCN: 2 layers, hidden 16, dropout 0.5; GAT: 8 heads x 8,
dropout 0.6, one averaged output head), start from the same weights (ann's copied into PyG's),
read the same graph (ann's Planetoid loader, row-normalised features) and train with Adam.
An epoch is one forward pass over the whole graph, cross-entropy on the training nodes, the
backward pass and the optimizer step. PyG's GCNConv runs with ``cached=True`` (its own setting
for transductive GCN, as ann caches the normalised edge list of an unchanged graph). Each round
times one epoch of ann, then one of PyG, alternating the order, so a noisy shared machine slows
both alike; the figure is the median epoch time, and the ratio is PyG's time over ann's (> 1:
ann is faster). Results go to benchmarks/results/speed/gnn.json.

ann's models drop out and multiply the bag-of-words input features as a sparse matrix
(``model.sparse_input``, on by default, as Kipf & Welling's and Velickovic et al.'s code do);
PyG's layers, as its examples use them, take the dense feature matrix. A third model, ann with
``sparse_input=False``, is timed in the same rounds (the "dense input" rows) so that the table
also shows the like-for-like dense comparison.
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
from ann.data.planetoid import planetoid  # noqa: E402
from ann.registry import create_model  # noqa: E402

HERE = Path(__file__).resolve().parent


class PygGCN(torch.nn.Module):
    def __init__(self, ours):
        from torch_geometric.nn import GCNConv

        super().__init__()
        c1, c2 = ours.convs[0], ours.head
        self.conv1 = GCNConv(c1.lin.in_features, c1.lin.out_features, cached=True)
        self.conv2 = GCNConv(c2.lin.in_features, c2.lin.out_features, cached=True)
        for theirs, mine in ((self.conv1, c1), (self.conv2, c2)):
            theirs.lin.weight.data.copy_(mine.lin.weight)
            theirs.bias.data.copy_(mine.bias)
        self.p = ours.config.dropout

    def forward(self, x, edge_index):
        x = F.dropout(x, self.p, self.training)
        x = F.relu(self.conv1(x, edge_index))
        return self.conv2(F.dropout(x, self.p, self.training), edge_index)


class PygGAT(torch.nn.Module):
    def __init__(self, ours):
        from torch_geometric.nn import GATConv

        super().__init__()
        c = ours.config
        self.conv1 = GATConv(c.in_channels, c.hidden, c.heads, dropout=c.dropout)
        self.conv2 = GATConv(c.hidden * c.heads, c.num_classes, c.out_heads, concat=False,
                             dropout=c.dropout)
        for theirs, mine in ((self.conv1, ours.conv1), (self.conv2, ours.conv2)):
            theirs.load_state_dict({"lin.weight": mine.lin.weight, "att_src": mine.att_src,
                                    "att_dst": mine.att_dst, "bias": mine.bias}, strict=False)
        self.p = c.dropout

    def forward(self, x, edge_index):
        x = F.elu(self.conv1(F.dropout(x, self.p, self.training), edge_index))
        return self.conv2(F.dropout(x, self.p, self.training), edge_index)


def build(model: str, dataset: str):
    """The graph and (model, optimizer) for ann, PyG and ann with dense input, same weights."""
    graph = planetoid(dataset)
    info = {"in_channels": graph.x.size(1), "num_classes": int(graph.y.max()) + 1}
    torch.manual_seed(0)
    preset, peer, lr = ("kipf", PygGCN, 0.01) if model == "gcn" else ("velickovic", PygGAT, 0.005)
    ours = create_model(model, preset, **info)
    dense = create_model(model, preset, sparse_input=False, **info)
    dense.load_state_dict(ours.state_dict())
    return graph, [(m, torch.optim.Adam(m.parameters(), lr=lr)) for m in (ours, peer(ours), dense)]


def epoch(model, opt, graph) -> float:
    start = time.perf_counter()
    model.train()
    opt.zero_grad(set_to_none=True)
    mask = graph.masks["train"]
    loss = F.cross_entropy(model(graph.x, graph.edge_index)[mask], graph.y[mask])
    loss.backward()
    opt.step()
    return time.perf_counter() - start


def measure(model: str, dataset: str, rounds: int, warmup: int) -> dict:
    graph, pair = build(model, dataset)
    for _ in range(warmup):
        for m, o in pair:
            epoch(m, o, graph)
    times = ([], [], [])
    for r in range(rounds):
        for i in ((0, 1, 2) if r % 2 == 0 else (2, 1, 0)):
            times[i].append(epoch(*pair[i], graph))
    ann_s, pyg_s, dense_s = (statistics.median(t) for t in times)
    return [{"model": model, "dataset": dataset, "ann_ms": 1000 * ann_s, "pyg_ms": 1000 * pyg_s,
             "speedup": pyg_s / ann_s, "rounds": rounds},
            {"model": model, "dataset": f"{dataset}, dense input (model.sparse_input=False)",
             "ann_ms": 1000 * dense_s, "pyg_ms": 1000 * pyg_s, "speedup": pyg_s / dense_s,
             "rounds": rounds}]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=30, help="timed epochs per side and setting")
    p.add_argument("--warmup", type=int, default=5, help="untimed epochs first")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--datasets", default="cora,citeseer")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    import torch_geometric

    rows = []
    for dataset in args.datasets.split(","):
        for model in ("gcn", "gat"):
            for row in measure(model, dataset, args.rounds, args.warmup):
                rows.append(row)
                print(f"{model} {row['dataset']}: ann {row['ann_ms']:.1f} ms, PyG "
                      f"{row['pyg_ms']:.1f} ms per epoch -> ann/PyG speed {row['speedup']:.2f}x",
                      flush=True)
    command = (f"python benchmarks/gnn_speed.py --rounds {args.rounds} --threads {args.threads}"
               + (f" --datasets {args.datasets}" if args.datasets != "cora,citeseer" else ""))
    fileio.write_json(HERE / "results" / "speed" / "gnn.json", {
        "kind": "gnn", "rows": rows, "peer": f"torch_geometric {torch_geometric.__version__}",
        "command": command, "date": time.strftime("%Y-%m-%d"), "machine": machine()})


if __name__ == "__main__":
    sys.exit(main())
