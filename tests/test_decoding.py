"""The shared decoding (ann.models.decoding) of the four encoder-decoders: greedy, beam search and
teacher-forced scoring, checked against the models' own teacher-forced forward pass and against a
brute-force search over every output sequence; then ``ann eval --beam`` end to end.
"""

import itertools
import json
from types import SimpleNamespace

import pytest
import torch

import ann as ann_api
from ann.cli import main
from ann.errors import AnnError
from ann.models.decoding import length_penalty_factor
from ann.registry import create_model
from helpers import fails_cleanly

MODELS = ["transformer", "t5", "captioner", "seq2seq-attn"]
# A five-token vocabulary, specials included, so every output of three tokens can be listed.
FIVE = {"transformer": dict(src_vocab_size=5, tgt_vocab_size=5),
        "t5": dict(vocab_size=5),
        "captioner": dict(vocab_size=5),
        "seq2seq-attn": dict(src_vocab_size=5, tgt_vocab_size=5)}


def _model(name, seed=0, spread=None, **overrides):
    """A tiny random model in eval mode; ``spread`` redraws every weight from N(0, spread^2) so
    that its next-token distributions are far from uniform (no near-ties between sequences)."""
    torch.manual_seed(seed)
    model = create_model(name, "tiny", **overrides).eval()
    if spread is not None:
        with torch.no_grad():
            for p in model.parameters():
                p.normal_(0.0, spread)
    return model


def _src(model, n, seed=0):
    return model.example_batch(n, torch.Generator().manual_seed(seed))[0]


def _pad_to(ids, width, pad):
    return torch.cat([ids, torch.full((ids.size(0), width - ids.size(1)), pad)], 1)


# --- the step protocol -------------------------------------------------------------------------------

@pytest.mark.parametrize("name", MODELS)
def test_cached_steps_equal_teacher_forced_logits(name):
    model = _model(name, spread=0.3)
    src, tgt = model.example_batch(3, torch.Generator().manual_seed(1))
    tgt_in = tgt[:, :-1]  # (B, T) starting with bos_id
    with torch.no_grad():
        full = model(src, tgt_in)  # (B, T, V)
        state, steps = model.decode_start(src, 1), []
        for t in range(tgt_in.size(1)):
            logits, state = model.decode_step(tgt_in[:, t:t + 1], state)
            steps.append(logits)
    torch.testing.assert_close(torch.stack(steps, 1), full, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", MODELS)
def test_reordered_beams_follow_their_prefixes(name):
    # two beams per source fed different prefixes, then swapped: each row's next logits must be
    # the teacher-forced ones of the prefix it now holds
    model = _model(name, seed=1, spread=0.3)
    c = model.config
    src = _src(model, 2, seed=3)
    a = torch.tensor([[c.bos_id, 4, 3, 4], [c.bos_id, 3, 4, 4], [c.bos_id, 4, 4, 3],
                      [c.bos_id, 3, 3, 3]])  # (B*K, 4): rows b*2 + k
    swap = torch.tensor([1, 0, 3, 2])
    with torch.no_grad():
        state = model.decode_start(src, 2)
        for t in range(3):
            _, state = model.decode_step(a[:, t:t + 1], state)
        state = model.decode_reorder(state, swap)
        logits, _ = model.decode_step(a[swap, 3:4], state)  # (B*K, V)
        want = model(src.repeat_interleave(2, 0), a[swap])[:, -1]
    torch.testing.assert_close(logits, want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", MODELS)
def test_cached_and_uncached_greedy_agree(name):
    model = _model(name, spread=0.3)
    src = _src(model, 8, seed=2)
    assert torch.equal(model.greedy(src), model.greedy(src, use_cache=False))


# --- greedy against beam search ----------------------------------------------------------------------

@pytest.mark.parametrize("name", MODELS)
def test_beam_of_one_is_greedy(name):
    model = _model(name, spread=0.3)
    src = _src(model, 8, seed=5)
    greedy = model.greedy(src)
    for alpha in (0.0, 0.6):
        assert torch.equal(model.beam_search(src, beam_size=1, length_penalty=alpha), greedy)
    assert torch.equal(model.translate(src, beam_size=1), greedy)


@pytest.mark.parametrize("name", MODELS)
def test_beam_search_scores_at_least_greedy(name):
    # Scores are the model's own teacher-forced ones, length penalty included. A narrow beam is
    # not sure to beat greedy on every row: the prefix greedy follows can be pushed out of the
    # beam by K others that look better and end worse (the search error studied by Stahlberg &
    # Byrne 2019, https://arxiv.org/abs/1908.10090). So a narrow beam must win on average and tie
    # or win on nearly every row; an exhaustive one wins always (the test below).
    model = _model(name)
    src = _src(model, 64, seed=7)
    greedy = model.greedy(src)
    for alpha in (0.0, 0.6):
        floor = model.score(src, greedy, length_penalty=alpha)
        for k in (2, 4):
            beam = model.score(src, model.translate(src, k, alpha), alpha)
            assert beam.mean() > floor.mean(), (k, alpha)
            assert (beam >= floor - 1e-4).float().mean() >= 0.9, (k, alpha, beam - floor)


def _all_outputs(V, eos, length):
    """Every output of at most ``length`` tokens over ids 0..V-1: ended by ``eos`` (and padded
    to ``length`` with ``pad``) or ``length`` tokens with no ``eos``."""
    rows = []
    for n in range(1, length + 1):
        for body in itertools.product([t for t in range(V) if t != eos], repeat=n - 1):
            rows.append([*body, eos] + [None] * (length - n))
        if n == length:
            rows += [list(body) for body in itertools.product([t for t in range(V) if t != eos],
                                                               repeat=n)]
    return rows


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("alpha", [0.0, 1.0])
def test_exhaustive_beam_finds_the_best_sequence(name, alpha):
    model = _model(name, seed=2, spread=0.3, **FIVE[name])
    c = model.config
    rows = _all_outputs(5, c.eos_id, 3)
    assert len(rows) == 1 + 4 + 16 + 64  # 85 outputs of up to three tokens
    hyps = torch.tensor([[c.pad_id if t is None else t for t in r] for r in rows])  # (H, 3)
    src = _src(model, 8, seed=11)
    beam = model.beam_search(src, beam_size=len(rows), length_penalty=alpha, max_len=3)
    greedy = model.greedy(src, max_len=3)
    greedy_missed = False
    for b in range(src.size(0)):
        scores = model.score(src[b:b + 1].repeat_interleave(len(rows), 0), hyps, alpha)  # (H,)
        top2 = scores.topk(2).values
        assert top2[0] - top2[1] > 1e-5  # a unique best, so the comparison below is exact
        best = hyps[scores.argmax()]
        assert torch.equal(_pad_to(beam[b:b + 1], 3, c.pad_id)[0], best), (b, beam[b], best)
        greedy_missed |= not torch.equal(_pad_to(greedy[b:b + 1], 3, c.pad_id)[0], best)
        assert scores.max() >= model.score(src[b:b + 1], greedy[b:b + 1], alpha)[0] - 1e-5
    assert greedy_missed  # the search has something to find: greedy is not always the best


def test_length_penalty_factor_and_score():
    torch.testing.assert_close(length_penalty_factor(torch.tensor([1, 7]), 1.0),
                               torch.tensor([1.0, 2.0]))
    model = _model("seq2seq-attn", spread=0.3)
    c = model.config
    src = _src(model, 1, seed=6)
    tokens = torch.tensor([[7, 8, c.eos_id, c.pad_id]])
    with torch.no_grad():
        logp = torch.log_softmax(model(src, torch.tensor([[c.bos_id, 7, 8]])), -1)[0]
    want = logp[0, 7] + logp[1, 8] + logp[2, c.eos_id]
    assert model.score(src, tokens).item() == pytest.approx(want.item(), abs=1e-5)
    penalised = model.score(src, tokens, length_penalty=0.6).item()
    assert penalised == pytest.approx(want.item() / (8 / 6) ** 0.6, abs=1e-5)


def test_recurrent_checkpoints_from_before_the_rename_still_load():
    # W_a was called ``score`` before the shared decoding took that name for the scorer
    model = _model("seq2seq-attn", spread=0.3)
    old = {("score.weight" if k == "align.weight" else k): v for k, v in model.state_dict().items()}
    fresh = create_model("seq2seq-attn", "tiny")
    fresh.load_state_dict(old, strict=True)
    assert torch.equal(fresh.align.weight, model.align.weight)


@pytest.mark.parametrize("name", MODELS)
def test_bad_decoding_requests_are_one_line_errors(name):
    model = _model(name)
    src = _src(model, 2)
    limit = model.config.max_tgt_len - 1
    for kwargs, words in [({"beam_size": 0}, "beam size"), ({"length_penalty": -1.0}, "penalty"),
                          ({"max_len": limit + 1}, "max_len"), ({"max_len": 0}, "max_len"),
                          ({"beam_size": 2, "max_len": limit + 1}, "max_len")]:
        with pytest.raises(AnnError, match=words) as err:
            model.translate(src, **kwargs)
        assert "\n" not in str(err.value)


# --- ann eval --beam, end to end ---------------------------------------------------------------------

def cli(capsys, *args):
    """``ann ARGS`` in this process, as a CompletedProcess-like result."""
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return SimpleNamespace(returncode=code, stdout=captured.out, stderr=captured.err)


FAST = {"train.threads": 1, "train.max_steps": 40, "train.eval_every": 1000,
        "train.batch_size": 32}
RUNS = {  # recipe, tiny model overrides
    "captioner": ("captioner-shapes1", {"model.d_model": 32, "model.encoder_layers": 1,
                                        "model.decoder_layers": 1, "model.n_head": 2,
                                        "model.d_ff": 64, "model.patch_size": 8}),
    "t5": ("t5-tasks-tiny", {"model.d_model": 32, "model.n_heads": 2, "model.d_ff": 64,
                             "model.n_encoder_layers": 1, "model.n_decoder_layers": 1}),
    "seq2seq-attn": ("seq2seq-attn-numbers", {"model.n_embd": 32, "model.hidden": 64}),
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("decoding")
    for name, (recipe, overrides) in RUNS.items():
        ann_api.train(recipe, {**FAST, **overrides}, out=root / name, quiet=True)
    return root


@pytest.mark.parametrize("name", list(RUNS))
def test_eval_with_beam_search(runs, name, capsys):
    run = runs / name
    greedy = cli(capsys, "eval", run, "--split", "val", "--json")
    beam = cli(capsys, "eval", run, "--split", "val", "--json", "--beam", "2",
               "--length-penalty", "0.6")
    assert greedy.returncode == 0 and beam.returncode == 0, beam.stderr
    greedy, beam = json.loads(greedy.stdout), json.loads(beam.stdout)
    assert set(beam) == set(greedy) and {"bleu", "exact_match"} <= set(beam)
    assert 0 <= beam["exact_match"] <= 1 and 0 <= beam["bleu"] <= 100
    assert beam["loss"] == pytest.approx(greedy["loss"])  # teacher forcing does not change
    fails_cleanly(cli(capsys, "eval", run, "--split", "val", "--beam", "0"), "beam size")


def test_translate_with_beam_search_for_a_recurrent_run(runs, capsys):
    proc = cli(capsys, "translate", runs / "seq2seq-attn", "52013", "--beam", "3",
               "--length-penalty", "0.6")
    assert proc.returncode == 0 and proc.stdout.strip(), proc.stderr


def test_runs_that_do_not_decode_refuse_beam(tmp_path):
    for recipe, model in [("mlp-digits", "mlp"), ("t5-pretrain-pydoc", "t5-span")]:
        run = ann_api.Run(ann_api.build_config(recipe), create_model(model, "tiny"), tmp_path)
        with pytest.raises(AnnError, match=r"--beam \(for .*seq2seq.* runs\) does not apply to "
                           "evaluating") as err:
            run.evaluate("test", beam_size=2)
        assert "\n" not in str(err.value)
