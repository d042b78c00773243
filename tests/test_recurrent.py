"""Recurrent layers: the readable cells and the fused path against torch.nn, weights copied."""

import pytest
import torch
from torch import nn

from ann.layers import Recurrent
from ann.layers.recurrent import gru_cell, lstm_cell, rnn_cell

TORCH = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


def _pair(cell, layers=2, bidirectional=True, input_size=5, hidden=7):
    torch.manual_seed(0)
    ours = Recurrent(cell, input_size, hidden, layers, bidirectional=bidirectional).double()
    ref = TORCH[cell](input_size, hidden, layers, batch_first=True,
                      bidirectional=bidirectional).double()
    ref.load_state_dict(ours.net.state_dict())   # torch.nn's own module, our weights copied in
    return ours, ref


def _state(cell, layers, directions, batch, hidden, seed):
    g = torch.Generator().manual_seed(seed)
    h = torch.randn(layers * directions, batch, hidden, generator=g, dtype=torch.double)
    if cell == "lstm":
        return h, torch.randn(h.shape, generator=g, dtype=torch.double)
    return h


def _flat(state):
    return torch.cat([s.flatten() for s in state]) if isinstance(state, tuple) else state.flatten()


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_both_paths_equal_torch_nn_outputs_and_gradients(cell, bidirectional):
    ours, ref = _pair(cell, bidirectional=bidirectional)
    D = 2 if bidirectional else 1
    x = torch.randn(3, 6, 5, dtype=torch.double, generator=torch.Generator().manual_seed(1))
    s0 = _state(cell, 2, D, 3, 7, 2)
    results = []
    for fused in (True, False):
        ours.fused = fused
        ours.zero_grad()
        out, s = ours(x, s0)
        (out.pow(2).sum() + _flat(s).sin().sum()).backward()
        results.append((out, _flat(s), {n: p.grad.clone() for n, p in ours.net.named_parameters()}))
    out, s = ref(x, s0)
    (out.pow(2).sum() + _flat(s).sin().sum()).backward()
    expect = (out, _flat(s), {n: p.grad for n, p in ref.named_parameters()})
    for got in results:
        torch.testing.assert_close(got[0], expect[0])
        torch.testing.assert_close(got[1], expect[1])
        for name, grad in expect[2].items():
            torch.testing.assert_close(got[2][name], grad, msg=name)


@pytest.mark.parametrize("cell,ours,ref", [("rnn", rnn_cell, nn.RNNCell), ("lstm", lstm_cell, nn.LSTMCell),
                                           ("gru", gru_cell, nn.GRUCell)])
def test_cells_equal_torch_nn_cells(cell, ours, ref):
    torch.manual_seed(0)
    m = ref(4, 6).double()
    x = torch.randn(5, 4, dtype=torch.double)
    h = torch.randn(5, 6, dtype=torch.double)
    w = (m.weight_ih, m.weight_hh, m.bias_ih, m.bias_hh)
    if cell == "lstm":
        c = torch.randn(5, 6, dtype=torch.double)
        got, expect = ours(x, (h, c), *w), m(x, (h, c))
        torch.testing.assert_close(got[0], expect[0])
        torch.testing.assert_close(got[1], expect[1])
    else:
        torch.testing.assert_close(ours(x, h, *w), m(x, h))


def test_zero_state_by_default_and_dropout_between_layers_only_in_training():
    ours, ref = _pair("lstm", layers=3, bidirectional=False)
    x = torch.randn(2, 4, 5, dtype=torch.double)
    torch.testing.assert_close(ours(x)[0], ref(x)[0])
    drop = Recurrent("gru", 5, 7, 2, dropout=0.5, fused=False).double()
    drop.eval()
    a, _ = drop(x)
    drop.fused = True
    torch.testing.assert_close(drop(x)[0], a)
    drop.train()
    torch.manual_seed(0)
    assert not torch.allclose(drop(x)[0], a)
