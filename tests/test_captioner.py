"""The captioner: its decoder block against torch.nn.TransformerDecoderLayer, decoding, training on
generated shapes, `ann generate --image`, and bad pictures through the command line."""

import numpy as np
import pytest
import torch

from ann.errors import AnnError
from ann.registry import create_model
from helpers import ann, fails_cleanly


def test_decoder_block_equals_torch_decoder_layer():
    torch.manual_seed(0)
    model = create_model("captioner", "tiny", d_model=16, n_head=2, d_ff=24).eval()
    block = model.blocks[0]
    ref = torch.nn.TransformerDecoderLayer(16, 2, 24, dropout=0.0, activation="gelu",
                                           batch_first=True, norm_first=True).eval()
    with torch.no_grad():
        for ours, theirs in ((block.self_attn, ref.self_attn), (block.cross_attn, ref.multihead_attn)):
            theirs.in_proj_weight.copy_(torch.cat([ours.q_proj.weight, ours.k_proj.weight,
                                                   ours.v_proj.weight]))
            theirs.in_proj_bias.copy_(torch.cat([ours.q_proj.bias, ours.k_proj.bias, ours.v_proj.bias]))
            theirs.out_proj.weight.copy_(ours.out_proj.weight)
            theirs.out_proj.bias.copy_(ours.out_proj.bias)
        for i, norm in enumerate((block.ln1, block.ln2, block.ln3), 1):
            getattr(ref, f"norm{i}").load_state_dict(norm.state_dict())
        ref.linear1.load_state_dict(block.mlp[0].state_dict())
        ref.linear2.load_state_dict(block.mlp[2].state_dict())
        y, memory = torch.randn(2, 5, 16), torch.randn(2, 7, 16)
        causal = torch.nn.Transformer.generate_square_subsequent_mask(5)
        torch.testing.assert_close(block(y, memory), ref(y, memory, tgt_mask=causal, tgt_is_causal=True),
                                   atol=1e-5, rtol=1e-5)


def test_decoding_paths_agree_and_use_the_image():
    torch.manual_seed(0)
    model = create_model("captioner", "tiny").eval()
    images = torch.randn(3, 3, 8, 8)
    greedy = model.translate(images)
    torch.testing.assert_close(greedy, model.greedy(images, use_cache=False))
    beam = model.translate(images, beam_size=3)
    assert beam.shape[0] == 3
    assert (model.score(images, beam) >= model.score(images, greedy) - 1e-4).all()
    tokens = torch.full((3, 4), model.config.bos_id)
    assert not torch.allclose(model(images, tokens), model(images.flip(0), tokens))


def test_caption_longer_than_context_is_refused():
    model = create_model("captioner", "tiny")
    with pytest.raises(AnnError, match="max_len"):
        model(torch.randn(1, 3, 8, 8), torch.zeros(1, 9, dtype=torch.long))


def test_captioner_learns_shapes_and_captions_pictures(tmp_path, conv):
    import ann as ann_api

    out = tmp_path / "run"
    run = ann_api.train("captioner-shapes1", {**conv.overrides, "train.max_steps": 150,
                                              "train.batch_size": 32, "train.eval_every": 1000},
                        out=out, quiet=True)
    test = run.summary["test"]
    assert test["exact_match"] >= 0.15 and test["bleu"] >= 40, test     # chance 1/36
    assert (out / "captions.png").stat().st_size > 0 and (out / "captions.txt").exists()
    # a test picture saved as PNG is captioned from the command line, as in training
    from PIL import Image

    from ann.data.captions import shapes_arrays

    pixels = shapes_arrays("shapes1-captions", "test")[0]
    good = tmp_path / "scene.png"
    Image.fromarray(pixels[0].transpose(1, 2, 0)).save(good)
    words = ann("generate", out, "--image", good).stdout.split()
    assert words and words[0] == "a"
    assert ann_api.api.caption_images(run, [good])[0] == " ".join(words)
    # bad pictures: wrong size, wrong channel count, an empty file
    big, gray, empty = tmp_path / "big.png", tmp_path / "gray.png", tmp_path / "empty.png"
    Image.fromarray(np.zeros((64, 64, 3), dtype=np.uint8)).save(big)
    Image.fromarray(np.zeros((32, 32), dtype=np.uint8)).save(gray)
    empty.write_bytes(b"")
    fails_cleanly(ann("generate", out, "--image", big, check=False), "64x64", "32x32", "resize")
    fails_cleanly(ann("generate", out, "--image", gray, check=False), "mode", "RGB")
    fails_cleanly(ann("predict", out, empty, check=False), "not a readable image")
