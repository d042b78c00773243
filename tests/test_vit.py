"""The Vision Transformer: parity with transformers' ViT, attention rollout, training on digits,
the rollout picture, and bad input through the command line."""

import numpy as np
import pytest
import torch

from ann.errors import AnnError
from ann.models.transformer import from_hf
from ann.models.transformer.vit import attention_rollout
from ann.registry import create_model
from helpers import ann, fails_cleanly


def _hf_vit(classify=True, **kw):
    transformers = pytest.importorskip("transformers")
    conf = transformers.ViTConfig(image_size=16, patch_size=4, num_channels=3, hidden_size=32,
                                  num_hidden_layers=2, num_attention_heads=4,
                                  intermediate_size=48, num_labels=5, **kw)
    torch.manual_seed(0)
    cls = transformers.ViTForImageClassification if classify else transformers.ViTModel
    return cls(conf).eval()


@pytest.mark.parametrize("act", ["gelu", "gelu_new"])
def test_logits_equal_transformers_vit(act):
    hf = _hf_vit(hidden_act=act)
    with torch.no_grad():      # random weights everywhere, not the zero-initialised defaults
        for p in hf.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    model = from_hf(hf)
    x = torch.randn(3, 3, 16, 16)
    with torch.no_grad():
        ours, theirs = model(x), hf(pixel_values=x).logits
    assert ours.shape == (3, 5) and theirs.abs().max() > 1e-2
    torch.testing.assert_close(ours, theirs, atol=1e-4, rtol=0)


def test_bare_vit_model_converts_its_encoder():
    hf = _hf_vit(classify=False)
    model = from_hf(hf)
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        theirs = hf(pixel_values=x).last_hidden_state
        ours = model.encoder(x)
    torch.testing.assert_close(ours, theirs, atol=1e-4, rtol=0)


def test_attention_maps_match_transformers():
    hf = _hf_vit()
    hf.set_attn_implementation("eager")       # the fused kernel returns no weights
    model = from_hf(hf)
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        theirs = hf(pixel_values=x, output_attentions=True).attentions
    if theirs is None or len(theirs) == 0 or theirs[0] is None:
        pytest.skip("this transformers version returns no attention weights")
    ours = model.attention_maps(x)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=0)


def test_rollout_identity_and_mass():
    # With attention that looks only at itself, rollout is the identity: the class token gets
    # nothing from the patches.
    eye = torch.eye(5).expand(2, 3, 5, 5)
    torch.testing.assert_close(attention_rollout([eye, eye]), torch.eye(5).expand(2, 5, 5))
    # Rows of any rollout are distributions.
    maps = [torch.softmax(torch.randn(2, 3, 5, 5), -1) for _ in range(4)]
    r = attention_rollout(maps)
    torch.testing.assert_close(r.sum(-1), torch.ones(2, 5))
    model = create_model("vit", "tiny").eval()
    x = torch.randn(3, 1, 8, 8)
    roll = model.rollout(x)
    assert roll.shape == (3, 2, 2) and (roll >= 0).all() and (roll.sum((1, 2)) <= 1 + 1e-5).all()


def test_patch_size_must_divide_image():
    with pytest.raises(AnnError, match="divide"):
        create_model("vit", image_size=28, patch_size=5)


def test_wrong_image_shape_is_a_clear_error():
    model = create_model("vit", "tiny")
    with pytest.raises(AnnError, match="resize"):
        model(torch.randn(1, 1, 9, 9))


def test_vit_digits_trains_and_draws_rollout(tmp_path, conv):
    import ann as ann_api

    out = tmp_path / "run"
    run = ann_api.train("vit-digits", {**conv.overrides, "train.max_steps": 300,
                                       "train.eval_every": 150}, out=out, quiet=True)
    assert run.summary["test"]["accuracy"] >= 0.75, run.summary["test"]
    assert (out / "rollout.png").stat().st_size > 0
    # a picture of the wrong size is one clear line (ViT runs do not resize)
    from PIL import Image

    bad = tmp_path / "big.png"
    Image.fromarray(np.zeros((28, 28), dtype=np.uint8)).save(bad)
    fails_cleanly(ann("predict", out, bad, check=False), "28x28", "8x8")
