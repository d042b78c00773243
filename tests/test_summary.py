"""ann.report.summary: parameter counts against hand-computed numbers, and the layer table."""

import torch
from torch import nn

from ann.registry import create_model
from ann.report import count_parameters, summary


def _small():
    # Linear(10, 5): 50 weights + 5 biases; BatchNorm1d(5): 5 + 5; Linear(5, 3, no bias): 15.
    return nn.Sequential(nn.Linear(10, 5), nn.BatchNorm1d(5), nn.ReLU(),
                         nn.Linear(5, 3, bias=False))


def test_count_parameters_by_hand():
    counts = count_parameters(_small())
    assert counts == {"total": 80, "trainable": 80, "weights": 70, "biases": 10}


def test_count_parameters_frozen_and_shared():
    shared = nn.Linear(4, 4)
    model = nn.Sequential(shared, nn.ReLU(), shared, nn.Linear(4, 2))
    model[3].weight.requires_grad_(False)
    counts = count_parameters(model)
    assert counts["total"] == 20 + 10 == sum(p.numel() for p in model.parameters())
    assert counts["trainable"] == 30 - 8
    assert counts["weights"] == 16 + 8 and counts["biases"] == 4 + 2


def test_count_parameters_recurrent_biases():
    counts = count_parameters(nn.GRU(3, 4))
    assert counts["biases"] == 2 * 3 * 4              # bias_ih_l0, bias_hh_l0
    assert counts["weights"] == 3 * 4 * 3 + 3 * 4 * 4  # weight_ih_l0, weight_hh_l0


def test_summary_table_rows_and_totals():
    text = summary(_small(), torch.randn(2, 10))
    lines = text.splitlines()
    assert lines[0].split() == ["Layer", "Type", "Output", "shape", "Weights", "Biases"]
    rows = {line.split()[0]: line.split() for line in lines[2:6]}
    assert rows["0"] == ["0", "Linear", "[2,", "5]", "50", "5"]
    assert rows["1"] == ["1", "BatchNorm1d", "[2,", "5]", "5", "5"]
    assert rows["2"] == ["2", "ReLU", "[2,", "5]", "0", "0"]
    assert rows["3"] == ["3", "Linear", "[2,", "3]", "15", "0"]
    assert "Total params:         80" in text
    assert "Weights:              70" in text and "Biases:               10" in text


def test_summary_restores_training_mode_and_removes_hooks():
    model = _small().train()
    summary(model, torch.randn(2, 10))
    assert model.training
    assert all(not m._forward_hooks for m in model.modules())


def test_summary_tuple_inputs_and_outputs():
    class Pair(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(3, 2), nn.Linear(4, 2)
            self.rnn = nn.GRU(2, 6, batch_first=True)

        def forward(self, x, z):
            out, h = self.rnn((self.a(x) + self.b(z)).unsqueeze(1))
            return out, h

    text = summary(Pair(), (torch.randn(5, 3), torch.randn(5, 4)))
    assert "([5, 1, 6], [1, 5, 6])" in text


def test_summary_of_registered_model_matches_parameter_sum():
    model = create_model("cnn", "tiny")
    x, _ = model.example_batch(2, torch.Generator().manual_seed(0))
    text = summary(model, x)
    total = sum(p.numel() for p in model.parameters())
    assert f"Total params:         {total:,}" in text
    body = text.split("\n")[2:-6]
    table_sum = sum(int(r.split()[-1].replace(",", "")) + int(r.split()[-2].replace(",", ""))
                    for r in body)
    assert table_sum == total
    assert "[2, 10]" in body[-1] and body[-1].split()[:2] == ["head", "Linear"]
