"""Message passing on graphs given as an edge index, in plain PyTorch (``index_add_`` and
``scatter_reduce``; no compiled extensions).

A graph of ``N`` nodes is a feature matrix ``x`` (N, F) and an edge index (2, E) of int64: column
``e`` is an edge from ``edge_index[0, e]`` (source) to ``edge_index[1, e]`` (target). Messages flow
from source to target; each node aggregates the messages on its incoming edges. Self-loops,
isolated nodes and repeated edges are all allowed: a repeated edge sends its message twice.

The three steps of every layer here are written out in its ``forward``: gather a message per edge
from the source's features (``x[src]``), aggregate the messages at each target (:func:`scatter`:
sum, mean or max), update the node (a linear map, an MLP, a bias). Gilmer et al. 2017, "Neural
message passing for quantum chemistry" (https://arxiv.org/abs/1704.01212), names the scheme.

Layers: :class:`GCNConv` (Kipf & Welling 2017), :class:`GATConv` (Velickovic et al. 2018),
:class:`SAGEConv` (Hamilton et al. 2017, mean aggregator), :class:`GINConv` (Xu et al. 2019).
Their parameters and outputs match PyTorch Geometric's layers of the same names
(``tests/test_gnn_layers.py`` copies weights across and compares).
"""

from __future__ import annotations

import math
import warnings

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import AnnError

REDUCTIONS = ("sum", "mean", "max")


# --- checks and edge-index helpers -------------------------------------------------------------

def check_graph(x: torch.Tensor | None, edge_index: torch.Tensor, num_nodes: int | None = None,
                allow_empty: bool = True, where: str = "the graph") -> int:
    """Check an edge index (and features) against the node count; returns the node count.

    Raises ``AnnError`` (one line saying what is wrong) for: an edge index that is not (2, E)
    integers, a negative index, an index past the node count, feature rows that do not match the
    node count, and (when ``allow_empty`` is False) a graph with no edges.
    """
    if num_nodes is None:
        if x is None:
            raise AnnError(f"{where}: give the node count or the feature matrix")
        num_nodes = x.size(0)
    if x is not None and x.size(0) != num_nodes:
        raise AnnError(f"{where}: the feature matrix has {x.size(0)} rows but the graph has "
                       f"{num_nodes} nodes; give one feature row per node")
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise AnnError(f"{where}: the edge index must have shape (2, E), got "
                       f"{tuple(edge_index.shape)}")
    if edge_index.dtype.is_floating_point or edge_index.dtype == torch.bool:
        raise AnnError(f"{where}: the edge index must hold integers, got {edge_index.dtype}")
    if edge_index.numel() == 0:
        if not allow_empty:
            raise AnnError(f"{where} has no edges; give at least one edge (a graph network "
                           "learns from its edges)")
        return num_nodes
    low, high = int(edge_index.min()), int(edge_index.max())
    if low < 0:
        raise AnnError(f"{where}: the edge index holds a negative node index ({low}); node "
                       f"indices run from 0 to {num_nodes - 1}")
    if high >= num_nodes:
        raise AnnError(f"{where}: the edge index points at node {high}, past the {num_nodes} "
                       f"nodes (indices 0 to {num_nodes - 1}); add features for that node or "
                       "fix the edge")
    return num_nodes


def remove_self_loops(edge_index: torch.Tensor) -> torch.Tensor:
    """The edges whose source differs from their target. (2, E) -> (2, E')."""
    return edge_index[:, edge_index[0] != edge_index[1]]


def add_self_loops(edge_index: torch.Tensor, num_nodes: int) -> torch.Tensor:
    """Exactly one self-loop per node: existing self-loops are dropped, then one loop per node is
    appended (so a node with a loop in the data does not count it twice). (2, E) -> (2, E'+N)."""
    loops = torch.arange(num_nodes, device=edge_index.device).expand(2, num_nodes)
    return torch.cat([remove_self_loops(edge_index), loops], dim=1)


def degree(index: torch.Tensor, num_nodes: int, dtype=torch.float) -> torch.Tensor:
    """How often each node occurs in ``index`` (E,): its in-degree for ``edge_index[1]``. (N,)"""
    return torch.zeros(num_nodes, dtype=dtype, device=index.device).index_add_(
        0, index, torch.ones(index.numel(), dtype=dtype, device=index.device))


def to_undirected(edge_index: torch.Tensor, num_nodes: int) -> torch.Tensor:
    """Both directions of every edge, each distinct edge once, sorted by (source, target)."""
    both = torch.cat([edge_index, edge_index.flip(0)], dim=1)
    return coalesce(both, num_nodes)


def coalesce(edge_index: torch.Tensor, num_nodes: int) -> torch.Tensor:
    """Distinct edges sorted by (source, target). (2, E) -> (2, E')."""
    key = torch.unique(edge_index[0] * num_nodes + edge_index[1])
    return torch.stack([key // num_nodes, key % num_nodes])


# --- aggregation ---------------------------------------------------------------------------------

def scatter(src: torch.Tensor, index: torch.Tensor, num_nodes: int,
            reduce: str = "sum") -> torch.Tensor:
    """Aggregate the rows of ``src`` that share a target in ``index``.

    A node that receives nothing gets zeros (for every reduction, as in PyG).

    Shapes:
        src (E, *) and index (E,) -> (num_nodes, *).
    """
    out = src.new_zeros((num_nodes, *src.shape[1:]))
    if reduce == "sum":
        return out.index_add_(0, index, src)
    if reduce == "mean":
        count = degree(index, num_nodes, src.dtype).clamp_(min=1)     # (N,)
        return out.index_add_(0, index, src) / count.view(-1, *([1] * (src.dim() - 1)))
    if reduce == "max":
        where = index.view(-1, *([1] * (src.dim() - 1))).expand_as(src)
        return out.scatter_reduce_(0, where, src, reduce="amax", include_self=False)
    raise AnnError(f"unknown aggregation {reduce!r}; choose from: {', '.join(REDUCTIONS)}")


def propagate(x: torch.Tensor, edge_index: torch.Tensor, reduce: str = "sum",
              weight: torch.Tensor | None = None) -> torch.Tensor:
    """Send each source's row of ``x`` along its edges (times ``weight`` per edge, if given) and
    aggregate at the targets.

    Shapes:
        x (N, *), edge_index (2, E), weight (E,) -> (N, *).
    """
    message = x.index_select(0, edge_index[0])                        # (E, *)
    if weight is not None:
        message = message * weight.view(-1, *([1] * (x.dim() - 1)))
    return scatter(message, edge_index[1], x.size(0), reduce)


def segment_softmax(scores: torch.Tensor, index: torch.Tensor, num_nodes: int) -> torch.Tensor:
    """Softmax of edge scores over the incoming edges of each target node.

    Shapes:
        scores (E, *) and index (E,) -> (E, *), summing to 1 over each target's edges.
    """
    e, total = segment_softmax_parts(scores, index, num_nodes)
    return e / (total + 1e-16).index_select(0, index)


def segment_softmax_parts(scores: torch.Tensor, index: torch.Tensor,
                          num_nodes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The numerator and per-node denominator of :func:`segment_softmax`: ``exp(score - max)``
    per edge (the max over the target's edges, for stability) and its sum per target. A layer
    that aggregates ``e * message`` can divide the (N, *) sum once per node instead of every
    edge's weight.

    Shapes:
        scores (E, *) and index (E,) -> e (E, *), total (num_nodes, *).
    """
    where = index.view(-1, *([1] * (scores.dim() - 1))).expand_as(scores)
    high = scores.new_full((num_nodes, *scores.shape[1:]), -math.inf)
    high = high.scatter_reduce(0, where, scores.detach(), reduce="amax", include_self=True)
    e = (scores - high.index_select(0, index)).exp()                  # stable: max is 0
    return e, scatter(e, index, num_nodes, "sum")


def gcn_norm(edge_index: torch.Tensor, num_nodes: int, dtype=torch.float):
    """Kipf & Welling's symmetric normalisation D^-1/2 (A + I) D^-1/2 as an edge list.

    Returns the edges with one self-loop per node and the weight of each edge,
    1 / sqrt(deg(source) deg(target)), degrees counted on the targets including the loop.

    Shapes:
        edge_index (2, E) -> edge_index (2, E' + N), weight (E' + N,).
    """
    edge_index = add_self_loops(edge_index, num_nodes)
    deg = degree(edge_index[1], num_nodes, dtype)                     # (N,), >= 1
    inv_sqrt = deg.pow(-0.5)
    return edge_index, inv_sqrt[edge_index[0]] * inv_sqrt[edge_index[1]]


class EdgeCache:
    """Remembers ``fn(edge_index, *args)`` for the last edge index seen, while the same unmodified
    tensor comes back (full-batch training passes one graph every step), so that self-loops and
    normalisation weights are not rebuilt in every layer and step. Keyed on the tensor's storage,
    version counter, shape and device, and the extra arguments."""

    def __init__(self, fn):
        self.fn, self.key, self.value = fn, None, None

    def __call__(self, edge_index: torch.Tensor, *args):
        key = (edge_index.data_ptr(), edge_index._version, edge_index.shape, edge_index.device,
               *args)
        if key != self.key:
            self.key, self.value = key, self.fn(edge_index, *args)
        return self.value


def dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """``F.dropout``'s function (each entry kept with probability 1 - p and scaled by
    1 / (1 - p)); on the CPU the mask is drawn as ``uniform >= p``, about 3x faster there than
    the Bernoulli kernel ``F.dropout`` uses, which matters on full-batch graphs (GAT drops ~100k
    attention weights per layer and epoch on Cora)."""
    if not training or p == 0:
        return x
    if x.device.type != "cpu" or p >= 1:
        return F.dropout(x, p, True)
    return x * ((torch.rand_like(x) >= p).to(x.dtype) / (1 - p))


def sparse_features(x: torch.Tensor, max_density: float = 0.05) -> torch.Tensor | None:
    """``x`` as a sparse CSR matrix when at most ``max_density`` of its entries are non-zero
    (bag-of-words features: Cora 1.3%, CiteSeer 0.9%), else None (keep it dense). Only plain
    2-D float features on the CPU or CUDA that need no gradient qualify."""
    if (x.dim() != 2 or x.layout != torch.strided or x.requires_grad
            or not x.is_floating_point() or x.device.type not in ("cpu", "cuda")
            or x.numel() == 0):
        return None
    if torch.count_nonzero(x).item() > max_density * x.numel():
        return None
    with warnings.catch_warnings():          # "sparse CSR support is in beta": it is used plainly
        warnings.simplefilter("ignore", UserWarning)
        return x.to_sparse_csr()


class FeatureDropout(nn.Module):
    """Dropout on node features (:func:`dropout`) that hands the next layer a sparse matrix when
    the features are mostly zeros, as Kipf & Welling's and Velickovic et al.'s code do
    (``sparse_dropout``): the function is dense dropout's (zeros stay zero, each non-zero kept
    with probability 1 - p and scaled by 1 / (1 - p)), but only the non-zeros are drawn and the
    layer after it (:func:`linear`) multiplies only them. The sparse copy is made once per
    feature tensor.

    Shapes:
        input (N, F) -> output (N, F), sparse CSR when ``sparse`` and the input is sparse enough.
    """

    def __init__(self, p: float, sparse: bool = True):
        super().__init__()
        self.p, self.sparse = p, sparse
        self.cache = EdgeCache(sparse_features)       # keyed on the feature tensor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xs = self.cache(x) if self.sparse else None
        if xs is None:
            return dropout(x, self.p, self.training)
        if not self.training or self.p == 0:
            return xs
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return torch.sparse_csr_tensor(xs.crow_indices(), xs.col_indices(),
                                           dropout(xs.values(), self.p, True), xs.shape)

    def extra_repr(self) -> str:
        return f"p={self.p}, sparse={self.sparse}"


def linear(x: torch.Tensor, lin: nn.Linear) -> torch.Tensor:
    """``lin(x)`` for dense or sparse ``x`` (N, F) -> (N, out): a sparse input is multiplied
    through its non-zeros only."""
    if x.layout == torch.strided:
        return lin(x)
    out = torch.sparse.mm(x, lin.weight.t())                           # (N, out)
    return out + lin.bias if lin.bias is not None else out


def global_pool(x: torch.Tensor, batch: torch.Tensor, num_graphs: int,
                reduce: str = "sum") -> torch.Tensor:
    """One row per graph: the sum, mean or max of its nodes' rows (``batch`` names each node's
    graph). Shapes: x (N, F), batch (N,) -> (num_graphs, F)."""
    return scatter(x, batch, num_graphs, reduce)


def batch_graphs(graphs) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Join small graphs into one block-diagonal graph: node features stacked, each graph's edge
    indices shifted by the nodes before it, and ``batch`` naming each node's graph.

    Args:
        graphs: a sequence of ``(x, edge_index)`` pairs, x (N_i, F), edge_index (2, E_i).

    Shapes:
        -> x (sum N_i, F), edge_index (2, sum E_i), batch (sum N_i,).
    """
    xs, edges, batch, offset = [], [], [], 0
    for i, (x, edge_index) in enumerate(graphs):
        xs.append(x)
        edges.append(edge_index + offset)
        batch.append(torch.full((x.size(0),), i, dtype=torch.long))
        offset += x.size(0)
    return torch.cat(xs), torch.cat(edges, dim=1), torch.cat(batch)


# --- layers ----------------------------------------------------------------------------------------

def _glorot(weight: torch.Tensor):
    # Glorot & Bengio 2010 uniform on the last two dims, as the GCN and GAT papers initialise.
    fan_in, fan_out = weight.size(-1), weight.size(-2)
    bound = math.sqrt(6.0 / (fan_in + fan_out))
    nn.init.uniform_(weight, -bound, bound)


class GCNConv(nn.Module):
    """Graph convolution (Kipf & Welling 2017, https://arxiv.org/abs/1609.02907, eq. 2):
    ``x' = D^-1/2 (A + I) D^-1/2 x W + b``; one self-loop per node, degrees counted on targets.

    Shapes:
        x (N, in_channels), edge_index (2, E) -> (N, out_channels).
    """

    def __init__(self, in_channels: int, out_channels: int, bias: bool = True):
        super().__init__()
        self.lin = nn.Linear(in_channels, out_channels, bias=False)
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        _glorot(self.lin.weight)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor,
                norm: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        """``norm``: the output of :func:`gcn_norm` for this graph, when the caller has it."""
        edge_index, weight = norm if norm is not None else gcn_norm(edge_index, x.size(0), x.dtype)
        out = propagate(linear(x, self.lin), edge_index, "sum", weight)  # (N, out)
        return out + self.bias if self.bias is not None else out


class GATConv(nn.Module):
    """Graph attention (Velickovic et al. 2018, https://arxiv.org/abs/1710.10903, eq. 3-6).

    Per head, ``e_ij = LeakyReLU(a_src . W x_j + a_dst . W x_i)`` on every edge j -> i (plus one
    self-loop per node), softmax over i's incoming edges, dropout on the attention weights, then
    ``x'_i = sum_j alpha_ij W x_j``. Heads are concatenated (``concat``) or averaged, then a bias.

    Shapes:
        x (N, in_channels), edge_index (2, E) -> (N, heads * out_channels) if concat else
        (N, out_channels).
    """

    def __init__(self, in_channels: int, out_channels: int, heads: int = 1, concat: bool = True,
                 negative_slope: float = 0.2, dropout: float = 0.0, bias: bool = True):
        super().__init__()
        self.heads, self.out_channels, self.concat = heads, out_channels, concat
        self.negative_slope, self.dropout = negative_slope, dropout
        self.lin = nn.Linear(in_channels, heads * out_channels, bias=False)
        self.att_src = nn.Parameter(torch.empty(1, heads, out_channels))
        self.att_dst = nn.Parameter(torch.empty(1, heads, out_channels))
        self.bias = nn.Parameter(torch.zeros(heads * out_channels if concat else out_channels)) \
            if bias else None
        for w in (self.lin.weight, self.att_src, self.att_dst):
            _glorot(w)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor,
                loops: torch.Tensor | None = None) -> torch.Tensor:
        """``loops``: ``add_self_loops(edge_index, N)``, when the caller has it."""
        n, h, c = x.size(0), self.heads, self.out_channels
        edge_index = loops if loops is not None else add_self_loops(edge_index, n)
        src, dst = edge_index
        z = linear(x, self.lin).view(n, h, c)                          # (N, H, C)
        a_src = (z * self.att_src).sum(-1)                             # (N, H)
        a_dst = (z * self.att_dst).sum(-1)                             # (N, H)
        scores = F.leaky_relu(a_src.index_select(0, src) + a_dst.index_select(0, dst),
                              self.negative_slope)                     # (E, H)
        # alpha = e / total[dst] (softmax over i's incoming edges) and dropout on alpha; the
        # division by total is the same for all of i's edges, so it is done once per node
        # after the sum: sum_j drop(e_ij) z_j / total_i = sum_j drop(alpha_ij) z_j
        e, total = segment_softmax_parts(scores, dst, n)               # (E, H), (N, H)
        e = dropout(e, self.dropout, self.training)
        message = z.index_select(0, src) * e.unsqueeze(-1)             # (E, H, C)
        out = scatter(message, dst, n, "sum") / (total + 1e-16).unsqueeze(-1)   # (N, H, C)
        out = out.reshape(n, h * c) if self.concat else out.mean(dim=1)
        return out + self.bias if self.bias is not None else out


class SAGEConv(nn.Module):
    """GraphSAGE with the mean aggregator (Hamilton et al. 2017,
    https://arxiv.org/abs/1706.02216, alg. 1 with concatenation written as a sum of two maps):
    ``x'_i = W_l mean_{j -> i} x_j + b + W_r x_i``. A node with no incoming edge aggregates zeros.

    Shapes:
        x (N, in_channels), edge_index (2, E) -> (N, out_channels).
    """

    def __init__(self, in_channels: int, out_channels: int, bias: bool = True):
        super().__init__()
        self.lin_l = nn.Linear(in_channels, out_channels, bias=bias)   # the neighbours' mean
        self.lin_r = nn.Linear(in_channels, out_channels, bias=False)  # the node itself

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        return self.lin_l(propagate(x, edge_index, "mean")) + self.lin_r(x)


class GINConv(nn.Module):
    """Graph isomorphism network layer (Xu et al. 2019, https://arxiv.org/abs/1810.00826,
    eq. 4.1): ``x'_i = MLP((1 + eps) x_i + sum_{j -> i} x_j)``; GIN-0 fixes eps = 0.

    Shapes:
        x (N, F_in), edge_index (2, E) -> (N, F_out) of ``mlp``.
    """

    def __init__(self, mlp: nn.Module, eps: float = 0.0, train_eps: bool = False):
        super().__init__()
        self.mlp = mlp
        if train_eps:
            self.eps = nn.Parameter(torch.tensor([eps]))
        else:
            self.register_buffer("eps", torch.tensor([eps]))

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        return self.mlp((1 + self.eps) * x + propagate(x, edge_index, "sum"))
