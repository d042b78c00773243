"""Metrics: corpus BLEU against sacrebleu (the reference implementation), exact match."""

import random

import pytest

from ann.metrics import bleu_stats, corpus_bleu, exact_match, ngrams

WORDS = "a man woman dog runs sits on the grass in park with ball red blue".split()


def _corpus(n, seed, noise=0.3, drop=0.1):
    """``n`` random references and hypotheses that share many but not all words."""
    rng = random.Random(seed)
    refs, hyps = [], []
    for _ in range(n):
        ref = [rng.choice(WORDS) for _ in range(rng.randint(3, 14))]
        hyp = [rng.choice(WORDS) if rng.random() < noise else w for w in ref if rng.random() > drop]
        refs.append(ref)
        hyps.append(hyp)
    return hyps, refs


def _sacrebleu(hyps, refs_per_sentence):
    """sacrebleu's corpus BLEU on whitespace-joined tokens, without its own tokenization or
    smoothing (Papineni et al.'s definition)."""
    sacrebleu = pytest.importorskip("sacrebleu", reason="sacrebleu is not installed")
    bleu = sacrebleu.metrics.BLEU(tokenize="none", smooth_method="none", effective_order=False)
    n_refs = max(len(r) for r in refs_per_sentence)
    streams = [[" ".join(r[i]) if i < len(r) else "" for r in refs_per_sentence] for i in range(n_refs)]
    return bleu.corpus_score([" ".join(h) for h in hyps], streams).score


@pytest.mark.parametrize("n,seed,noise,drop", [
    (50, 0, 0.3, 0.1),        # the usual case
    (200, 1, 0.1, 0.0),       # close translations
    (30, 2, 0.5, 0.3),        # poor ones, hypotheses shorter: brevity penalty
    (5, 3, 0.2, 0.0),
    (1, 4, 0.0, 0.0),         # a single perfect sentence
])
def test_bleu_matches_sacrebleu(n, seed, noise, drop):
    hyps, refs = _corpus(n, seed, noise, drop)
    ours = corpus_bleu(hyps, refs)
    assert ours == pytest.approx(_sacrebleu(hyps, [[r] for r in refs]), abs=1e-9)


def test_bleu_with_several_references_and_longer_hypotheses():
    rng = random.Random(5)
    hyps, refs = _corpus(40, 6, 0.3, 0.0)
    hyps = [h + [rng.choice(WORDS)] for h in hyps]                       # longer than the refs
    multi = [[r, [rng.choice(WORDS) for _ in range(rng.randint(2, 16))]] for r in refs]
    assert corpus_bleu(hyps, multi) == pytest.approx(_sacrebleu(hyps, multi), abs=1e-9)


def test_bleu_on_token_ids_and_edge_cases():
    assert corpus_bleu([[1, 2, 3, 4]], [[1, 2, 3, 4]]) == pytest.approx(100.0)
    assert corpus_bleu([[1, 2, 3, 4, 5]], [[[1, 2, 3, 4, 5], [9, 9]]]) == pytest.approx(100.0)
    no_4gram = ([["a", "b", "c", "d"]], [["a", "b", "c", "x"]])
    assert corpus_bleu(*no_4gram) == 0.0 == _sacrebleu(no_4gram[0], [[r] for r in no_4gram[1]])
    assert corpus_bleu([[]], [["a"]]) == 0.0
    with pytest.raises(ValueError, match="2 hypotheses but 1 references"):
        corpus_bleu([["a"], ["b"]], [["a"]])


def test_modified_precision_clips_repeated_words():
    # Papineni et al.'s example: "the the the the the the the" against "the cat is on the mat"
    matches, totals, c, r = bleu_stats("the the the the the the the".split(),
                                       ["the cat is on the mat".split()])
    assert (matches[0], totals[0], c, r) == (2, 7, 7, 6)
    assert ngrams("a b a b".split(), 2) == {("a", "b"): 2, ("b", "a"): 1}


def test_exact_match():
    assert exact_match([[1, 2], [3], []], [[1, 2], [3, 4], []]) == pytest.approx(2 / 3)
    assert exact_match([], []) == 0.0


def test_auroc_is_sklearns_and_the_mann_whitney_probability():
    """ann.metrics.auroc (scikit-learn's roc_auc_score underneath) agrees with the figure counted
    pair by pair (a positive above a negative: 1, a tie: 1/2) and with SciPy's Mann-Whitney U."""
    import numpy as np
    from scipy.stats import mannwhitneyu

    from ann.metrics import auroc

    rng = np.random.default_rng(29)
    labels = rng.integers(0, 2, 400)
    scores = np.round(rng.normal(size=400) + 0.7 * labels, 1)      # rounded: many ties
    pos, neg = scores[labels == 1], scores[labels == 0]
    pairs = (pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean()
    u = mannwhitneyu(pos, neg, alternative="two-sided").statistic / (len(pos) * len(neg))
    assert auroc(scores, labels) == pytest.approx(pairs, abs=1e-12)
    assert auroc(scores, labels) == pytest.approx(u, abs=1e-12)
    assert auroc(-scores, labels) == pytest.approx(1 - pairs, abs=1e-12)
    with pytest.raises(ValueError, match="both"):
        auroc([0.1, 0.2], [0, 0])
