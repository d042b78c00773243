"""Mixture of experts (ann.models.moe, ann.tasks.moe): routing, capacity, the Switch balancing
loss by hand, gradients to the router, the GPT built on it and the report's expert picture."""

import pytest
import torch

from ann.errors import AnnError
from ann.models.moe import MoEFeedForward, balance_loss, route
from ann.models.transformer.gpt import FeedForward, GPTConfig
from ann.recipes import RECIPES, TERMS
from ann.registry import create_model, get_task
from ann.tasks.moe import expert_loads, plot_expert_loads


def _layer(n_expert=4, top_k=1, capacity_factor=0.0, width=8):
    torch.manual_seed(0)
    c = GPTConfig(n_embd=width)
    return MoEFeedForward(width, n_expert, top_k, capacity_factor, lambda: FeedForward(c))


@pytest.mark.parametrize("k", [1, 2])
def test_each_token_goes_to_k_distinct_experts(k):
    probs = torch.softmax(torch.randn(50, 4, generator=torch.Generator().manual_seed(k)), -1)
    chosen, gates, keep = route(probs, k, capacity=50)
    assert chosen.shape == gates.shape == keep.shape == (50, k) and keep.all()
    assert all(len(set(row.tolist())) == k for row in chosen)
    assert torch.equal(chosen[:, 0], probs.argmax(-1))
    if k == 1:   # Switch: the gate is the router's probability of the chosen expert
        torch.testing.assert_close(gates[:, 0], probs.max(-1).values)
    else:        # two gates renormalised to sum to one
        torch.testing.assert_close(gates.sum(-1), torch.ones(50))


def test_capacity_drops_the_overflow_in_token_order_and_counts_it():
    # every token prefers expert 0, second choice expert 1: capacity 3 keeps tokens 0-2 there
    probs = torch.tensor([[0.6, 0.3, 0.1]] * 5)
    chosen, _, keep = route(probs, 1, capacity=3)
    assert keep[:, 0].tolist() == [True, True, True, False, False]
    # top-2: tokens 0-2 prefer expert 0 then 1, tokens 3-4 expert 1 then 0. First choices fill
    # first: expert 0 takes 0-2, expert 1 takes 3-4 and has one slot left, for token 0's second
    # choice; the other second choices find their experts full.
    probs = torch.tensor([[0.6, 0.3, 0.1]] * 3 + [[0.3, 0.6, 0.1]] * 2)
    chosen, _, keep = route(probs, 2, capacity=3)
    assert chosen.tolist() == [[0, 1]] * 3 + [[1, 0]] * 2
    assert keep.tolist() == [[True, True], [True, False], [True, False], [True, False],
                             [True, False]]
    # the layer: capacity_factor 0.5 with 4 experts, top-1, 16 tokens -> 2 slots per expert
    layer = _layer(capacity_factor=0.5)
    with torch.no_grad():
        layer.router.weight.zero_()
        layer.router.weight[0] = 1.0                   # everyone routes to expert 0
    x = torch.rand(2, 8, 8) + 0.1
    out = layer(x)
    assert layer.capacity(16) == 2
    assert layer.stats.load.tolist() == [2, 0, 0, 0] and layer.stats.dropped.item() == 14
    assert layer.stats.assigned == 16
    rows = out.reshape(16, 8)
    assert rows[:2].abs().sum(-1).gt(0).all()          # the first two tokens were processed
    assert torch.equal(rows[2:], torch.zeros(14, 8))    # the rest give 0: the residual carries them


def test_balance_loss_is_the_switch_formula_by_hand():
    probs = torch.tensor([[0.7, 0.3], [0.6, 0.4], [0.2, 0.8], [0.9, 0.1]])
    chosen, _, _ = route(probs, 1, capacity=4)
    # first choices 0, 0, 1, 0: f = (3/4, 1/4); P = (0.6, 0.4); N * sum f_i P_i = 2 * 0.55
    assert balance_loss(probs, chosen).item() == pytest.approx(1.1)
    uniform = torch.full((6, 3), 1 / 3)
    assert balance_loss(uniform, torch.arange(6)[:, None] % 3).item() == pytest.approx(1.0)


def test_one_expert_without_a_limit_is_the_dense_mlp():
    layer = _layer(n_expert=1)
    x = torch.randn(3, 5, 8)
    torch.testing.assert_close(layer(x), layer.experts[0](x))


def test_moe_gpt_of_one_expert_equals_gpt_with_its_weights():
    torch.manual_seed(0)
    dense = create_model("gpt", "tiny").eval()
    moe = create_model("moe-gpt", "tiny", n_expert=1, top_k=1, capacity_factor=0.0).eval()
    theirs = {k.replace(".mlp.", ".mlp.experts.0."): v for k, v in dense.state_dict().items()}
    theirs.update({k: v for k, v in moe.state_dict().items() if "router" in k})
    moe.load_state_dict(theirs)
    x = torch.randint(0, 32, (2, 16))
    with torch.no_grad():
        torch.testing.assert_close(moe(x), dense(x))


def test_the_aux_loss_reaches_the_training_loss_and_the_router():
    torch.manual_seed(0)
    model = create_model("moe-gpt", "tiny", top_k=1, balance_weight=0.01, z_weight=1e-3)
    task = get_task(model.task)
    x, y = model.example_batch(4, torch.Generator().manual_seed(0))
    loss, logged = task.loss(model, (x, y))
    stats = model.router_stats()
    expected = logged["ce"] + model.config.balance_weight * sum(s.balance.item() for s in stats) \
        + 1e-3 * sum(s.z.item() for s in stats)
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    assert logged["balance"] > 0 and logged["z"] > 0
    loss.backward()
    for layer in model.moe_layers():
        assert layer.router.weight.grad.abs().sum() > 0
    # the balancing loss alone reaches the router too
    model.zero_grad()
    model(x)
    model.router_losses()["balance"].backward()
    assert all(m.router.weight.grad.abs().sum() > 0 for m in model.moe_layers())


def test_evaluate_reports_cross_entropy_and_drops():
    torch.manual_seed(0)
    model = create_model("moe-gpt", "tiny", capacity_factor=0.5).eval()
    batch = model.example_batch(4, torch.Generator().manual_seed(0))
    metrics = get_task(model.task).evaluate(model, [batch])
    logits = model(batch[0])
    ce = torch.nn.functional.cross_entropy(logits.flatten(0, 1), batch[1].flatten()).item()
    assert metrics["loss"] == pytest.approx(ce, rel=1e-5)
    assert 0 < metrics["dropped"] < 1


def test_expert_picture(tmp_path):
    torch.manual_seed(0)
    model = create_model("moe-gpt", "tiny", moe_every=1)

    class Windows:                      # the shape of an LM split: len, and windows by index
        def __len__(self):
            return 10

        def __getitem__(self, index):
            return model.example_batch(len(index), torch.Generator().manual_seed(0))

    loads = expert_loads(model, Windows())
    assert loads.shape == (2, 4)       # 2 layers, 4 experts; 160 tokens x top-2 each
    assert loads.sum().item() == 10 * 16 * 2 * 2 - sum(s.dropped.item() for s in model.router_stats())
    plot_expert_loads(loads, tmp_path / "experts.png")
    assert (tmp_path / "experts.png").stat().st_size > 1000


def test_config_errors_and_recipes():
    with pytest.raises(AnnError, match="top_k"):
        create_model("moe-gpt", "tiny", n_expert=1, top_k=2)
    with pytest.raises(AnnError, match="moe_every"):
        create_model("moe-gpt", "tiny", moe_every=3)
    recipe, dense = RECIPES["moe-shakespeare"], RECIPES["gpt-shakespeare"]
    assert (recipe.dataset, recipe.train) == (dense.dataset, dense.train)
    assert RECIPES["moe-pydoc"].tour is not None
    assert {"mixture of experts", "load balancing loss"} <= set(TERMS)
