"""CLIP: parity with transformers' CLIPModel, the contrastive loss and retrieval metrics against
independent formulas, training on embedded digits with zero-shot prompts, bad input."""

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ann.errors import AnnError
from ann.models.transformer import from_hf
from ann.registry import create_model
from ann.tasks.contrastive import contrastive_loss, retrieval_recall
from helpers import ann, fails_cleanly


def _hf_clip(act="quick_gelu", eos=3):
    transformers = pytest.importorskip("transformers")
    text = transformers.CLIPTextConfig(vocab_size=40, hidden_size=32, intermediate_size=64,
                                       num_hidden_layers=2, num_attention_heads=4,
                                       max_position_embeddings=12, eos_token_id=eos,
                                       bos_token_id=2, pad_token_id=0, hidden_act=act)
    vision = transformers.CLIPVisionConfig(image_size=16, patch_size=4, num_channels=3,
                                           hidden_size=24, intermediate_size=48,
                                           num_hidden_layers=2, num_attention_heads=4,
                                           hidden_act=act)
    conf = transformers.CLIPConfig(text_config=text.to_dict(), vision_config=vision.to_dict(),
                                   projection_dim=20)
    torch.manual_seed(0)
    model = transformers.CLIPModel(conf).eval()
    with torch.no_grad():          # move every weight off its initial value (LayerNorms included)
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return model


def _pooled(out):
    return out if torch.is_tensor(out) else out.pooler_output


IDS = torch.tensor([[2, 5, 6, 7, 3, 0, 0], [2, 9, 3, 0, 0, 0, 0], [2, 11, 12, 13, 14, 15, 3]])


@pytest.mark.parametrize("act", ["quick_gelu", "gelu"])
def test_embeddings_equal_transformers_clip(act):
    hf = _hf_clip(act)
    model = from_hf(hf)
    x = torch.randn(3, 3, 16, 16)
    with torch.no_grad():
        img_theirs = _pooled(hf.get_image_features(pixel_values=x))
        txt_theirs = _pooled(hf.get_text_features(input_ids=IDS, attention_mask=(IDS != 0).long()))
        logits_theirs = hf(input_ids=IDS, pixel_values=x, attention_mask=(IDS != 0).long()).logits_per_image
        img, txt, logits = model.encode_image(x), model.encode_text(IDS), model(x, IDS)
    assert img_theirs.abs().max() > 1e-2 and txt_theirs.abs().max() > 1e-2
    torch.testing.assert_close(img, img_theirs, atol=1e-4, rtol=0)
    torch.testing.assert_close(txt, txt_theirs, atol=1e-4, rtol=0)
    torch.testing.assert_close(logits, logits_theirs, atol=1e-4, rtol=1e-5)


def test_legacy_eos_id_is_refused():
    with pytest.raises(AnnError, match="eos_token_id"):
        from_hf(_hf_clip(eos=2))


def test_contrastive_loss_is_clips_for_unique_captions():
    hf = _hf_clip()
    model = from_hf(hf)
    x = torch.randn(3, 3, 16, 16)
    with torch.no_grad():
        theirs = hf(input_ids=IDS, pixel_values=x, attention_mask=(IDS != 0).long(),
                    return_loss=True).loss
        ours = contrastive_loss(model(x, IDS), IDS)
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)


def test_identical_captions_are_not_negatives():
    tokens = torch.tensor([[2, 7, 3], [2, 7, 3], [2, 8, 3]])
    logits = torch.tensor([[5.0, 5.0, -5.0], [5.0, 5.0, -5.0], [-5.0, -5.0, 5.0]])
    # each image is as close to both copies of its caption: the loss is at its floor
    soft = torch.tensor([[0.5, 0.5, 0.0], [0.5, 0.5, 0.0], [0.0, 0.0, 1.0]])
    want = 0.5 * (-(soft * F.log_softmax(logits, 1)).sum(1).mean()
                  - (soft * F.log_softmax(logits.t(), 1)).sum(1).mean())
    torch.testing.assert_close(contrastive_loss(logits, tokens), want)


def test_retrieval_recall_by_hand():
    # three pairs; image 2 is closest to text 0, everything else to its own
    img = F.normalize(torch.tensor([[1.0, 0, 0], [0, 1.0, 0], [0.9, 0, 0.1]]), dim=-1)
    txt = F.normalize(torch.tensor([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0]]), dim=-1)
    r = retrieval_recall(img, txt, torch.tensor([0, 1, 2]), chunk=2)
    assert r["i2t_r1"] == pytest.approx(2 / 3) and r["i2t_r5"] == 1.0
    # text 0 finds image 0 (1.0 > 0.99), text 2 finds image 2
    assert r["t2i_r1"] == 1.0
    # equal captions count as right
    r = retrieval_recall(img, txt, torch.tensor([0, 1, 0]))
    assert r["i2t_r1"] == 1.0


def test_text_longer_than_context_is_refused():
    model = create_model("clip", "tiny")
    with pytest.raises(AnnError, match="max_len"):
        model.encode_text(torch.full((1, 9), 3))


def test_clip_digits_learns_zero_shot(tmp_path, conv):
    import ann as ann_api

    out = tmp_path / "run"
    run = ann_api.train("clip-digits", {**conv.overrides, "train.max_steps": 200,
                                        "train.batch_size": 64, "train.eval_every": 1000},
                        out=out, quiet=True)
    test = run.summary["test"]
    assert test["zero_shot"] >= 0.25, test           # chance is 0.1
    assert test["t2i_r5"] > 0.1, test                # chance is 0.014
    assert (out / "retrieval.png").stat().st_size > 0
    assert json.loads((out / "tokenizer.json").read_text())["kind"] == "word"
    # zero-shot prediction of an image file; a caption longer than the context is refused
    from PIL import Image

    pic = tmp_path / "digit.png"
    Image.fromarray(np.zeros((8, 8), dtype=np.uint8)).save(pic)
    assert "photo of the digit" in ann("predict", out, pic).stdout
    fails_cleanly(ann("train", "clip-digits", "model.max_len=5", "train.threads=1",
                      "--out", tmp_path / "short", check=False), "model.max_len", "longer")
