"""BERT: parity with Hugging Face, padding, the masked-LM task's masking, and convergence."""

import pytest
import torch

from ann.errors import AnnError
from ann.models.transformer import BertClassifier, BertMLM, from_hf_bert
from ann.models.transformer.bert import BertEncoder
from ann.registry import create_model
from ann.tasks import get_task
from ann.tasks.mlm import MaskedLanguageModeling, mask_tokens


def _hf_config(transformers, **overrides):
    return transformers.BertConfig(**{
        "vocab_size": 60, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
        "intermediate_size": 48, "max_position_embeddings": 20, "type_vocab_size": 2, **overrides})


def _padded_batch(vocab=60, B=3, T=14, seed=0):
    """Token ids with padding at the end of rows 1 and 2, their attention mask and segments."""
    g = torch.Generator().manual_seed(seed)
    idx = torch.randint(5, vocab, (B, T), generator=g)
    attention = torch.ones_like(idx)
    attention[1, 9:] = 0
    attention[2, 4:] = 0
    idx[attention == 0] = 0  # [PAD]
    segments = torch.zeros_like(idx)
    segments[0, 7:] = 1      # a sentence pair in row 0
    return idx, attention, segments


# --- parity with transformers ---------------------------------------------------------------------

@pytest.mark.parametrize("cls_name,ours", [("BertForMaskedLM", BertMLM),
                                           ("BertForSequenceClassification", BertClassifier),
                                           ("BertModel", BertEncoder)])
def test_matches_hf_bert_with_padding(cls_name, ours):
    transformers = pytest.importorskip("transformers", reason="transformers is not installed")
    import ann

    torch.manual_seed(0)
    hf = getattr(transformers, cls_name)(_hf_config(transformers, num_labels=3)).eval()
    with torch.no_grad():   # move LayerNorms and biases off (1, 0) so a mix-up would show
        for p in hf.parameters():
            p.add_(0.05 * torch.randn_like(p))
    model = ann.from_hf(hf)
    assert isinstance(model, ours) and not model.training
    idx, attention, segments = _padded_batch()
    with torch.no_grad():
        out = hf(input_ids=idx, attention_mask=attention, token_type_ids=segments)
        ref = out.last_hidden_state if cls_name == "BertModel" else out.logits
        got = model(idx, segments=segments)
    assert got.shape == ref.shape
    assert (got - ref).abs().max().item() < 1e-4
    if cls_name == "BertForMaskedLM":
        assert model.decoder.weight is model.encoder.tok.weight
    if cls_name == "BertForSequenceClassification":
        assert model.config.num_classes == 3


def test_from_hf_pretrained_dispatches_bert(tmp_path):
    transformers = pytest.importorskip("transformers")
    import ann

    torch.manual_seed(0)
    hf = transformers.BertForMaskedLM(_hf_config(transformers)).eval()
    hf.save_pretrained(tmp_path)
    idx, attention, _ = _padded_batch()
    with torch.no_grad():
        ref = hf(input_ids=idx, attention_mask=attention).logits
        got = ann.from_hf_pretrained(str(tmp_path))(idx)
    assert (got - ref).abs().max() < 1e-4


@pytest.mark.parametrize("overrides,match", [({"hidden_act": "relu"}, "activation"),
                                             ({"position_embedding_type": "relative_key"}, "absolute")])
def test_from_hf_rejects_unsupported_bert(overrides, match):
    transformers = pytest.importorskip("transformers")
    conf = _hf_config(transformers)
    for k, v in overrides.items():
        setattr(conf, k, v)
    with pytest.raises(AnnError, match=match):
        from_hf_bert(transformers.BertForMaskedLM(conf))


# --- the model ------------------------------------------------------------------------------------

def _tiny(name="bert", seed=0, **overrides):
    torch.manual_seed(seed)
    return create_model(name, "tiny", **overrides).eval()


@pytest.mark.parametrize("name", ["bert", "bert-classifier"])
def test_padding_changes_nothing(name):
    """Extra [PAD] columns are hidden from attention: the real positions' outputs stay the same."""
    model = _tiny(name)
    idx, _, _ = _padded_batch(vocab=32, T=10)
    longer = torch.cat([idx, torch.zeros(3, 5, dtype=torch.long)], dim=1)  # 5 more [PAD]
    with torch.no_grad():
        a, b = model(idx), model(longer)
    if name == "bert":
        b = b[:, :10]
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_bidirectional():
    """Unlike GPT, a change at the end of a sentence reaches its first position."""
    model = _tiny()
    idx, _, _ = _padded_batch(vocab=32, T=10)
    changed = idx.clone()
    changed[0, 9] = 5 + (changed[0, 9] - 4) % 27
    with torch.no_grad():
        assert (model(idx)[0, 0] - model(changed)[0, 0]).abs().max() > 1e-4


def test_select_gives_the_logits_of_those_positions():
    model = _tiny()
    idx, _, _ = _padded_batch(vocab=32, T=10)
    select = torch.rand(idx.shape, generator=torch.Generator().manual_seed(1)) < 0.3
    with torch.no_grad():
        torch.testing.assert_close(model(idx, select), model(idx)[select])


def test_too_long_input_and_bad_ids_raise():
    model = _tiny()
    with pytest.raises(AnnError, match="max_len=16") as err:
        model(torch.full((1, 17), 5))
    assert "\n" not in str(err.value)
    with pytest.raises(AnnError, match="mask_id"):
        create_model("bert", "tiny", n_special=40)


def test_encoder_names_are_shared():
    """A masked-LM run's encoder loads into a classifier by name: only the heads differ."""
    mlm, clf = _tiny("bert"), _tiny("bert-classifier")
    enc = {k for k in mlm.state_dict() if k.startswith("encoder.")}
    assert enc == {k for k in clf.state_dict() if k.startswith("encoder.")}
    assert set(mlm.state_dict()) - enc == {"mlm.0.weight", "mlm.0.bias", "mlm.2.weight", "mlm.2.bias",
                                          "decoder.weight", "decoder.bias"}
    assert set(clf.state_dict()) - enc == {"pooler.0.weight", "pooler.0.bias", "classifier.weight",
                                          "classifier.bias"}


# --- masking --------------------------------------------------------------------------------------

def _corpus(B=400, T=64, vocab=1000, seed=0):
    """Rows [CLS] ordinary tokens [SEP] [PAD]..., of random lengths, some [UNK] among them."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(5, vocab, (B, T), generator=g)
    x[torch.rand(B, T, generator=g) < 0.02] = 1                       # [UNK]
    lengths = torch.randint(2, T - 1, (B, 1), generator=g)
    t = torch.arange(T)
    x[:, 0] = 2                                                       # [CLS]
    x = torch.where(t == lengths + 1, 3, x)                           # [SEP]
    return torch.where(t > lengths + 1, 0, x)                         # [PAD]


def test_mask_tokens_statistics():
    x = _corpus()
    ordinary = x >= 5
    inputs, chosen = mask_tokens(x, mask_id=4, n_special=5, vocab_size=1000,
                                 generator=torch.Generator().manual_seed(0))
    assert not (chosen & ~ordinary).any()            # never [PAD] [UNK] [CLS] [SEP]
    assert chosen.sum() == round(0.15 * ordinary.sum().item())
    torch.testing.assert_close(inputs[~chosen], x[~chosen], rtol=0, atol=0)
    masked = inputs[chosen] == 4
    kept = inputs[chosen] == x[chosen]
    replaced = ~masked & ~kept
    n = chosen.sum().item()                          # ~1,900 positions
    assert abs(masked.sum().item() / n - 0.8) < 0.03
    assert abs(kept.sum().item() / n - 0.1) < 0.025  # (a random token may equal the original)
    assert abs(replaced.sum().item() / n - 0.1) < 0.025
    assert (inputs[chosen][replaced] >= 5).all()     # random replacements are ordinary tokens


def test_mask_tokens_reproducible_and_at_least_one():
    x = _corpus(B=8, T=16)
    a = mask_tokens(x, 4, 5, 1000, generator=torch.Generator().manual_seed(3))
    b = mask_tokens(x, 4, 5, 1000, generator=torch.Generator().manual_seed(3))
    assert all(torch.equal(p, q) for p, q in zip(a, b))
    one = torch.tensor([[2, 7, 3, 0]])               # a single ordinary token: it is chosen
    assert mask_tokens(one, 4, 5, 1000)[1].tolist() == [[False, True, False, False]]
    with pytest.raises(AnnError, match="no ordinary tokens"):
        mask_tokens(torch.tensor([[2, 3, 0]]), 4, 5, 1000)


def test_mlm_task_loss_uses_the_global_rng_and_evaluate_a_fixed_one():
    model = _tiny()
    task = get_task("mlm")
    assert isinstance(task, MaskedLanguageModeling) and not task.higher_is_better
    x, y = model.example_batch(8, torch.Generator().manual_seed(0))
    torch.manual_seed(5)
    first = task.loss(model, (x, y))[0]
    torch.manual_seed(5)
    assert task.loss(model, (x, y))[0] == first
    batches = [(x[:4], y[:4]), (x[4:], y[4:])]
    metrics = task.evaluate(model, batches)
    assert set(metrics) == {"loss", "perplexity", "accuracy"}
    assert metrics == task.evaluate(model, batches)  # the same masks each time
    assert task.predict(model, x).shape == (8, 16, 32)


# --- convergence ----------------------------------------------------------------------------------

def test_bert_learns_pydoc_beyond_unigram_frequencies():
    """A small BERT on the embedded pydoc corpus beats the unigram model at the masked
    positions after 100 steps: lower cross-entropy than the training token frequencies give,
    and higher accuracy than always guessing the most frequent token."""
    from ann.registry import load_dataset
    from ann.train.batches import EpochBatches

    train = load_dataset("pydoc-mlm", "train", max_len=32)
    val = load_dataset("pydoc-mlm", "val", max_len=32)
    info = train.info
    torch.manual_seed(0)
    model = create_model("bert", vocab_size=info["vocab_size"], max_len=32, n_layer=2, n_head=2,
                         n_embd=64, dropout=0.0)
    task = get_task("mlm")
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3)
    batches = EpochBatches(len(train), 32, seed=0)
    model.train()
    for step in range(100):
        loss, _ = task.loss(model, train.batch(batches.indices(step)))
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    x, y = val.batch(slice(0, len(val)))
    metrics = task.evaluate(model, [(x, y)])
    g = torch.Generator().manual_seed(0)                # the positions evaluate() masks
    _, chosen = mask_tokens(x, info["mask_id"], info["n_special"], info["vocab_size"], 0, 0.15, g)
    counts = torch.bincount(train.x[train.x >= info["n_special"]], minlength=info["vocab_size"])
    unigram = (counts.float() + 1) / (counts.sum() + len(counts))    # add-one smoothing
    unigram_loss = -unigram[x[chosen]].log().mean().item()
    unigram_accuracy = (x[chosen] == counts.argmax()).float().mean().item()
    assert metrics["loss"] < unigram_loss - 0.25, (metrics, unigram_loss)
    assert metrics["accuracy"] > unigram_accuracy + 0.02, (metrics, unigram_accuracy)
