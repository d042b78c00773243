"""The message-passing core and the graph layers against PyTorch Geometric (weights copied across)
and against dense computations written out here."""

import pytest
import torch

from ann.errors import AnnError
from ann.layers import message_passing as mp


def random_graph(n=12, e=40, f=5, seed=0):
    """Random edges with self-loops, a repeated edge and isolated nodes (the last two)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, f, generator=g)
    edges = torch.randint(0, n - 2, (2, e), generator=g)
    extra = torch.tensor([[0, 0, 3, 5, 5], [0, 1, 3, 6, 6]])     # loops 0->0, 3->3; 5->6 twice
    return x, torch.cat([edges, extra], dim=1)


GRAPHS = [random_graph(seed=s) for s in range(3)]


@pytest.mark.parametrize("graph", GRAPHS)
def test_gcn_matches_pyg(graph):
    pyg = pytest.importorskip("torch_geometric.nn")
    x, edge_index = graph
    ref = pyg.GCNConv(5, 7)
    torch.nn.init.normal_(ref.bias)
    ours = mp.GCNConv(5, 7)
    ours.lin.weight.data.copy_(ref.lin.weight)
    ours.bias.data.copy_(ref.bias)
    torch.testing.assert_close(ours(x, edge_index), ref(x, edge_index), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("concat", [True, False])
@pytest.mark.parametrize("graph", GRAPHS)
def test_gat_matches_pyg(graph, concat):
    pyg = pytest.importorskip("torch_geometric.nn")
    x, edge_index = graph
    ref = pyg.GATConv(5, 4, heads=3, concat=concat)
    torch.nn.init.normal_(ref.bias)
    ours = mp.GATConv(5, 4, heads=3, concat=concat)
    ours.load_state_dict({"lin.weight": ref.lin.weight, "att_src": ref.att_src,
                          "att_dst": ref.att_dst, "bias": ref.bias})
    torch.testing.assert_close(ours(x, edge_index), ref(x, edge_index), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("graph", GRAPHS)
def test_sage_matches_pyg(graph):
    pyg = pytest.importorskip("torch_geometric.nn")
    x, edge_index = graph
    ref = pyg.SAGEConv(5, 6)
    ours = mp.SAGEConv(5, 6)
    ours.load_state_dict({"lin_l.weight": ref.lin_l.weight, "lin_l.bias": ref.lin_l.bias,
                          "lin_r.weight": ref.lin_r.weight})
    torch.testing.assert_close(ours(x, edge_index), ref(x, edge_index), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("graph", GRAPHS)
def test_gin_matches_pyg(graph):
    pyg = pytest.importorskip("torch_geometric.nn")
    x, edge_index = graph
    mlp = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    ref = pyg.GINConv(mlp, eps=0.25)
    ours = mp.GINConv(mlp, eps=0.25)
    torch.testing.assert_close(ours(x, edge_index), ref(x, edge_index), atol=1e-5, rtol=1e-5)


def test_pooling_matches_pyg():
    pyg = pytest.importorskip("torch_geometric.nn")
    x = torch.randn(10, 3)
    batch = torch.tensor([0, 0, 0, 1, 1, 3, 3, 3, 3, 3])                 # graph 2 has no nodes
    for ours, ref in [("sum", pyg.global_add_pool), ("mean", pyg.global_mean_pool),
                      ("max", pyg.global_max_pool)]:
        got = mp.global_pool(x, batch, 4, ours)
        want = ref(x, batch, size=4)
        torch.testing.assert_close(got[[0, 1, 3]], want[[0, 1, 3]])


def test_gcn_equals_dense_formula():
    x, edge_index = random_graph(n=8, e=20, f=3, seed=4)
    n = 8
    adj = torch.zeros(n, n)
    plain = mp.remove_self_loops(edge_index)
    adj.index_put_((plain[1], plain[0]), torch.ones(plain.size(1)), accumulate=True)  # A[dst, src]
    adj += torch.eye(n)
    d = adj.sum(1).pow(-0.5)
    layer = mp.GCNConv(3, 2)
    want = d[:, None] * adj * d[None, :] @ (x @ layer.lin.weight.T) + layer.bias
    torch.testing.assert_close(layer(x, edge_index), want, atol=1e-5, rtol=1e-5)


def test_segment_softmax_sums_to_one():
    scores = torch.randn(7, 2)
    index = torch.tensor([0, 0, 1, 1, 1, 3, 3])
    out = mp.segment_softmax(scores, index, 4)
    sums = mp.scatter(out, index, 4)
    torch.testing.assert_close(sums[[0, 1, 3]], torch.ones(3, 2))
    torch.testing.assert_close(out[:2], torch.softmax(scores[:2], 0))


def test_batch_graphs_is_block_diagonal():
    a = (torch.ones(3, 2), torch.tensor([[0, 1], [1, 2]]))
    b = (torch.zeros(2, 2), torch.tensor([[0], [1]]))
    x, edge_index, batch = mp.batch_graphs([a, b])
    assert x.shape == (5, 2)
    assert edge_index.tolist() == [[0, 1, 3], [1, 2, 4]]
    assert batch.tolist() == [0, 0, 0, 1, 1]


def test_isolated_nodes_and_loops_are_fine():
    x = torch.randn(4, 3)
    edge_index = torch.tensor([[0, 1, 1], [1, 0, 1]])                   # node 2, 3 isolated
    for layer in (mp.GCNConv(3, 2), mp.GATConv(3, 2, heads=2), mp.SAGEConv(3, 2)):
        out = layer(x, edge_index)
        assert torch.isfinite(out).all()


@pytest.mark.parametrize("edges,x,words", [
    ([[0, 1], [1, 5]], torch.zeros(3, 2), ["node 5", "past the 3 nodes"]),
    ([[0, -1], [1, 0]], torch.zeros(3, 2), ["negative"]),
    ([[0, 1], [1, 0]], None, ["feature matrix has 2 rows", "4 nodes"]),
    ([[], []], torch.zeros(3, 2), ["no edges"]),
])
def test_check_graph_errors(edges, x, words):
    edge_index = torch.tensor(edges, dtype=torch.long)
    if x is None:
        x, n = torch.zeros(2, 2), 4
    else:
        n = None
    with pytest.raises(AnnError) as err:
        mp.check_graph(x, edge_index, n, allow_empty=False)
    for w in words:
        assert w in str(err.value)


def test_edge_cache_follows_the_tensor():
    calls = []
    cache = mp.EdgeCache(lambda e, n: calls.append(n) or mp.add_self_loops(e, n))
    edge_index = torch.tensor([[0, 1], [1, 2]])
    first = cache(edge_index, 3)
    assert cache(edge_index, 3) is first and len(calls) == 1
    edge_index[1, 1] = 0                                      # changed in place: recomputed
    assert cache(edge_index, 3).tolist() != first.tolist() or len(calls) == 2
    assert len(calls) == 2
    cache(torch.tensor([[0], [1]]), 3)                        # another tensor: recomputed
    assert len(calls) == 3


def test_gat_attention_dropout_is_dropout_on_alpha():
    """GATConv divides by the softmax normaliser once per node after the sum; with attention
    dropout that must equal dropping the normalised weights alpha (PyG's order), mask for mask."""
    pyg_softmax = pytest.importorskip("torch_geometric.utils").softmax
    x, edge_index = GRAPHS[0]
    layer = mp.GATConv(5, 4, heads=3, dropout=0.5).train()
    torch.manual_seed(7)
    out = layer(x, edge_index)
    loops = mp.add_self_loops(edge_index, x.size(0))
    src, dst = loops
    torch.manual_seed(7)
    mask = (torch.rand(loops.size(1), 3) >= 0.5).float() / 0.5          # the same draw
    z = layer.lin(x).view(-1, 3, 4)
    scores = torch.nn.functional.leaky_relu(
        (z * layer.att_src).sum(-1)[src] + (z * layer.att_dst).sum(-1)[dst], 0.2)
    alpha = pyg_softmax(scores, dst, num_nodes=x.size(0)) * mask         # (E, H)
    ref = torch.zeros(x.size(0), 3, 4).index_add_(0, dst, z[src] * alpha.unsqueeze(-1))
    torch.testing.assert_close(out, ref.reshape(x.size(0), 12) + layer.bias, atol=1e-5,
                               rtol=1e-5)
