"""``ann import``: small random Hugging Face models and tokenizers saved with ``save_pretrained``
into a temp folder (no network) become ann runs; every check compares against ``transformers``
itself (its logits, its ``generate``), not against ann's own code."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from ann import api
from ann.apps.hf_import import import_folder
from ann.cli import main
from ann.errors import AnnError

transformers = pytest.importorskip("transformers", reason="transformers is not installed")
tokenizers = pytest.importorskip("tokenizers", reason="tokenizers is not installed")

SENTENCES = ["the cat sat on the mat", "a dog ran in the park", "the bird sang a song",
             "python reads the file and prints the lines", "a model learns from data",
             "the quick brown fox jumps over the lazy dog"] * 3
BERT_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def _bpe(vocab_size=300):
    """A byte-level BPE with <|endoftext|>, saved as transformers saves GPT-2's."""
    tok = tokenizers.Tokenizer(tokenizers.models.BPE())
    tok.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = tokenizers.decoders.ByteLevel()
    trainer = tokenizers.trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=["<|endoftext|>"], show_progress=False,
        initial_alphabet=tokenizers.pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(SENTENCES, trainer=trainer)
    return transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<|endoftext|>", eos_token="<|endoftext|>",
        unk_token="<|endoftext|>", padding_side="left",
        chat_template="{% for m in messages %}{{ m['content'] }}{% endfor %}")


def _wordpiece():
    tok = tokenizers.Tokenizer(tokenizers.models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = tokenizers.normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = tokenizers.pre_tokenizers.BertPreTokenizer()
    tok.decoder = tokenizers.decoders.WordPiece()
    trainer = tokenizers.trainers.WordPieceTrainer(vocab_size=120, special_tokens=BERT_SPECIALS,
                                                   show_progress=False)
    tok.train_from_iterator(SENTENCES, trainer=trainer)
    tok.post_processor = tokenizers.processors.TemplateProcessing(     # [CLS] A [SEP], as BERT's
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    return transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
        sep_token="[SEP]", mask_token="[MASK]")


def _gpt2_folder(path, **config):
    torch.manual_seed(0)
    tok = _bpe()
    conf = transformers.GPT2Config(n_layer=2, n_embd=32, n_head=2, n_positions=48,
                                   vocab_size=len(tok), initializer_range=0.3,
                                   bos_token_id=0, eos_token_id=0, **config)
    model = transformers.GPT2LMHeadModel(conf).eval()
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return model, tok


def _bert_folder(path, cls="BertForMaskedLM", **config):
    torch.manual_seed(0)
    tok = _wordpiece()
    conf = transformers.BertConfig(num_hidden_layers=2, hidden_size=32, num_attention_heads=2,
                                   intermediate_size=48, max_position_embeddings=32,
                                   vocab_size=len(tok), initializer_range=0.3, **config)
    model = getattr(transformers, cls)(conf).eval()
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return model, tok


# --- GPT-2 -----------------------------------------------------------------------------------

def test_gpt2_greedy_generate_equals_transformers(tmp_path, capsys):
    hf, tok = _gpt2_folder(tmp_path / "hf")
    assert main(["import", str(tmp_path / "hf"), "--out", str(tmp_path / "run")]) == 0
    prompt = "the cat sat"
    ids = tok(prompt, return_tensors="pt").input_ids
    want = hf.generate(ids, max_new_tokens=12, do_sample=False, eos_token_id=None,
                       pad_token_id=0)[0].tolist()
    run = api.load(tmp_path / "run")
    got = run.model.generate(torch.tensor([run.tokenizer.encode(prompt)]), 12, temperature=0)
    assert got[0].tolist() == want
    capsys.readouterr()
    assert main(["generate", str(tmp_path / "run"), "--prompt", prompt, "--temperature", "0",
                 "--max-new-tokens", "12"]) == 0
    assert capsys.readouterr().out.rstrip("\n") == tok.decode(want)


@pytest.mark.parametrize("kind", ["llama", "qwen2"])
def test_llama_family_folder_imports_and_generates_as_transformers(tmp_path, capsys, kind):
    """A Llama (grouped-query attention, untied head) or Qwen2 (q/k/v biases) folder becomes an
    ann run whose greedy tokens are transformers' own."""
    torch.manual_seed(0)
    tok = _bpe()
    sizes = dict(vocab_size=len(tok), hidden_size=48, intermediate_size=80, num_hidden_layers=2,
                 num_attention_heads=3, num_key_value_heads=1, max_position_embeddings=64,
                 initializer_range=0.3, bos_token_id=0, eos_token_id=0,
                 tie_word_embeddings=False)
    if kind == "llama":
        hf = transformers.LlamaForCausalLM(transformers.LlamaConfig(**sizes)).eval()
    else:
        hf = transformers.Qwen2ForCausalLM(transformers.Qwen2Config(**sizes)).eval()
    hf.save_pretrained(tmp_path / "hf")
    tok.save_pretrained(tmp_path / "hf")
    assert main(["import", str(tmp_path / "hf"), "--out", str(tmp_path / "run")]) == 0
    prompt = "the cat sat"
    ids = tok(prompt, return_tensors="pt").input_ids
    want = hf.generate(ids, max_new_tokens=10, do_sample=False, eos_token_id=None,
                       pad_token_id=0)[0].tolist()
    run = api.load(tmp_path / "run")
    assert run.config.model_name == "llama"
    got = run.model.generate(torch.tensor([run.tokenizer.encode(prompt)]), 10, temperature=0)
    assert got[0].tolist() == want
    capsys.readouterr()
    assert main(["generate", str(tmp_path / "run"), "--prompt", prompt, "--temperature", "0",
                 "--max-new-tokens", "10"]) == 0
    assert capsys.readouterr().out.rstrip("\n") == tok.decode(want)


def test_imported_tokenizer_keeps_specials_padding_side_and_chat_template(tmp_path):
    _, tok = _gpt2_folder(tmp_path / "hf")
    run = api.load(import_folder(tmp_path / "hf", tmp_path / "run", quiet=True))
    ours = run.tokenizer
    text = "the lazy fox reads python"
    assert ours.encode(text) == tok(text).input_ids
    assert ours.decode(tok(text).input_ids) == text
    assert ours.vocab_size == len(tok)
    assert ours.special_id("eos") == tok.eos_token_id
    assert ours.padding_side == "left"
    assert ours.chat_template == tok.chat_template


def test_gpt2_from_vocab_and_merges_without_tokenizer_json(tmp_path):
    hf, tok = _gpt2_folder(tmp_path / "hf")
    # GPT-2's original files: vocab.json + merges.txt, no tokenizer.json
    model = json.loads(tok.backend_tokenizer.to_str())["model"]
    (tmp_path / "hf" / "vocab.json").write_text(json.dumps(model["vocab"]))
    merges = [m if isinstance(m, str) else " ".join(m) for m in model["merges"]]
    (tmp_path / "hf" / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n")
    (tmp_path / "hf" / "tokenizer.json").unlink()
    run = api.load(import_folder(tmp_path / "hf", tmp_path / "run", quiet=True))
    text = "the quick dog sang"
    assert run.tokenizer.encode(text) == tok(text).input_ids


def test_info_describes_an_imported_run(tmp_path, capsys):
    _gpt2_folder(tmp_path / "hf")
    import_folder(tmp_path / "hf", tmp_path / "run", quiet=True)
    capsys.readouterr()
    assert main(["info", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert "imported from" in out and "GPT2LMHeadModel" in out


def test_eval_reads_the_recipes_data_with_the_checkpoints_tokenizer(tmp_path):
    hf, tok = _gpt2_folder(tmp_path / "hf")
    text = tmp_path / "mine.txt"
    text.write_text("\n".join(SENTENCES * 12) + "\n")
    run = api.load(import_folder(tmp_path / "hf", tmp_path / "run", quiet=True))
    run.config.data = api.build_config("gpt-pydoc", {"data.name": "text-file",
                                                     "data.path": str(text)}).data
    run.config.data.tokenizer = str(tmp_path / "run" / "tokenizer.json")
    got = run.evaluate("test")
    windows = api.load_split(run.config, "test")      # the test part, in the checkpoint's tokens
    with torch.no_grad():
        logits = hf(torch.stack([windows[i][0] for i in range(len(windows))])).logits
    want = torch.nn.functional.cross_entropy(
        logits.flatten(0, 1), torch.stack([windows[i][1] for i in range(len(windows))]).flatten())
    assert abs(got["loss"] - float(want)) < 1e-4


def test_an_imported_run_moved_elsewhere_reads_its_own_tokenizer(tmp_path, capsys):
    _gpt2_folder(tmp_path / "hf")
    before = api.load(import_folder(tmp_path / "hf", tmp_path / "run", quiet=True)).evaluate("test")
    shutil.move(tmp_path / "run", tmp_path / "moved")         # config.json names the old path
    recorded = json.loads((tmp_path / "moved" / "config.json").read_text())["data"]["tokenizer"]
    assert recorded.endswith("tokenizer.json") and not Path(recorded).exists()
    run = api.load(tmp_path / "moved")
    assert Path(run.config.data.tokenizer) == (tmp_path / "moved" / "tokenizer.json").resolve()
    assert run.evaluate("test")["loss"] == pytest.approx(before["loss"], rel=1e-6)
    assert main(["generate", str(tmp_path / "moved"), "--prompt", "def", "--max-new-tokens",
                 "3", "--temperature", "0"]) == 0


def test_fine_tune_from_an_imported_gpt2_uses_every_tensor(tmp_path, capsys):
    import re

    hf, tok = _gpt2_folder(tmp_path / "hf")
    import_folder(tmp_path / "hf", tmp_path / "run", quiet=True)
    text = tmp_path / "mine.txt"
    text.write_text("\n".join(SENTENCES * 12) + "\n")
    run = api.train("gpt-pydoc", {"train.init_from": str(tmp_path / "run"), "train.max_steps": 1,
                                  "data.name": "text-file", "data.path": str(text),
                                  "train.threads": 1, "train.batch_size": 2,
                                  "train.lr": 1e-9, "train.min_lr": 0, "train.warmup_steps": 0},
                    out=tmp_path / "tuned")
    copied = re.search(r"copied (\d+) of the model's (\d+) tensors", capsys.readouterr().out)
    assert copied and copied[1] == copied[2]
    assert (run.model.config.n_embd, run.model.config.vocab_size) == (32, len(tok))
    assert run.tokenizer.encode("the cat") == tok("the cat").input_ids
    # with a vanishing learning rate the tuned model still computes transformers' logits
    x = torch.tensor([tok("the cat sat on the mat").input_ids])
    with torch.no_grad():
        assert torch.allclose(run.model(x), hf(x).logits, atol=1e-4)


def test_init_from_an_imported_run_of_another_family_is_refused(tmp_path, capsys):
    _gpt2_folder(tmp_path / "hf")
    import_folder(tmp_path / "hf", tmp_path / "run", quiet=True)
    capsys.readouterr()
    assert main(["train", "vit-digits", f"train.init_from={tmp_path / 'run'}",
                 "--out", str(tmp_path / "vit")]) != 0
    err = capsys.readouterr().err.strip()
    assert "gpt" in err and "vit" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "vit").exists()


# --- BERT ------------------------------------------------------------------------------------

def test_bert_fill_matches_transformers_top_token(tmp_path, capsys):
    hf, tok = _bert_folder(tmp_path / "hf")
    import_folder(tmp_path / "hf", tmp_path / "run", quiet=True)
    text = "the [MASK] sat on the mat"
    enc = tok(text, return_tensors="pt")
    with torch.no_grad():
        logits = hf(**enc).logits[0]
    where = enc.input_ids[0].tolist().index(tok.mask_token_id)
    top = tok.convert_ids_to_tokens(int(logits[where].argmax()))
    capsys.readouterr()
    assert main(["fill", str(tmp_path / "run"), text, "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    masks = answer["masks"] if isinstance(answer, dict) else answer[0]["masks"]
    assert masks[0][0][0] == top
    run = api.load(tmp_path / "run")
    assert run.model.config.mask_id == tok.mask_token_id


def test_bert_classifier_keeps_its_labels(tmp_path):
    hf, tok = _bert_folder(tmp_path / "hf", "BertForSequenceClassification",
                           id2label={0: "sad", 1: "happy", 2: "calm"},
                           label2id={"sad": 0, "happy": 1, "calm": 2})
    run = api.load(import_folder(tmp_path / "hf", tmp_path / "run", quiet=True))
    texts = ["a dog ran in the park", "the bird sang"]
    enc = tok(texts, return_tensors="pt", padding=True)
    with torch.no_grad():
        want = torch.softmax(hf(**enc).logits, -1)
    got = api.classify_text(run, texts)
    assert torch.allclose(got, want, atol=1e-5)
    assert run.info["classes"] == ["sad", "happy", "calm"]


def test_bert_from_vocab_txt_and_tensorflow_tensor_names(tmp_path):
    from safetensors.torch import load_file, save_file

    hf, tok = _bert_folder(tmp_path / "hf")
    file = str(tmp_path / "hf" / "model.safetensors")       # LayerNorm.gamma/beta, as Google's
    save_file({k.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias",
                                                                         "LayerNorm.beta"): v
               for k, v in load_file(file).items()}, file, metadata={"format": "pt"})
    vocab = sorted(tok.get_vocab().items(), key=lambda kv: kv[1])
    (tmp_path / "hf" / "vocab.txt").write_text("\n".join(t for t, _ in vocab) + "\n")
    (tmp_path / "hf" / "tokenizer.json").unlink()
    run = api.load(import_folder(tmp_path / "hf", tmp_path / "run", quiet=True))
    text = "The quick [MASK] jumps"
    assert run.tokenizer.encode(text) == tok(text, add_special_tokens=False).input_ids
    x = torch.tensor([tok(text).input_ids])
    with torch.no_grad():
        assert torch.allclose(run.model(x), hf(x).logits, atol=1e-5)


def test_fine_tune_an_imported_bert_classifier_on_a_csv(tmp_path, capsys):
    import re

    hf, tok = _bert_folder(tmp_path / "hf", "BertForSequenceClassification")
    import_folder(tmp_path / "hf", tmp_path / "run", quiet=True)
    animal = lambda s: any(w in s for w in ("cat", "dog", "bird", "fox"))  # noqa: E731
    rows = ["text,label"] + [f"{s},{'animal' if animal(s) else 'other'}" for s in SENTENCES * 4]
    (tmp_path / "mine.csv").write_text("\n".join(rows) + "\n")
    run = api.train("bert-sst2", {"train.init_from": str(tmp_path / "run"), "train.max_steps": 1,
                                  "data.name": "text-classes", "data.path": str(tmp_path / "mine.csv"),
                                  "train.threads": 1, "train.batch_size": 4,
                                  "train.lr": 1e-9, "train.min_lr": 0, "train.warmup_steps": 0},
                    out=tmp_path / "tuned")
    copied = re.search(r"copied (\d+) of the model's (\d+) tensors", capsys.readouterr().out)
    assert copied and int(copied[1]) == int(copied[2])   # 2 classes here, 2 in the checkpoint
    texts = ["a dog ran in the park", "the bird sang"]
    enc = tok(texts, return_tensors="pt", padding=True)
    with torch.no_grad():
        want = torch.softmax(hf(**enc).logits, -1)
    assert torch.allclose(api.classify_text(run, texts), want, atol=1e-4)


def test_a_classifier_with_other_classes_keeps_the_architecture_not_the_labels(tmp_path):
    from ann.runner import _prepare

    _bert_folder(tmp_path / "hf", "BertForSequenceClassification",
                 id2label={0: "a", 1: "b", 2: "c"}, label2id={"a": 0, "b": 1, "c": 2})
    import_folder(tmp_path / "hf", tmp_path / "run", quiet=True)
    (tmp_path / "mine.csv").write_text("text,label\n" + "\n".join(
        f"{s},{i % 2}" for i, s in enumerate(SENTENCES * 2)) + "\n")
    rc, _, _ = _prepare("bert-sst2", {"train.init_from": str(tmp_path / "run"),
                                      "data.name": "text-classes",
                                      "data.path": str(tmp_path / "mine.csv")}, None, None)
    assert (rc.model.n_embd, rc.model.n_layer, rc.model.d_ff) == (32, 2, 48)
    assert rc.model.num_classes != 3          # the data's classes decide the head
    assert rc.data.tokenizer == str(tmp_path / "run" / "tokenizer.json")


def test_imported_bert_mlm_evaluates_pydoc_in_its_own_tokens(tmp_path):
    _bert_folder(tmp_path / "hf")
    run = api.load(import_folder(tmp_path / "hf", tmp_path / "run", quiet=True))
    rows = api.load_split(run.config, "val")
    tok = run.tokenizer
    first = rows.x[0].tolist()
    assert first[0] == tok.token_to_id("[CLS]") and tok.token_to_id("[SEP]") in first
    assert max(rows.x.flatten().tolist()) < run.model.config.vocab_size


# --- T5 and ViT ------------------------------------------------------------------------------

def _unigram():
    """A SentencePiece-style Unigram tokenizer with T5's <pad> </s> <unk>, </s> appended."""
    tok = tokenizers.Tokenizer(tokenizers.models.Unigram())
    tok.pre_tokenizer = tokenizers.pre_tokenizers.Metaspace()
    tok.decoder = tokenizers.decoders.Metaspace()
    trainer = tokenizers.trainers.UnigramTrainer(
        vocab_size=90, special_tokens=["<pad>", "</s>", "<unk>"], unk_token="<unk>",
        show_progress=False)
    tok.train_from_iterator(SENTENCES, trainer=trainer)
    tok.post_processor = tokenizers.processors.TemplateProcessing(
        single="$A </s>", special_tokens=[("</s>", 1)])
    return transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>")


def test_t5_logits_and_greedy_answer_equal_transformers(tmp_path):
    torch.manual_seed(0)
    tok = _unigram()
    conf = transformers.T5Config(num_layers=2, d_model=32, num_heads=2, d_kv=16, d_ff=48,
                                 vocab_size=len(tok), pad_token_id=0, eos_token_id=1,
                                 decoder_start_token_id=0, initializer_factor=3.0)
    hf = transformers.T5ForConditionalGeneration(conf).eval()
    hf.save_pretrained(tmp_path / "hf")
    tok.save_pretrained(tmp_path / "hf")
    run = api.load(import_folder(tmp_path / "hf", tmp_path / "run", quiet=True))
    x, y = torch.randint(3, len(tok), (2, 7)), torch.randint(3, len(tok), (2, 5))
    with torch.no_grad():
        assert torch.allclose(run.model(x, y), hf(input_ids=x, decoder_input_ids=y).logits,
                              atol=1e-5)
    prompt = "the cat sat on the mat"
    assert run.tokenizer.encode(prompt) + [1] == tok(prompt).input_ids
    # t5-tasks' generated pairs come in its own WordPiece: not a dataset for this tokenizer
    with pytest.raises(AnnError, match="reads text with its own tokenizer"):
        api.train("t5-tasks", {"train.init_from": str(tmp_path / "run"), "train.max_steps": 1},
                  out=tmp_path / "tuned", quiet=True)
    assert not (tmp_path / "tuned").exists()
    want = hf.generate(**tok(prompt, return_tensors="pt"), max_new_tokens=10, do_sample=False)
    assert api.text_to_text(run, prompt, max_len=10) == tok.decode(want[0],
                                                                   skip_special_tokens=True)


def test_t5_with_only_a_sentencepiece_model_reads_text_as_sentencepiece_does(tmp_path):
    # a folder as older T5 checkpoints ship it: spiece.model and no tokenizer.json; ann
    # converts it (through transformers) and must cut text exactly as the slow tokenizer, which
    # runs the sentencepiece library itself
    spm = pytest.importorskip("sentencepiece", reason="sentencepiece is not installed")
    pytest.importorskip("google.protobuf", reason="protobuf is not installed")
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(SENTENCES * 4) + "\n")
    spm.SentencePieceTrainer.train(
        input=str(corpus), model_prefix=str(tmp_path / "spiece"), vocab_size=60,
        model_type="unigram", pad_id=0, eos_id=1, unk_id=2, bos_id=-1, hard_vocab_limit=False,
        minloglevel=2)
    sp = spm.SentencePieceProcessor(model_file=str(tmp_path / "spiece.model"))
    conf = transformers.T5Config(num_layers=1, d_model=16, num_heads=2, d_kv=8, d_ff=24,
                                 vocab_size=sp.get_piece_size(), pad_token_id=0, eos_token_id=1,
                                 decoder_start_token_id=0)
    transformers.T5ForConditionalGeneration(conf).save_pretrained(tmp_path / "hf")
    shutil.copy(tmp_path / "spiece.model", tmp_path / "hf" / "spiece.model")
    (tmp_path / "hf" / "tokenizer_config.json").write_text(json.dumps(
        {"tokenizer_class": "T5Tokenizer", "extra_ids": 0, "eos_token": "</s>",
         "unk_token": "<unk>", "pad_token": "<pad>"}))
    run = api.load(import_folder(tmp_path / "hf", tmp_path / "run", quiet=True))
    for text in ["the cat sat on the mat", "a dog, quickly!", SENTENCES[3]]:
        want = sp.encode(text)                        # the sentencepiece library's own pieces
        got = run.tokenizer.encode(text)
        assert got in (want, want + [1]), (text, got, want)         # T5 may append </s>
        if sp.unk_id() not in want:               # (sentencepiece draws <unk> as " ⁇ ")
            assert run.tokenizer.decode(want).strip() == sp.decode(want).strip()


def test_vit_predict_takes_an_image(tmp_path, capsys):
    from PIL import Image

    torch.manual_seed(0)
    conf = transformers.ViTConfig(num_hidden_layers=2, hidden_size=32, num_attention_heads=2,
                                  intermediate_size=48, image_size=16, patch_size=8,
                                  id2label={0: "cat", 1: "dog", 2: "bird"},
                                  label2id={"cat": 0, "dog": 1, "bird": 2})
    hf = transformers.ViTForImageClassification(conf).eval()
    hf.save_pretrained(tmp_path / "hf")
    transformers.ViTImageProcessor(size={"height": 16, "width": 16}).save_pretrained(tmp_path / "hf")
    import_folder(tmp_path / "hf", tmp_path / "run", quiet=True)
    pixels = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "x.png")
    proc = transformers.ViTImageProcessor.from_pretrained(tmp_path / "hf")
    with torch.no_grad():
        want = torch.softmax(hf(**proc(Image.open(tmp_path / "x.png"),
                                       return_tensors="pt")).logits[0], -1)
    capsys.readouterr()
    assert main(["predict", str(tmp_path / "run"), str(tmp_path / "x.png"), "--json"]) == 0
    out = capsys.readouterr().out
    best = ["cat", "dog", "bird"][int(want.argmax())]
    assert best in out
    assert f"{float(want.max()):.3f}"[:4] in out


def test_clip_ranks_labels_as_transformers_does(tmp_path, capsys):
    from PIL import Image

    torch.manual_seed(0)
    text = tokenizers.Tokenizer(tokenizers.models.BPE())
    text.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
    text.decoder = tokenizers.decoders.ByteLevel()
    text.train_from_iterator(SENTENCES, trainer=tokenizers.trainers.BpeTrainer(
        vocab_size=280, special_tokens=["<|startoftext|>", "<|endoftext|>"], show_progress=False,
        initial_alphabet=tokenizers.pre_tokenizers.ByteLevel.alphabet()))
    tok = transformers.PreTrainedTokenizerFast(
        tokenizer_object=text, bos_token="<|startoftext|>", eos_token="<|endoftext|>",
        pad_token="<|endoftext|>")
    conf = transformers.CLIPConfig(
        text_config=dict(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2,
                         num_attention_heads=2, intermediate_size=48, max_position_embeddings=16,
                         bos_token_id=0, eos_token_id=1, pad_token_id=1, hidden_act="gelu"),
        vision_config=dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                           intermediate_size=48, image_size=16, patch_size=8, hidden_act="gelu"),
        projection_dim=24)
    hf = transformers.CLIPModel(conf).eval()
    hf.save_pretrained(tmp_path / "hf")
    tok.save_pretrained(tmp_path / "hf")
    proc = transformers.CLIPImageProcessor(do_resize=False, do_center_crop=False)
    proc.save_pretrained(tmp_path / "hf")
    import_folder(tmp_path / "hf", tmp_path / "run", quiet=True)
    pixels = np.random.default_rng(1).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "x.png")
    labels = ["the cat sat", "a dog ran in the park", "the bird"]
    ids = [[0, *tok(t).input_ids, 1] for t in labels]
    width = max(map(len, ids))
    ids = torch.tensor([r + [1] * (width - len(r)) for r in ids])
    with torch.no_grad():
        want = torch.softmax(hf(input_ids=ids, pixel_values=proc(
            Image.open(tmp_path / "x.png"), return_tensors="pt").pixel_values).logits_per_image[0], -1)
    capsys.readouterr()
    assert main(["predict", str(tmp_path / "run"), str(tmp_path / "x.png"), "--labels",
                 ",".join(labels), "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    top = (answer[0] if isinstance(answer, list) else answer)["top"]
    ranked = sorted(zip(labels, want.tolist()), key=lambda lp: -lp[1])
    assert [t for t, _ in top] == [t for t, _ in ranked]
    assert np.allclose([p for _, p in top], [p for _, p in ranked], atol=1e-5)


def test_fine_tune_an_imported_vit_on_an_image_folder(tmp_path, capsys):
    import re

    from PIL import Image

    torch.manual_seed(0)
    conf = transformers.ViTConfig(num_hidden_layers=1, hidden_size=32, num_attention_heads=2,
                                  intermediate_size=48, image_size=16, patch_size=8, num_labels=3)
    transformers.ViTForImageClassification(conf).save_pretrained(tmp_path / "hf")
    import_folder(tmp_path / "hf", tmp_path / "run", quiet=True)
    rng = np.random.default_rng(0)
    for label in ("red", "blue"):                    # 2 classes: a new head, the rest copied
        (tmp_path / "pics" / label).mkdir(parents=True)
        for i in range(10):
            pixels = rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / "pics" / label / f"{i}.png")
    run = api.train("vit-digits", {"train.init_from": str(tmp_path / "run"), "train.max_steps": 1,
                                   "data.name": "image-folder", "data.path": str(tmp_path / "pics"),
                                   "train.threads": 1, "train.batch_size": 4},
                    out=tmp_path / "tuned")
    copied = re.search(r"copied (\d+) of the model's (\d+) tensors; new: (.*)",
                       capsys.readouterr().out)
    assert copied and int(copied[1]) == int(copied[2]) - 2, copied
    assert sorted(copied[3].split(", ")) == ["head.bias", "head.weight"]
    assert (run.model.config.image_size, run.model.config.num_classes) == (16, 2)


# --- bad input: one clear line, nothing written ----------------------------------------------

def _fails(tmp_path, capsys, folder, *words):
    capsys.readouterr()
    out = tmp_path / "out"
    assert main(["import", str(folder), "--out", str(out)]) != 0
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    for w in words:
        assert w.lower() in lines[0].lower(), (w, lines[0])
    assert not out.exists()


def test_no_config_no_weights(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    _fails(tmp_path, capsys, tmp_path / "empty", "config.json")
    _gpt2_folder(tmp_path / "hf")
    (tmp_path / "hf" / "model.safetensors").unlink()
    _fails(tmp_path, capsys, tmp_path / "hf", "no weights")


def test_unknown_architecture_lists_those_ann_has(tmp_path, capsys):
    (tmp_path / "hf").mkdir()
    (tmp_path / "hf" / "config.json").write_text(json.dumps(
        {"model_type": "mamba", "architectures": ["MambaForCausalLM"]}))
    _fails(tmp_path, capsys, tmp_path / "hf", "MambaForCausalLM", "GPT2LMHeadModel",
           "BertForMaskedLM", "T5ForConditionalGeneration", "ViTForImageClassification")


def test_shape_disagreeing_with_config_names_the_tensor(tmp_path, capsys):
    _gpt2_folder(tmp_path / "hf")
    conf = json.loads((tmp_path / "hf" / "config.json").read_text())
    conf["n_positions"] = 64
    (tmp_path / "hf" / "config.json").write_text(json.dumps(conf))
    _fails(tmp_path, capsys, tmp_path / "hf", "transformer.wpe.weight", "(48, 32)")


def test_sharded_checkpoint_with_a_missing_shard(tmp_path, capsys):
    from safetensors.torch import load_file, save_file

    _gpt2_folder(tmp_path / "hf")
    tensors = load_file(str(tmp_path / "hf" / "model.safetensors"))
    names = sorted(tensors)
    half = len(names) // 2
    shards = {"model-00001-of-00002.safetensors": names[:half],
              "model-00002-of-00002.safetensors": names[half:]}
    for file, keys in shards.items():
        save_file({k: tensors[k].contiguous() for k in keys}, str(tmp_path / "hf" / file),
                  metadata={"format": "pt"})
    (tmp_path / "hf" / "model.safetensors").unlink()
    (tmp_path / "hf" / "model.safetensors.index.json").write_text(json.dumps(
        {"weight_map": {k: f for f, keys in shards.items() for k in keys}}))
    run = api.load(import_folder(tmp_path / "hf", tmp_path / "ok", quiet=True))  # whole: fine
    assert run.model.config.n_layer == 2
    (tmp_path / "hf" / "model-00002-of-00002.safetensors").unlink()
    _fails(tmp_path, capsys, tmp_path / "hf", "model-00002-of-00002.safetensors")


def test_tokenizer_larger_than_the_embedding(tmp_path, capsys):
    _gpt2_folder(tmp_path / "hf")
    _bpe(400).save_pretrained(tmp_path / "hf")
    _fails(tmp_path, capsys, tmp_path / "hf", "tokens", "embedding")


def test_bin_read_with_weights_only_and_refused_pickles(tmp_path, capsys):
    hf, _ = _gpt2_folder(tmp_path / "hf")
    (tmp_path / "hf" / "model.safetensors").unlink()
    torch.save(hf.state_dict(), tmp_path / "hf" / "pytorch_model.bin")
    run = api.load(import_folder(tmp_path / "hf", tmp_path / "ok", quiet=True))
    x = torch.tensor([[1, 2, 3]])
    assert torch.allclose(run.model(x), hf(x).logits, atol=1e-5)
    torch.save({"weights": hf.state_dict(), "extra": AnnError("not a tensor")},
               tmp_path / "hf" / "pytorch_model.bin")
    _fails(tmp_path, capsys, tmp_path / "hf", "weights_only", "pickled")
