"""ann.layers.gpt2_init: the drawn weights have the distributions GPT-2 prescribes.

Statistical checks against the formulas (N(0, 0.02^2), N(0, (0.02 / sqrt(2 n_layer))^2), zeros,
ones) on layers large enough that the tolerances are many standard errors wide.
"""

import math

import pytest
import torch
from torch import nn

from ann import layers as L
from ann.registry import create_model

STD = 0.02


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def assert_normal(t: torch.Tensor, std: float):
    """Mean ~0, std within 3% of ``std``, and ~68.3% of the values within one std (a uniform
    draw of the same std would put 57.7% there)."""
    x = t.detach().flatten().double()
    n = x.numel()
    assert n >= 10_000
    assert abs(x.mean().item()) < 5 * std / math.sqrt(n)
    assert x.std().item() == pytest.approx(std, rel=0.03)
    assert (x.abs() < std).double().mean().item() == pytest.approx(0.6827, abs=0.015)


class Toy(nn.Module):
    def __init__(self, n_layer: int = 3, width: int = 128):
        super().__init__()
        self.embed = L.Embedding(1000, width)
        self.pos = L.LearnedPositionalEmbedding(16, width)
        self.conv = nn.Conv2d(3, 8, 3)
        self.blocks = nn.ModuleList(
            nn.ModuleDict({"ln": L.LayerNorm(width), "fc": L.Linear(width, width),
                           "proj": L.Linear(width, width)}) for _ in range(n_layer))
        self.head = L.Linear(width, 1000, bias=False)


def test_gpt2_init_weights_biases_norms():
    model = Toy()
    with torch.no_grad():
        for b in model.blocks:
            b["fc"].bias.fill_(1.0)
    conv = {k: v.clone() for k, v in model.conv.state_dict().items()}
    L.gpt2_init(model)
    assert_normal(model.embed.weight, STD)
    assert_normal(model.head.weight, STD)
    assert_normal(torch.cat([b[k].weight.flatten() for b in model.blocks for k in ("fc", "proj")]),
                  STD)
    for b in model.blocks:
        assert torch.equal(b["fc"].bias, torch.zeros_like(b["fc"].bias))
        assert torch.equal(b["ln"].weight, torch.ones_like(b["ln"].weight))
        assert torch.equal(b["ln"].bias, torch.zeros_like(b["ln"].bias))
    for k, v in model.conv.state_dict().items():  # not a Linear or an embedding: left alone
        assert torch.equal(v, conv[k])


def test_gpt2_init_scales_the_residual_projections():
    n_layer = 3
    model = Toy(n_layer)
    L.gpt2_init(model, residual=[b["proj"] for b in model.blocks], n_layer=n_layer)
    assert_normal(torch.cat([b["proj"].weight.flatten() for b in model.blocks]),
                  STD / math.sqrt(2 * n_layer))
    assert_normal(torch.cat([b["fc"].weight.flatten() for b in model.blocks]), STD)
    assert_normal(model.embed.weight, STD)


def test_gpt_starts_from_gpt2_init():
    c = {"vocab_size": 512, "block_size": 16, "n_layer": 4, "n_head": 2, "n_embd": 128}
    model = create_model("gpt", **c)
    blocks = model.blocks
    writers = torch.cat([w.flatten() for b in blocks for w in (b.attn.out_proj.weight,
                                                               b.mlp.proj.weight)])
    assert_normal(writers, STD / math.sqrt(2 * c["n_layer"]))
    assert_normal(torch.cat([b.mlp.fc.weight.flatten() for b in blocks]), STD)
    assert_normal(model.wte.weight, STD)
    assert model.lm_head.weight is model.wte.weight
    for b in blocks:
        assert torch.equal(b.mlp.fc.bias, torch.zeros_like(b.mlp.fc.bias))
        assert torch.equal(b.ln1.weight, torch.ones_like(b.ln1.weight))


def test_captioner_scales_its_decoder_writers_only():
    model = create_model("captioner", d_model=128, d_ff=256, decoder_layers=2, encoder_layers=2)
    writers = torch.cat([w.flatten() for b in model.blocks for w in (
        b.self_attn.out_proj.weight, b.cross_attn.out_proj.weight, b.mlp[2].weight)])
    assert_normal(writers, STD / math.sqrt(2 * 2))
    encoder = torch.cat([b.proj.weight.flatten() for b in model.encoder.blocks])
    assert_normal(encoder, STD)


def test_gpt2_init_rejects_foreign_layers_and_missing_depth():
    model = Toy()
    with pytest.raises(ValueError, match="not part of the model"):
        L.gpt2_init(model, residual=[L.Linear(4, 4)], n_layer=3)
    with pytest.raises(ValueError, match="n_layer"):
        L.gpt2_init(model, residual=[model.blocks[0]["proj"]])
