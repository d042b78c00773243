"""Evaluation metrics as pure functions: plain Python and tensors in, numbers out.

* :func:`corpus_bleu`: BLEU-4 over a corpus (Papineni et al. 2002, "BLEU: a method for automatic
  evaluation of machine translation", ACL, https://aclanthology.org/P02-1040/).
* :func:`exact_match`: the share of hypotheses equal to their reference, token for token.

Both take sequences that are already tokenized (lists of words or of token ids), so the caller
decides the tokenization; BLEU figures are comparable only under the same tokenization.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Sequence

Tokens = Sequence[Hashable]


def ngrams(tokens: Tokens, n: int) -> Counter:
    """How often each n-gram (a tuple of ``n`` tokens) occurs in ``tokens``."""
    tokens = tuple(tokens)
    return Counter(tokens[i:i + n] for i in range(len(tokens) - n + 1))


def bleu_stats(hypothesis: Tokens, references: Sequence[Tokens], max_n: int = 4
               ) -> tuple[list[int], list[int], int, int]:
    """The sufficient statistics of one sentence: clipped n-gram matches and n-gram totals for
    n = 1..max_n, the hypothesis length and the reference length closest to it (ties: shorter).

    A hypothesis n-gram counts at most as often as it occurs in any one reference ("modified
    precision", Papineni et al. section 2.1).
    """
    matches, totals = [], []
    for n in range(1, max_n + 1):
        hyp = ngrams(hypothesis, n)
        most = Counter()
        for ref in references:
            most |= ngrams(ref, n)  # element-wise maximum over the references
        matches.append(sum(min(count, most[g]) for g, count in hyp.items()))
        totals.append(max(len(hypothesis) - n + 1, 0))
    h = len(hypothesis)
    r = min((len(ref) for ref in references), key=lambda length: (abs(length - h), length))
    return matches, totals, h, r


def corpus_bleu(hypotheses: Sequence[Tokens], references: Sequence, max_n: int = 4) -> float:
    """Corpus BLEU on a 0-100 scale, as Papineni et al. 2002 define it.

    ``references[i]`` is one token sequence for ``hypotheses[i]``, or a list of several (pass
    ``[[ref], ...]`` when a single reference is itself a list of lists). Matches and totals are
    summed over the corpus before the precisions are taken; the score is the geometric mean of the
    n-gram precisions for n = 1..max_n times the brevity penalty exp(1 - r/c) when the corpus
    hypothesis length c is below the reference length r. No smoothing: a corpus without a single
    matching n-gram of some order scores 0 (sacrebleu's ``smooth_method="none"``).
    """
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references")
    matches, totals, c, r = [0] * max_n, [0] * max_n, 0, 0
    for hyp, refs in zip(hypotheses, references):
        if not _is_reference_list(refs):
            refs = [refs]
        m, t, h, ref_len = bleu_stats(hyp, refs, max_n)
        matches = [a + b for a, b in zip(matches, m)]
        totals = [a + b for a, b in zip(totals, t)]
        c, r = c + h, r + ref_len
    if c == 0 or min(matches) == 0:
        return 0.0
    log_precision = sum(math.log(m / t) for m, t in zip(matches, totals)) / max_n
    brevity = min(0.0, 1.0 - r / c)  # log of the brevity penalty
    return 100.0 * math.exp(log_precision + brevity)


def _is_reference_list(refs) -> bool:
    """True when ``refs`` holds several reference sequences rather than tokens."""
    return len(refs) > 0 and all(isinstance(r, (list, tuple)) for r in refs)


def exact_match(hypotheses: Sequence[Tokens], references: Sequence[Tokens]) -> float:
    """The share of hypotheses equal to their reference (0 for an empty corpus)."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references")
    same = sum(list(h) == list(r) for h, r in zip(hypotheses, references))
    return same / max(len(hypotheses), 1)
