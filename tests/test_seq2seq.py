"""The encoder-decoder Transformer: parity with torch.nn.Transformer, decoding (cache, greedy,
beam search), the seq2seq task and the noam schedule."""

import copy
import math

import pytest
import torch
from torch import nn

from ann.errors import AnnError
from ann.models.transformer import Transformer, TransformerConfig
from ann.registry import create_model
from ann.tasks import get_task
from ann.tasks.seq2seq import Seq2Seq
from ann.train.config import TrainConfig
from ann.train.optim import build_schedule, lr_factor, noam_factor

PAD, BOS, EOS = 0, 1, 2


def _model(seed=0, **overrides):
    torch.manual_seed(seed)
    return create_model("transformer", "tiny", **overrides).eval()


def _src(B=3, S=9, V=16, seed=0, lengths=(9, 5, 2)):
    """Random sources with right padding: row i has lengths[i] real tokens (the last one EOS)."""
    g = torch.Generator().manual_seed(seed)
    src = torch.randint(3, V, (B, S), generator=g)
    for i, n in enumerate(lengths):
        src[i, n - 1], src[i, n:] = EOS, PAD
    return src


@pytest.fixture(scope="module")
def trained(conv):
    """A tiny model fitted to the reversal task of ``example_batch`` until it has clearly learned
    it: greedy exact match >= 0.95 on a held-out batch (checked every 50 steps, at most 1,200
    steps, the learning rate decaying linearly to zero), so the tests below do not depend on how
    far a fixed number of steps happens to get on one CPU. Tests must not change it.

    Measured (``make test-portable``, seeds 0-4 x 1 and 2 threads, AMD EPYC): stops after 400-600
    steps; greedy exact match on the batch of ``test_greedy_learns_reversal...`` 0.94-1.0,
    ``evaluate``'s exact match 0.875-1.0, BLEU >= 94.7, token accuracy >= 0.98. Training batches
    are drawn from seeds >= 10,000, so the test batches (seeds < 1,000) are never trained on."""
    conv.apply()
    model = _model(conv.seed).train()
    task = get_task("seq2seq")
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    cap = 1200
    schedule = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1 - s / cap)
    for step in range(1, cap + 1):
        batch = model.example_batch(32, torch.Generator().manual_seed(10_000 * (conv.seed + 1) + step))
        loss, _ = task.loss(model, batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        schedule.step()
        if step % 50 == 0 and _exact_match(model.eval(), seed=999, n=64) >= 0.95:
            return model.eval()
        model.train()
    pytest.fail(f"the reversal task was not learned in {cap} steps "
                f"(held-out exact match {_exact_match(model.eval(), seed=999, n=64):.3f} < 0.95)")


def _exact_match(model, seed, n=32):
    """Share of a fresh batch's rows that greedy decoding reproduces exactly."""
    src, tgt = model.example_batch(n, torch.Generator().manual_seed(seed))
    with torch.no_grad():
        out = model.greedy(src)
    return (out == tgt[:, 1:out.size(1) + 1]).all(1).float().mean().item()


# --- parity with torch.nn.Transformer ---------------------------------------------------------------

def _copy_attention(ours, theirs: nn.MultiheadAttention):
    d = ours.d_model
    w, b = theirs.in_proj_weight, theirs.in_proj_bias
    for i, proj in enumerate((ours.q_proj, ours.k_proj, ours.v_proj)):
        w[i * d:(i + 1) * d].copy_(proj.weight)
        b[i * d:(i + 1) * d].copy_(proj.bias)
    theirs.out_proj.weight.copy_(ours.out_proj.weight)
    theirs.out_proj.bias.copy_(ours.out_proj.bias)


def _copy_linear_norm(pairs):
    for ours, theirs in pairs:
        theirs.weight.copy_(ours.weight)
        theirs.bias.copy_(ours.bias)


def _reference(model: Transformer) -> nn.Transformer:
    """torch.nn.Transformer with ``model``'s encoder and decoder weights."""
    c = model.config
    ref = nn.Transformer(c.d_model, c.n_heads, c.n_encoder_layers, c.n_decoder_layers, c.d_ff,
                         dropout=0.0, activation="relu", batch_first=True, norm_first=c.norm_first,
                         layer_norm_eps=c.ln_eps).eval()
    with torch.no_grad():
        for ours, theirs in zip(model.encoder, ref.encoder.layers):
            _copy_attention(ours.self_attn, theirs.self_attn)
            _copy_linear_norm([(ours.ff.fc, theirs.linear1), (ours.ff.proj, theirs.linear2),
                               (ours.res1.pre if c.norm_first else ours.res1.post, theirs.norm1),
                               (ours.res2.pre if c.norm_first else ours.res2.post, theirs.norm2)])
        for ours, theirs in zip(model.decoder, ref.decoder.layers):
            _copy_attention(ours.self_attn, theirs.self_attn)
            _copy_attention(ours.cross_attn, theirs.multihead_attn)
            norms = [r.pre if c.norm_first else r.post for r in (ours.res1, ours.res2, ours.res3)]
            _copy_linear_norm([(ours.ff.fc, theirs.linear1), (ours.ff.proj, theirs.linear2),
                               *zip(norms, (theirs.norm1, theirs.norm2, theirs.norm3))])
        if c.norm_first:
            _copy_linear_norm([(model.encoder_norm, ref.encoder.norm),
                               (model.decoder_norm, ref.decoder.norm)])
        else:  # torch.nn.Transformer always adds final norms; the paper's post-LN has none
            ref.encoder.norm = ref.decoder.norm = None
    return ref


@pytest.mark.parametrize("norm_first", [False, True])
def test_matches_torch_nn_transformer(norm_first):
    model = _model(d_model=32, n_heads=4, d_ff=48, n_encoder_layers=2, n_decoder_layers=3,
                   norm_first=norm_first)
    with torch.no_grad():  # move LayerNorms and biases off (1, 0) so a mix-up would show
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    ref = _reference(model)
    src = _src()
    tgt_in = torch.cat([torch.full((3, 1), BOS), _src(S=7, seed=1, lengths=(7, 4, 3))[:, :-1]], 1)
    with torch.no_grad():
        memory, src_mask = model.encode(src)
        ours = model.decode(tgt_in, memory, src_mask)  # (B, T, d_model), before the projection
        x_src = model._embed(model.src_embed, src)
        x_tgt = model._embed(model.tgt_embed, tgt_in)
        causal = nn.Transformer.generate_square_subsequent_mask(tgt_in.size(1))
        theirs = ref(x_src, x_tgt, tgt_mask=causal, src_key_padding_mask=src == PAD,
                     memory_key_padding_mask=src == PAD, tgt_is_causal=True)
        # torch may also mask target padding; the real target positions never see it anyway
        real = tgt_in != PAD
        masked = ref(x_src, x_tgt, tgt_mask=causal, src_key_padding_mask=src == PAD,
                     tgt_key_padding_mask=~real, memory_key_padding_mask=src == PAD)
    assert (ours - theirs).abs().max().item() < 1e-5
    assert (ours - masked)[real].abs().max().item() < 1e-5


def test_source_padding_changes_nothing():
    model = _model()
    src = _src()
    tgt_in = torch.tensor([[BOS, 5, 6, 7]] * 3)
    with torch.no_grad():
        a = model(src, tgt_in)
        b = model(torch.cat([src, torch.zeros(3, 2, dtype=torch.long)], 1), tgt_in)
        one = model(src[1:2, :5], tgt_in[1:2])  # row 1 alone, without its padding
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(a[1:2], one, rtol=1e-5, atol=1e-5)


def test_decoder_is_causal():
    model = _model()
    src, tgt_in = _src(), torch.tensor([[BOS, 5, 6, 7, 8]] * 3)
    changed = tgt_in.clone()
    changed[:, 3] = 9
    with torch.no_grad():
        a, b = model(src, tgt_in), model(src, changed)
    torch.testing.assert_close(a[:, :3], b[:, :3], rtol=0, atol=0)
    assert (a[:, 3:] - b[:, 3:]).abs().max() > 1e-4


# --- options ----------------------------------------------------------------------------------------

def test_shared_embeddings_and_tied_output():
    plain = _model()
    shared = _model(share_embeddings=True, tie_output=True)
    assert shared.tgt_embed is shared.src_embed and shared.head.weight is shared.src_embed.weight
    tied = _model(tie_output=True)
    assert tied.head.weight is tied.tgt_embed.weight and tied.tgt_embed is not tied.src_embed
    n = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    V, d = plain.config.tgt_vocab_size, plain.config.d_model
    assert n(plain) - n(tied) == V * d and n(plain) - n(shared) == 2 * V * d
    fresh = _model(seed=1, share_embeddings=True, tie_output=True)
    fresh.load_state_dict(shared.state_dict())
    src, tgt = shared.example_batch(2, torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(fresh(src, tgt[:, :-1]), shared(src, tgt[:, :-1]))
    with pytest.raises(AnnError, match="share_embeddings"):
        create_model("transformer", "tiny", share_embeddings=True, tgt_vocab_size=20)


def test_bad_inputs_raise_one_line_errors():
    model = _model()
    c = model.config
    too_long = torch.full((1, c.max_src_len + 1), 5)
    for fn, match in [(lambda: model(too_long, torch.tensor([[BOS]])), "max_src_len"),
                      (lambda: model(_src(), torch.full((3, c.max_tgt_len + 1), 5)), "max_tgt_len"),
                      (lambda: model.translate(_src(), beam_size=0), "beam size"),
                      (lambda: model.translate(_src(), length_penalty=-1), "length penalty"),
                      (lambda: model.translate(_src(), max_len=c.max_tgt_len), "max_len"),
                      (lambda: model.encode(torch.zeros(2, 0, dtype=torch.long)), "at least one")]:
        with pytest.raises(AnnError, match=match) as err:
            fn()
        assert "\n" not in str(err.value)
    with pytest.raises(AnnError, match="distinct"):
        create_model("transformer", "tiny", bos_id=0)


# --- decoding ---------------------------------------------------------------------------------------

def test_cached_decoding_equals_the_full_forward():
    model = _model()
    src, tgt_in = _src(), torch.tensor([[BOS, 5, 6, 7, 8, 9]] * 3)
    with torch.no_grad():
        full = model(src, tgt_in)
        memory, mask = model.encode(src)
        cache, steps = model.empty_cache(), []
        for t in range(tgt_in.size(1)):
            y, cache = model.decode(tgt_in[:, t:t + 1], memory, mask, cache)
            steps.append(model.head(y))
    assert len(cache[0][0]) == tgt_in.size(1) and len(cache[0][1]) == src.size(1)
    torch.testing.assert_close(torch.cat(steps, 1), full, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("fitted", [False, True])
def test_cached_and_uncached_greedy_agree(fitted, trained):
    model = trained if fitted else _model()
    src = model.example_batch(8, torch.Generator().manual_seed(99))[0]
    cached, plain = model.greedy(src), model.greedy(src, use_cache=False)
    torch.testing.assert_close(cached, plain, rtol=0, atol=0)
    assert cached.size(1) <= model.config.max_tgt_len - 1


@pytest.mark.convergence
def test_greedy_learns_reversal_and_stops_at_eos(trained):
    model = trained
    src, tgt = model.example_batch(32, torch.Generator().manual_seed(123))
    out = model.greedy(src)
    want = tgt[:, 1:out.size(1) + 1]
    assert (out == want).all(1).float().mean() >= 0.8   # chance is ~0; measured 0.94-1.0
    for row in out.tolist():  # after the end token only padding
        if EOS in row:
            assert set(row[row.index(EOS) + 1:]) <= {PAD}


@pytest.mark.parametrize("fitted", [False, True])
def test_beam_of_one_is_greedy(fitted, trained):
    model = trained if fitted else _model()
    src = model.example_batch(8, torch.Generator().manual_seed(5))[0]
    greedy = model.greedy(src)
    beam = model.beam_search(src, beam_size=1)
    torch.testing.assert_close(beam[:, :greedy.size(1)], greedy, rtol=0, atol=0)
    assert (beam[:, greedy.size(1):] == PAD).all()


@pytest.mark.parametrize("fitted", [False, True])
def test_beam_scores_at_least_greedy(fitted, trained):
    model = trained if fitted else _model()
    src = model.example_batch(16, torch.Generator().manual_seed(7))[0]
    greedy = model.score(src, model.greedy(src))
    for k in (2, 4):
        beam = model.score(src, model.beam_search(src, beam_size=k))
        assert (beam >= greedy - 1e-4).all(), (k, beam - greedy)


def test_batched_beam_search_equals_one_row_at_a_time():
    model = _model(seed=3)
    src = _src(B=3, lengths=(9, 5, 2))
    batched = model.beam_search(src, beam_size=3, length_penalty=0.6, max_len=8)
    for i in range(3):
        n = int((src[i] != PAD).sum())
        alone = model.beam_search(src[i:i + 1, :n], beam_size=3, length_penalty=0.6, max_len=8)
        row = batched[i, :alone.size(1)]
        torch.testing.assert_close(row, alone[0], rtol=0, atol=0)
        assert (batched[i, alone.size(1):] == PAD).all()


def test_length_penalty_favours_longer_outputs():
    model = _model(seed=4)
    src = model.example_batch(16, torch.Generator().manual_seed(8))[0]
    length = lambda out: ((out != PAD) & (out != EOS)).sum().item()  # noqa: E731
    short, long_ = (model.beam_search(src, beam_size=4, length_penalty=a) for a in (0.0, 2.0))
    assert length(long_) >= length(short)


def test_score_sums_log_probabilities_up_to_the_end_token():
    model = _model()
    src = _src(B=1, lengths=(6,))
    tokens = torch.tensor([[7, 8, EOS, PAD, PAD]])
    with torch.no_grad():
        logp = torch.log_softmax(model(src, torch.tensor([[BOS, 7, 8]])), -1)[0]
    want = logp[0, 7] + logp[1, 8] + logp[2, EOS]
    assert abs(model.score(src, tokens).item() - want.item()) < 1e-5


# --- the seq2seq task --------------------------------------------------------------------------------

def test_loss_ignores_padding_and_trims_columns():
    model = _model()
    task = Seq2Seq()
    src, tgt = model.example_batch(4, torch.Generator().manual_seed(0))
    padded = (torch.cat([src, torch.zeros(4, 3, dtype=torch.long)], 1),
              torch.cat([tgt, torch.zeros(4, 5, dtype=torch.long)], 1))
    assert Seq2Seq.trim(padded[0], PAD).shape == Seq2Seq.trim(src, PAD).shape
    with torch.no_grad():
        a, b = task.loss(model, (src, tgt))[0], task.loss(model, padded)[0]
        logits = model(src, tgt[:, :-1])
    torch.testing.assert_close(a, b)
    real = tgt[:, 1:] != PAD
    manual = torch.nn.functional.cross_entropy(logits[real], tgt[:, 1:][real])
    torch.testing.assert_close(a, manual, rtol=1e-5, atol=1e-6)
    smooth = Seq2Seq(label_smoothing=0.1).loss(model, (src, tgt))[0]
    assert smooth.item() != pytest.approx(a.item())


@pytest.mark.convergence
def test_evaluate_metrics(trained):
    model = copy.deepcopy(trained)
    batch = model.example_batch(32, torch.Generator().manual_seed(11))
    m = get_task("seq2seq").evaluate(model, [batch])
    assert set(m) == {"loss", "perplexity", "accuracy", "bleu", "exact_match"}
    assert m["perplexity"] == pytest.approx(math.exp(m["loss"]))
    # measured over 5 seeds x 2 thread counts: exact match 0.875-1.0, BLEU >= 94.7, accuracy >= 0.98
    assert m["exact_match"] >= 0.75 and m["bleu"] >= 85 and m["accuracy"] >= 0.95, m
    # an unknown reference word never matches, even when the model writes <unk> there
    model.config.unk_id = int(batch[1][0, 1])
    assert get_task("seq2seq").evaluate(model, [batch])["bleu"] < m["bleu"]
    with pytest.raises(AnnError, match="beam size"):
        get_task("seq2seq", beam_size=0)


# --- the noam schedule --------------------------------------------------------------------------------

def test_noam_schedule_values():
    d, w = 512, 4000
    # the paper's eq. 3 at steps 1, 4000 (the peak) and 16000 (half the peak: 1/sqrt(4))
    assert noam_factor(0, w, d) == pytest.approx(512 ** -0.5 * 4000 ** -1.5)
    peak = (d * w) ** -0.5
    assert noam_factor(w - 1, w, d) == pytest.approx(peak) == pytest.approx(6.987712e-4)
    assert noam_factor(4 * w - 1, w, d) == pytest.approx(peak / 2)
    values = [noam_factor(s, w, d) for s in range(0, 20000, 50)]
    top = values.index(max(values))
    assert values[:top + 1] == sorted(values[:top + 1]) and values[top:] == sorted(values[top:], reverse=True)


def test_noam_through_the_config_and_lambda_lr():
    tc = TrainConfig(max_steps=100, schedule="noam", warmup_steps=10, lr=2.0)
    assert lr_factor(9, 100, tc, d_model=64) == pytest.approx(64 ** -0.5 * 10 ** -0.5)
    tc.noam_d_model = 256  # the explicit key wins over the model's width
    assert lr_factor(9, 100, tc, d_model=64) == pytest.approx(256 ** -0.5 * 10 ** -0.5)
    tc.noam_d_model = 0
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=tc.lr)
    sched = build_schedule(opt, 100, tc, d_model=64)
    lrs = []
    for _ in range(12):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[9] == pytest.approx(2.0 * 64 ** -0.5 * 10 ** -0.5) and lrs[9] == max(lrs)
    with pytest.raises(AnnError, match="noam_d_model"):
        lr_factor(0, 100, tc)
    with pytest.raises(AnnError, match="warmup_steps"):
        TrainConfig(max_steps=10, schedule="noam").__post_check__()


def test_trainer_takes_the_width_for_noam():
    from ann.data.base import ArrayDataset
    from ann.train import RunConfig, Trainer

    model = _model()
    src, tgt = model.example_batch(16, torch.Generator().manual_seed(0))
    rc = RunConfig(model_name="transformer", model=model.config,
                   train=TrainConfig(max_steps=3, batch_size=8, schedule="noam", warmup_steps=4))
    data = ArrayDataset(src, tgt)
    # the runner hands the model's width over (config.value(rc.model, "d_model"))
    trainer = Trainer(rc, model, Seq2Seq(), data, data, torch.device("cpu"), None, quiet=True,
                      width=model.config.d_model)
    want = 1e-3 * model.config.d_model ** -0.5 * 4 ** -1.5
    assert trainer.sched.get_last_lr()[0] == pytest.approx(want)
    with pytest.raises(AnnError, match="noam needs the model width.*train.noam_d_model"):
        Trainer(rc, model, Seq2Seq(), data, data, torch.device("cpu"), None, quiet=True)


def test_config_class_exported():
    assert isinstance(_model().config, TransformerConfig)


def test_trainer_batches_by_length_when_asked():
    from ann.data.base import ArrayDataset
    from ann.train import RunConfig, Trainer

    model = _model()
    g = torch.Generator().manual_seed(0)
    lengths = [2 + int(i) for i in torch.randint(0, 8, (64,), generator=g)]
    src = torch.stack([_src(1, 10, lengths=(n,), seed=i)[0] for i, n in enumerate(lengths)])
    tgt = src.clone()
    data = ArrayDataset(src, tgt)
    rc = RunConfig(model_name="transformer", model=model.config,
                   train=TrainConfig(max_steps=4, batch_size=8, length_buckets=8))
    trainer = Trainer(rc, model, Seq2Seq(), data, data, torch.device("cpu"), None, quiet=True)
    assert torch.equal(trainer.batches.lengths, torch.tensor(lengths))
    lens = torch.tensor(lengths)
    batches = [trainer.batches.indices(s) for s in range(8)]   # one epoch = the one pool
    # each batch is a run of the sorted lengths: in order of their shortest, then longest, rows
    # they join sorted
    order = sorted(batches, key=lambda b: (int(lens[b].min()), int(lens[b].max())))
    joined = torch.cat([lens[b] for b in order])
    assert torch.equal(joined, joined.sort().values)
    # and the model sees each batch padded only to its own longest row
    widths = [Seq2Seq.trim(trainer.micro_batches(s)[0][0], PAD).size(1) for s in range(8)]
    assert widths == [int(lens[b].max()) for b in batches]
    from ann.tasks import get_task
    rc.train.length_buckets = 2
    with pytest.raises(AnnError, match="length_buckets=0"):
        Trainer(rc, model, get_task("classify"), data, data, torch.device("cpu"), None, quiet=True)
