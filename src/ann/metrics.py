"""Evaluation metrics as pure functions: plain Python and tensors in, numbers out.

* :func:`corpus_bleu`: BLEU-4 over a corpus (Papineni et al. 2002, "BLEU: a method for automatic
  evaluation of machine translation", ACL, https://aclanthology.org/P02-1040/).
* :func:`exact_match`: the share of hypotheses equal to their reference, token for token.
* :func:`wer`, :func:`cer`: word and character error rates of transcripts (edit distance over
  the reference length, summed over the corpus, as speech recognition reports them).

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


# --- images, scores and distributions (autoencoders and GANs) -------------------------------------

def psnr(mse: float, peak: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB of a mean squared error: ``10 log10(peak^2 / mse)``
    (infinite for a perfect reconstruction)."""
    if mse < 0:
        raise ValueError(f"a mean squared error cannot be negative, got {mse}")
    return math.inf if mse == 0 else 10.0 * math.log10(peak * peak / mse)


def ssim(x, y, peak: float = 1.0, window: int = 7) -> float:
    """Mean structural similarity of two batches of grayscale images (Wang, Bovik, Sheikh &
    Simoncelli 2004, "Image quality assessment: from error visibility to structural similarity").

    Local means, variances and covariance come from a uniform ``window`` x ``window`` filter
    (the variant scikit-image uses by default, with its sample-variance correction), constants
    K1 = 0.01 and K2 = 0.03; the map is averaged over the pixels a full window covers and then
    over the images. ``x`` and ``y``: tensors (N, 1, H, W) or (N, H, W) on the scale 0..``peak``.
    """
    import torch
    import torch.nn.functional as F

    x, y = (torch.as_tensor(t, dtype=torch.float64) for t in (x, y))
    if x.shape != y.shape:
        raise ValueError(f"ssim needs equal shapes, got {tuple(x.shape)} and {tuple(y.shape)}")
    if x.ndim == 3:
        x, y = x[:, None], y[:, None]                              # (N, 1, H, W)
    c1, c2 = (0.01 * peak) ** 2, (0.03 * peak) ** 2
    mean = lambda t: F.avg_pool2d(t, window, stride=1)             # noqa: E731
    n = window * window
    correction = n / (n - 1)                                       # sample (co)variances
    mx, my = mean(x), mean(y)
    vx = (mean(x * x) - mx * mx) * correction
    vy = (mean(y * y) - my * my) * correction
    cxy = (mean(x * y) - mx * my) * correction
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return float(s.mean())


def auroc(scores: Sequence[float], labels: Sequence[int]) -> float:
    """Area under the ROC curve: the probability that a random positive (label 1) scores above a
    random negative (label 0), ties counting one half (the Mann-Whitney U statistic), as
    scikit-learn's ``roc_auc_score`` computes it (the figure other libraries report)."""
    import numpy as np
    from sklearn.metrics import roc_auc_score

    s, y = np.asarray(scores, dtype=np.float64), np.asarray(labels).astype(bool)
    if y.all() or not y.any():
        raise ValueError("auroc needs both positive and negative examples")
    return float(roc_auc_score(y, s))


def frechet_distance(features_a, features_b) -> float:
    """Fréchet distance between Gaussians fitted to two sets of feature vectors (N, D):
    ``|mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2))`` (Dowson & Landau 1982; the formula of
    Heusel et al. 2017's FID, whatever network the features come from). The matrix square root's
    trace is taken from the eigenvalues of ``S_a^(1/2) S_b S_a^(1/2)``, which are real and
    non-negative."""
    import numpy as np

    a, b = (np.asarray(f, dtype=np.float64) for f in (features_a, features_b))
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"frechet_distance needs two (N, D) arrays of equal D, got {a.shape} "
                         f"and {b.shape}")
    mu_a, mu_b = a.mean(0), b.mean(0)
    s_a, s_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    s_a, s_b = np.atleast_2d(s_a), np.atleast_2d(s_b)
    w, v = np.linalg.eigh(s_a)
    root_a = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    middle = root_a @ s_b @ root_a
    eig = np.linalg.eigvalsh((middle + middle.T) / 2)
    trace_root = np.sqrt(np.clip(eig, 0, None)).sum()
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(s_a) + np.trace(s_b) - 2 * trace_root)


# --- segmentation: per-pixel classes (U-Net, FCN) -------------------------------------------------
# All of them read one confusion matrix accumulated over a whole split (rows: true class, columns:
# predicted class, as scikit-learn's ``confusion_matrix``), so a split's figures do not depend on
# how it was cut into batches. A class that is neither present nor predicted has no IoU or Dice
# (NaN) and is left out of the means, as the PASCAL VOC and Cityscapes evaluations do.

def confusion_matrix(pred, target, num_classes: int):
    """(K, K) int64 counts of (true class, predicted class) pairs over all pixels of ``pred`` and
    ``target`` (tensors of equal shape holding classes 0..K-1)."""
    import torch

    pred, target = torch.as_tensor(pred).flatten().long(), torch.as_tensor(target).flatten().long()
    if pred.shape != target.shape:
        raise ValueError(f"pred has {pred.numel()} values but target has {target.numel()}")
    pairs = target * num_classes + pred
    return torch.bincount(pairs, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def iou_per_class(cm):
    """Intersection over union of each class, TP / (TP + FP + FN); NaN where the union is empty.
    (Jaccard 1912; the segmentation measure of PASCAL VOC, Everingham et al. 2010.)"""
    import torch

    cm = torch.as_tensor(cm, dtype=torch.float64)
    tp = cm.diagonal()
    union = cm.sum(0) + cm.sum(1) - tp
    return torch.where(union > 0, tp / union.clamp(min=1), torch.full_like(tp, float("nan")))


def dice_per_class(cm):
    """Dice coefficient (= F1) of each class, 2 TP / (2 TP + FP + FN); NaN where the class is
    neither present nor predicted (Dice 1945)."""
    import torch

    cm = torch.as_tensor(cm, dtype=torch.float64)
    tp = cm.diagonal()
    total = cm.sum(0) + cm.sum(1)
    return torch.where(total > 0, 2 * tp / total.clamp(min=1), torch.full_like(tp, float("nan")))


def _nanmean(values) -> float:
    import torch

    kept = values[~torch.isnan(values)]
    return float(kept.mean()) if len(kept) else float("nan")


def mean_iou(cm) -> float:
    """The mean of :func:`iou_per_class` over the classes that have one (background included)."""
    return _nanmean(iou_per_class(cm))


def mean_dice(cm) -> float:
    """The mean of :func:`dice_per_class` over the classes that have one (background included)."""
    return _nanmean(dice_per_class(cm))


def pixel_accuracy(cm) -> float:
    """The share of pixels whose predicted class is the true one."""
    import torch

    cm = torch.as_tensor(cm, dtype=torch.float64)
    return float(cm.diagonal().sum() / cm.sum()) if cm.sum() > 0 else float("nan")


def edit_distance(hypothesis: Sequence, reference: Sequence) -> int:
    """Levenshtein distance: the fewest substitutions, deletions and insertions that turn
    ``hypothesis`` into ``reference`` (Wagner-Fischer, one row at a time)."""
    row = list(range(len(reference) + 1))
    for i, h in enumerate(hypothesis, 1):
        prev, row[0] = row[0], i
        for j, r in enumerate(reference, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (h != r))
    return row[-1]


def error_rate(hypotheses: Sequence[Sequence], references: Sequence[Sequence]) -> float:
    """Corpus error rate: total edit distance over the total reference length (as speech
    recognition scores it; an empty reference counts its hypothesis's insertions)."""
    errors = sum(edit_distance(h, r) for h, r in zip(hypotheses, references, strict=True))
    return errors / max(1, sum(len(r) for r in references))


def wer(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """Word error rate of transcripts (words split on whitespace), over the whole corpus."""
    return error_rate([h.split() for h in hypotheses], [r.split() for r in references])


def cer(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """Character error rate of transcripts (every character counts, spaces included), over the
    whole corpus."""
    return error_rate([list(h) for h in hypotheses], [list(r) for r in references])
