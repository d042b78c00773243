"""The recurrent encoder-decoder with attention: padding, decoding, learning to reverse."""

import pytest
import torch

from ann.errors import AnnError
from ann.registry import create_model
from ann.train.tasks import get_task


def _model(cell="gru", seed=0):
    torch.manual_seed(seed)
    return create_model("seq2seq-attn", "tiny", cell=cell).eval()


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_padding_changes_nothing(cell):
    model = _model(cell)
    src = torch.tensor([[5, 6, 7, 2]])
    padded = torch.tensor([[5, 6, 7, 2, 0, 0, 0]])
    tgt = torch.tensor([[1, 7, 6]])
    torch.testing.assert_close(model(padded, tgt), model(src, tgt))
    assert torch.equal(model.translate(padded), model.translate(src))


def test_fused_and_readable_paths_agree():
    model = _model("lstm")
    src, tgt = model.example_batch(4, torch.Generator().manual_seed(0))
    fused = model(src, tgt[:, :-1])
    for m in (model.encoder_fwd, model.encoder_bwd, model.decoder):
        m.fused = False
    torch.testing.assert_close(model(src, tgt[:, :-1]), fused, atol=1e-5, rtol=1e-5)


def test_learns_to_reverse_and_decodes_greedily(conv):
    conv.apply()
    model = _model(seed=conv.seed).train()
    task = get_task("seq2seq")
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    g = torch.Generator().manual_seed(1000 + conv.seed)
    for _ in range(250):
        loss, _ = task.loss(model, model.example_batch(32, g))
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    metrics = task.evaluate(model, [model.example_batch(200, torch.Generator().manual_seed(2))])
    assert metrics["exact_match"] > 0.8, metrics


def test_bad_decoding_requests():
    model = _model()
    src = torch.tensor([[5, 2]])
    assert model.translate(src, beam_size=3).size(0) == 1  # beam search: tests/test_decoding.py
    with pytest.raises(AnnError, match="max_src_len"):
        model.translate(torch.full((1, 20), 5))
