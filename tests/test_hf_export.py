"""``ann export RUN --format hf``: runs imported from small random Hugging Face models, and runs
ann trained itself, written as Hugging Face folders that ``transformers``' ``from_pretrained``
and ``AutoTokenizer`` load; every check compares with ``transformers``' own logits and
tokenizer, not with ann's code."""

import json

import pytest
import torch

from ann import api
from ann.apps.hf_export import export_hf
from ann.apps.hf_import import import_folder
from ann.cli import main
from ann.data.tokenizer_export import to_hf_tokenizer
from ann.data.tokenizers import CharTokenizer, RegexTokenizer, WordTokenizer
from ann.errors import AnnError

transformers = pytest.importorskip("transformers", reason="transformers is not installed")
tokenizers = pytest.importorskip("tokenizers", reason="tokenizers is not installed")

SENTENCES = ["the cat sat on the mat", "a dog ran in the park", "the bird sang a song",
             "python reads the file and prints the lines", "a model learns from data"] * 3
TEXT = "the cat sat on the mat and a dog ran"


def _bpe():
    tok = tokenizers.Tokenizer(tokenizers.models.BPE())
    tok.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = tokenizers.decoders.ByteLevel()
    trainer = tokenizers.trainers.BpeTrainer(
        vocab_size=300, special_tokens=["<|endoftext|>"], show_progress=False,
        initial_alphabet=tokenizers.pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(SENTENCES, trainer=trainer)
    return transformers.PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>",
                                                bos_token="<|endoftext|>")


def _wordpiece():
    tok = tokenizers.Tokenizer(tokenizers.models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = tokenizers.normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = tokenizers.pre_tokenizers.BertPreTokenizer()
    trainer = tokenizers.trainers.WordPieceTrainer(
        vocab_size=100, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"],
        show_progress=False)
    tok.train_from_iterator(SENTENCES, trainer=trainer)
    return transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
        sep_token="[SEP]", mask_token="[MASK]")


def _round_trip(tmp_path, hf, tok, auto):
    """HF -> ann (import) -> HF (export): the exported folder loaded by ``auto``."""
    hf.save_pretrained(tmp_path / "hf")
    if tok is not None:
        tok.save_pretrained(tmp_path / "hf")
    import_folder(tmp_path / "hf", tmp_path / "run", quiet=True)
    assert main(["export", str(tmp_path / "run"), "--format", "hf", "--out",
                 str(tmp_path / "back")]) == 0
    back = getattr(transformers, auto).from_pretrained(tmp_path / "back").eval()
    return api.load(tmp_path / "run"), back


def _same_tokens(folder, tok):
    again = transformers.AutoTokenizer.from_pretrained(folder)
    assert again(TEXT, add_special_tokens=False).input_ids == tok(
        TEXT, add_special_tokens=False).input_ids


def test_gpt2_round_trip(tmp_path):
    torch.manual_seed(0)
    tok = _bpe()
    hf = transformers.GPT2LMHeadModel(transformers.GPT2Config(
        n_layer=2, n_embd=32, n_head=2, n_positions=32, vocab_size=len(tok),
        initializer_range=0.3)).eval()
    run, back = _round_trip(tmp_path, hf, tok, "AutoModelForCausalLM")
    assert type(back).__name__ == "GPT2LMHeadModel"
    x = torch.tensor([tok(TEXT).input_ids])
    with torch.no_grad():
        want = hf(x).logits
        assert torch.allclose(back(x).logits, want, atol=1e-4)
        assert torch.allclose(run.model(x), want, atol=1e-4)
    _same_tokens(tmp_path / "back", tok)
    assert json.loads((tmp_path / "back" / "config.json").read_text())["eos_token_id"] == 0


@pytest.mark.parametrize("cls", ["BertForMaskedLM", "BertForSequenceClassification"])
def test_bert_round_trip(tmp_path, cls):
    torch.manual_seed(0)
    tok = _wordpiece()
    conf = transformers.BertConfig(num_hidden_layers=2, hidden_size=32, num_attention_heads=2,
                                   intermediate_size=48, max_position_embeddings=32,
                                   vocab_size=len(tok), initializer_range=0.3, num_labels=3)
    hf = getattr(transformers, cls)(conf).eval()
    auto = ("AutoModelForMaskedLM" if cls == "BertForMaskedLM"
            else "AutoModelForSequenceClassification")
    run, back = _round_trip(tmp_path, hf, tok, auto)
    assert type(back).__name__ == cls
    batch = tok(["the cat sat", "a model learns from data"], padding=True, return_tensors="pt")
    with torch.no_grad():
        want = hf(**batch).logits
        got = back(**batch).logits
        mine = run.model(batch.input_ids)
    keep = batch.attention_mask.bool() if cls == "BertForMaskedLM" else slice(None)
    assert torch.allclose(got[keep], want[keep], atol=1e-4)
    assert torch.allclose(mine[keep], want[keep], atol=1e-4)
    _same_tokens(tmp_path / "back", tok)


@pytest.mark.parametrize("version", ["1.0", "1.1"])
def test_t5_round_trip(tmp_path, version):
    """T5 v1.0 (ReLU, head tied and scaled) and v1.1 (gated GELU, a head of its own)."""
    torch.manual_seed(0)
    tok = _wordpiece()
    # v1.1's output is not scaled down: initial weights of the usual size keep its logits in
    # the tens (not hundreds), where float32 rounding stays far below the tolerance
    v11 = {"feed_forward_proj": "gated-gelu", "tie_word_embeddings": False,
           "initializer_factor": 1.0} if version == "1.1" else {"initializer_factor": 3.0}
    hf = transformers.T5ForConditionalGeneration(transformers.T5Config(
        num_layers=2, d_model=32, num_heads=2, d_kv=16, d_ff=48, vocab_size=len(tok),
        pad_token_id=0, eos_token_id=3, decoder_start_token_id=0, **v11)).eval()
    run, back = _round_trip(tmp_path, hf, tok, "AutoModelForSeq2SeqLM")
    x, y = torch.randint(5, len(tok), (2, 7)), torch.randint(5, len(tok), (2, 5))
    with torch.no_grad():
        want = hf(input_ids=x, decoder_input_ids=y).logits
        assert torch.allclose(back(input_ids=x, decoder_input_ids=y).logits, want, atol=1e-4)
        assert torch.allclose(run.model(x, y), want, atol=1e-4)


def test_vit_round_trip_keeps_labels(tmp_path):
    torch.manual_seed(0)
    hf = transformers.ViTForImageClassification(transformers.ViTConfig(
        num_hidden_layers=2, hidden_size=32, num_attention_heads=2, intermediate_size=48,
        image_size=16, patch_size=8, id2label={0: "cat", 1: "dog"},
        label2id={"cat": 0, "dog": 1})).eval()
    run, back = _round_trip(tmp_path, hf, None, "AutoModelForImageClassification")
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        want = hf(pixel_values=x).logits
        assert torch.allclose(back(pixel_values=x).logits, want, atol=1e-4)
        assert torch.allclose(run.model(x), want, atol=1e-4)
    assert back.config.id2label == {0: "cat", 1: "dog"}
    assert (tmp_path / "back" / "preprocessor_config.json").is_file()


def test_llama_round_trip(tmp_path):
    torch.manual_seed(0)
    tok = _bpe()
    hf = transformers.LlamaForCausalLM(transformers.LlamaConfig(
        vocab_size=len(tok), hidden_size=48, intermediate_size=80, num_hidden_layers=2,
        num_attention_heads=3, num_key_value_heads=1, max_position_embeddings=64,
        initializer_range=0.3, tie_word_embeddings=False)).eval()
    run, back = _round_trip(tmp_path, hf, tok, "AutoModelForCausalLM")
    x = torch.tensor([tok(TEXT).input_ids])
    with torch.no_grad():
        want = hf(x).logits
        assert torch.allclose(back(x).logits, want, atol=1e-4)
        assert torch.allclose(run.model(x), want, atol=1e-4)
    _same_tokens(tmp_path / "back", tok)


TINY = {"train.max_steps": 2, "train.threads": 1, "train.batch_size": 2}


def test_scratch_trained_gpt_loads_in_transformers(tmp_path, capsys):
    run = api.train("gpt-pydoc", {**TINY, "model.n_layer": 1, "model.n_embd": 16,
                                  "model.n_head": 2, "model.block_size": 16,
                                  "model.activation": "gelu_tanh"},
                    out=tmp_path / "run", quiet=True)
    assert main(["export", str(tmp_path / "run"), "--format", "hf", "--out",
                 str(tmp_path / "hf")]) == 0
    assert "wrote" in capsys.readouterr().out
    hf = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "hf").eval()
    tok = transformers.AutoTokenizer.from_pretrained(tmp_path / "hf")
    text = "def f(x):\n    return x  # the result"
    ids = tok(text).input_ids
    assert ids == run.tokenizer.encode(text)
    x = torch.tensor([ids[:16]])
    run.model.eval()
    with torch.no_grad():
        assert torch.allclose(hf(x).logits, run.model(x), atol=1e-4)
    assert tok.decode(ids) == text


def test_scratch_trained_bert_mlm_and_its_wordpiece_load_in_transformers(tmp_path):
    run = api.train("bert-pydoc", {**TINY, "model.n_layer": 1, "model.n_embd": 16,
                                   "model.n_head": 2, "model.max_len": 16},
                    out=tmp_path / "run", quiet=True)
    export_hf(tmp_path / "run", tmp_path / "hf")
    hf = transformers.AutoModelForMaskedLM.from_pretrained(tmp_path / "hf").eval()
    tok = transformers.AutoTokenizer.from_pretrained(tmp_path / "hf")
    assert tok("the file", add_special_tokens=False).input_ids == run.tokenizer.encode("the file")
    cls, sep = (run.tokenizer.token_to_id(t) for t in ("[CLS]", "[SEP]"))
    assert tok("the file").input_ids == [cls, *run.tokenizer.encode("the file"), sep]
    assert tok.mask_token == "[MASK]" and tok.pad_token_id == run.model.config.pad_id
    batch = tok(["return the value", "open a file"], padding=True, return_tensors="pt")
    run.model.eval()
    with torch.no_grad():
        keep = batch.attention_mask.bool()
        assert torch.allclose(hf(**batch).logits[keep], run.model(batch.input_ids)[keep],
                              atol=1e-4)


@pytest.mark.parametrize("recipe", ["vit-digits", "llama-pydoc"])
def test_scratch_trained_vit_and_llama_load_in_transformers(tmp_path, recipe):
    sizes = {"vit-digits": {"model.d_model": 16, "model.n_layer": 1, "model.n_head": 2,
                            "model.d_ff": 16},
             "llama-pydoc": {"model.n_embd": 16, "model.n_layer": 1, "model.n_head": 2,
                             "model.n_kv_head": 1, "model.d_ff": 24, "model.block_size": 16}}
    run = api.train(recipe, {**TINY, **sizes[recipe]}, out=tmp_path / "run", quiet=True)
    export_hf(tmp_path / "run", tmp_path / "hf")
    run.model.eval()
    torch.manual_seed(0)
    if recipe == "vit-digits":
        hf = transformers.AutoModelForImageClassification.from_pretrained(tmp_path / "hf")
        x = torch.randn(2, 1, 8, 8)
        got, want = hf.eval()(pixel_values=x).logits, run.model(x)
        assert hf.config.id2label[3] == run.info["classes"][3]
    else:
        hf = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "hf")
        tok = transformers.AutoTokenizer.from_pretrained(tmp_path / "hf")
        x = torch.tensor([tok("the file is open for reading").input_ids[:16]])
        assert x[0].tolist() == run.tokenizer.encode("the file is open for reading")[:16]
        got, want = hf.eval()(x).logits, run.model(x)
    assert torch.allclose(got, want.detach(), atol=1e-4)


def test_t5_style_wordpiece_appends_its_end_token(tmp_path):
    from ann.data.tokenizers import WordPieceTokenizer

    tok = WordPieceTokenizer.train(SENTENCES, vocab_size=80, specials=("<pad>", "</s>", "[UNK]"))
    tok_json, specials = to_hf_tokenizer(tok)
    (tmp_path / "t.json").write_text(tok_json)
    hf = transformers.PreTrainedTokenizerFast(tokenizer_file=str(tmp_path / "t.json"))
    assert hf("the cat sat").input_ids == tok.encode("the cat sat") + [1]
    assert specials == {"pad": "<pad>", "eos": "</s>", "unk": "[UNK]"}


def test_word_and_char_tokenizers_encode_as_ann(tmp_path):
    text = "the cat sat\non the mat\nthe dog"
    for tok in (CharTokenizer.train(text), WordTokenizer.train(text)):
        tok_json, specials = to_hf_tokenizer(tok)
        (tmp_path / "t.json").write_text(tok_json)
        hf = transformers.PreTrainedTokenizerFast(tokenizer_file=str(tmp_path / "t.json"))
        sample = "the mat sat\nthe cat"
        assert hf(sample, add_special_tokens=False).input_ids == tok.encode(sample)
    assert specials == {"unk": "<unk>", "eos": "<eos>"}
    assert hf("a zebra", add_special_tokens=False).input_ids == [0, 0]      # <unk>


def test_regex_tokenizer_is_refused_in_one_line():
    with pytest.raises(AnnError, match="'regex' tokenizer cannot .* char, word, bpe"):
        to_hf_tokenizer(RegexTokenizer.train(["a b c"]))


def test_bad_out_and_unexportable_settings(base, tmp_path, capsys):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    for out, why in ((tmp_path / "full", "not empty"), (base / "hf", "inside the run"),
                     (base / "checkpoints" / "x", "inside the run"), (None, "--out FOLDER")):
        capsys.readouterr()
        args = ["export", str(base), "--format", "hf"]
        assert main(args + (["--out", str(out)] if out else [])) == 2
        err = capsys.readouterr().err
        assert why in err and len(err.strip().splitlines()) == 1
    assert not (base / "hf").exists() and not (base / "checkpoints" / "x").exists()
    from ann.models.transformer.hf_export import to_hf_state
    from ann.models.transformer.llama import Llama, LlamaConfig

    with pytest.raises(AnnError, match="out_bias"):
        to_hf_state(Llama(LlamaConfig(vocab_size=16, block_size=8, n_layer=1, n_head=2,
                                      n_kv_head=2, n_embd=16, d_ff=32, out_bias=True)))
    with pytest.raises(AnnError, match="model.mlp_bias=true"):
        to_hf_state(Llama(LlamaConfig(vocab_size=16, block_size=8, n_layer=1, n_head=2,
                                      n_kv_head=2, n_embd=16, d_ff=32, qkv_bias=True,
                                      mlp_bias=True)))
    with pytest.raises(AnnError, match="has no Hugging Face export; exportable: gpt"):
        to_hf_state(torch.nn.Linear(2, 2))


# --- fine-tuning controls: train.freeze and train.lora_rank --------------------------------------

GPT_TINY = {"model.n_layer": 2, "model.n_embd": 16, "model.n_head": 2, "model.block_size": 16,
            "train.threads": 1, "train.batch_size": 2}


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A tiny gpt-pydoc run to fine-tune from."""
    out = tmp_path_factory.mktemp("base") / "run"
    api.train("gpt-pydoc", {**GPT_TINY, "train.max_steps": 2}, out=out, quiet=True)
    return out


def _from(base) -> dict:
    """Fine-tuning settings that start from ``base`` and read text with its saved tokenizer."""
    return {**GPT_TINY, "train.init_from": str(base), "data.tokenizer": str(base / "tokenizer.json")}


def _weights(run_dir):
    from safetensors.torch import load_file

    return load_file(str(run_dir / "model.safetensors"))


def test_freeze_keeps_chosen_tensors_bit_identical(base, tmp_path):
    api.train("gpt-pydoc", {**_from(base), "train.max_steps": 2,
                            "train.freeze": "lm_head,blocks.0-0,*.ln2", "train.lr": 0.05},
              out=tmp_path / "tuned", quiet=True)
    before, after = _weights(base), _weights(tmp_path / "tuned")
    frozen = {k for k in before if k.startswith(("wte.", "blocks.0.", "lm_head."))
              or ".ln2." in k}
    assert {"wte.weight", "blocks.0.attn.q_proj.weight", "blocks.1.ln2.weight"} <= frozen
    for k in before:
        assert torch.equal(before[k], after[k]) == (k in frozen), k


def test_freeze_pattern_matching_nothing_is_one_line(base, tmp_path, capsys):
    assert main(["train", "gpt-pydoc", "train.max_steps=1", "train.threads=1",
                 "train.freeze=blocks.7", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "'blocks.7' matches no parameter" in err
    with pytest.raises(AnnError, match=r"'encoder\.9' matches no parameter .* named like wte\.weight"):
        api.train("gpt-pydoc", {**GPT_TINY, "train.max_steps": 1, "train.freeze": "encoder.9"},
                  out=tmp_path / "x", quiet=True)
    assert not (tmp_path / "x").exists()
    with pytest.raises(AnnError, match="lm_head shares its weight"):
        api.train("gpt-pydoc", {**GPT_TINY, "train.max_steps": 1, "train.lora_rank": 2,
                                "train.lora_targets": "lm_head"}, out=tmp_path / "x", quiet=True)
    with pytest.raises(AnnError, match="train.lora_targets: 'qkv' matches no Linear layer"):
        api.train("gpt-pydoc", {**GPT_TINY, "train.max_steps": 1, "train.lora_rank": 2,
                                "train.lora_targets": "qkv"}, out=tmp_path / "x", quiet=True)
    assert not (tmp_path / "x").exists()


def test_lora_linear_equals_the_hand_computation():
    from ann.train.finetune import LoRALinear

    torch.manual_seed(0)
    linear = torch.nn.Linear(5, 3)
    lora = LoRALinear.wrap(linear, rank=2, alpha=6.0, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        lora.lora_B.normal_()
    x = torch.randn(4, 5)
    W, b, A, B = linear.weight, linear.bias, lora.lora_A, lora.lora_B
    want = x @ W.T + b + (6.0 / 2) * (x @ A.T @ B.T)
    assert torch.allclose(lora(x), want, atol=1e-6)
    assert torch.allclose(lora.merged()(x), want, atol=1e-5)


def test_lora_trains_only_adapters_and_new_tensors_and_merges_exactly():
    from ann.models.transformer.gpt import GPT, GPTConfig
    from ann.train.config import TrainConfig
    from ann.train.finetune import merge, prepare

    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=20, block_size=8, n_layer=2, n_head=2, n_embd=16))
    names = {n for n, _ in model.named_parameters()}
    tc = TrainConfig(max_steps=1, lora_rank=4, lora_alpha=8.0)
    prepare(model, tc, provided=names - {"ln_f.weight", "ln_f.bias"})   # the head is new
    x = torch.randint(0, 20, (2, 8))
    model(x).sum().backward()
    with_grad = {n for n, p in model.named_parameters() if p.grad is not None}
    assert with_grad == {n for n, _ in model.named_parameters()
                         if "lora_" in n} | {"ln_f.weight", "ln_f.bias"}
    assert len([n for n in with_grad if n.endswith("lora_A")]) == 8    # q, k, v, out x 2 blocks
    with torch.no_grad():
        for n, p in model.named_parameters():
            if n.endswith("lora_B"):
                p.normal_()
        adapted = model(x)
        merge(model)
        merged = model(x)
    assert not any("lora" in n for n in model.state_dict())
    assert torch.allclose(merged, adapted, atol=1e-5)
    assert not torch.allclose(merged, GPT(model.config)(x), atol=1e-3)


def test_lora_run_saves_an_ordinary_run_and_resumes_exactly(base, tmp_path):
    args = {**_from(base), "train.lora_rank": 2, "train.lr": 0.05,
            "train.schedule": "constant", "train.checkpoint_every": 1, "train.eval_every": 100}
    api.train("gpt-pydoc", {**args, "train.max_steps": 4}, out=tmp_path / "full", quiet=True)
    api.train("gpt-pydoc", {**args, "train.max_steps": 2}, out=tmp_path / "part", quiet=True)
    api.train(resume=tmp_path / "part", overrides={"train.max_steps": 4}, quiet=True)
    before, full, part = _weights(base), _weights(tmp_path / "full"), _weights(tmp_path / "part")
    assert sorted(full) == sorted(before)                  # no adapter tensors left
    for k in before:
        assert torch.equal(full[k], part[k]), k
        projection = any(p in k for p in ("q_proj.w", "k_proj.w", "v_proj.w", "out_proj.w"))
        assert torch.equal(full[k], before[k]) != projection, k
    run = api.load(tmp_path / "full")
    assert type(run.model.blocks[0].attn.q_proj).__name__ != "LoRALinear"
    assert all("lora" not in n for n, _ in run.model.named_parameters())
    export_hf(tmp_path / "full", tmp_path / "hf")          # an ordinary run: it exports too
    hf = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "hf").eval()
    x = torch.tensor([run.tokenizer.encode("the file is open")[:16]])
    with torch.no_grad():
        assert torch.allclose(hf(x).logits, run.model(x), atol=1e-4)
