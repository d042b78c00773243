"""A tiny word model whose embeddings are updated by hand-written backpropagation.

The model of Bengio et al. 2003 ("A Neural Probabilistic Language Model", JMLR 3) at its
smallest: the two previous words are looked up in an embedding table, their vectors joined and
mapped by one linear layer to a score for every word of the vocabulary; softmax cross-entropy
against the word that came next is the loss. Backpropagation carries the gradient from the loss
through the linear layer into the two looked-up rows, and SGD moves those rows, so a word's
vector changes only where the word was read (``Embedding.backward`` adds each position's
gradient into its row).

The corpus is generated: sentences ``DET NOUN VERB .`` where animals (cat, dog, ...) do animal
things (runs, sleeps, ...) and vehicles (car, bus, ...) vehicle things (drives, stops, ...). No
word is told its kind; the embeddings learn it because nouns that predict the same verbs are
pulled the same way. Each epoch shows it: the cosine similarity of the vectors of two nouns of a
kind rises and that of two nouns of different kinds falls. ``ann scratch words`` prints it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ...errors import AnnError
from .layers import Embedding, Flatten, Linear, SoftmaxCrossEntropy
from .network import SGD, Sequential

KINDS = {   # noun -> the verbs it takes, by kind
    "animal": (("cat", "dog", "fox", "owl"), ("runs", "sleeps", "eats", "hides")),
    "vehicle": (("car", "bus", "van", "tram"), ("drives", "stops", "honks", "waits")),
}
VOCAB = (".", "the", "a", *(w for nouns, verbs in KINDS.values() for w in (*nouns, *verbs)))
CONTEXT = 2          # words read before the one predicted


@dataclass(frozen=True)
class Setup:
    sentences: int = 600      # generated training sentences (4 words each)
    test_sentences: int = 300  # generated held-out sentences, scored at the end
    dim: int = 8              # embedding size
    epochs: int = 20
    lr: float = 0.02
    momentum: float = 0.9
    batch_size: int = 32


@dataclass
class Result:
    net: Sequential
    history: list[dict] = field(default_factory=list)   # one dict per epoch (0: before training)
    test_accuracy: float = 0.0                            # next-word accuracy on held-out sentences
    best_possible: float = 0.0                            # the grammar's ceiling for it
    wall_time_s: float = 0.0


def corpus(sentences: int, rng: np.random.Generator) -> np.ndarray:
    """Word ids of ``sentences`` random sentences ``DET NOUN VERB .`` in a row."""
    ids = {w: i for i, w in enumerate(VOCAB)}
    out = []
    for _ in range(sentences):
        nouns, verbs = KINDS[("animal", "vehicle")[rng.integers(2)]]
        out += [ids[("the", "a")[rng.integers(2)]], ids[nouns[rng.integers(len(nouns))]],
                ids[verbs[rng.integers(len(verbs))]], ids["."]]
    return np.array(out)


def windows(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every ``CONTEXT`` words (N, CONTEXT) with the word after them (N,)."""
    x = np.stack([ids[i:len(ids) - CONTEXT + i] for i in range(CONTEXT)], axis=1)
    return x, ids[CONTEXT:]


def best_possible_accuracy() -> float:
    """What knowing the grammar gives: after a determiner any of the 8 nouns may follow, after a
    noun any of its 4 verbs, after a verb always '.', after '.' either determiner."""
    n_nouns = sum(len(n) for n, _ in KINDS.values())
    return (1 / n_nouns + 1 / len(KINDS["animal"][1]) + 1 + 1 / 2) / 4


def build(setup: Setup = Setup(), seed: int = 0, dtype=np.float64) -> Sequential:
    """Embedding (V, dim) for each context word -> joined (N, CONTEXT*dim) -> scores (N, V)."""
    rng = np.random.default_rng(seed)
    emb = Embedding(len(VOCAB), setup.dim, rng, dtype)
    emb.params["weight"] *= 0.1                                # small start: no kind known
    return Sequential(emb,                                     # (N, CONTEXT, dim)
                      Flatten(),                               # (N, CONTEXT*dim)
                      Linear(CONTEXT * setup.dim, len(VOCAB), rng, dtype))   # (N, V)


def similarity(net: Sequential, a: str, b: str) -> float:
    """Cosine similarity of the embeddings of words ``a`` and ``b``."""
    w = net.layers[0].params["weight"]
    u, v = w[VOCAB.index(a)], w[VOCAB.index(b)]
    return float(u @ v / (np.linalg.norm(u) * np.linalg.norm(v)))


def kind_similarity(net: Sequential) -> tuple[float, float]:
    """Mean cosine similarity of two nouns of one kind, and of two nouns of different kinds."""
    groups = [nouns for nouns, _ in KINDS.values()]
    same = [similarity(net, a, b) for g in groups for i, a in enumerate(g) for b in g[i + 1:]]
    other = [similarity(net, a, b) for a in groups[0] for b in groups[1]]
    return float(np.mean(same)), float(np.mean(other))


def check_options(epochs: int | None = None, seed: int = 0) -> None:
    if epochs is not None and epochs < 1:
        raise AnnError(f"--epochs must be at least 1, got {epochs}")
    if not 0 <= seed < 2**32:
        raise AnnError(f"--seed must be between 0 and {2**32 - 1}, got {seed}")


def accuracy(net: Sequential, x: np.ndarray, y: np.ndarray) -> float:
    return float((net.forward(x).argmax(1) == y).mean())


def train_words(epochs: int | None = None, seed: int = 0, setup: Setup = Setup(),
                on_epoch: Callable[[dict], None] | None = None) -> Result:
    """Train the word model; ``on_epoch`` gets each epoch's record (epoch, loss, accuracy on the
    training words, same_kind, other_kind: the nouns' mean cosine similarities, moved: how far
    the embedding table moved in the epoch, seconds), and first epoch 0's: the untrained model."""
    check_options(epochs, seed)
    epochs = setup.epochs if epochs is None else epochs
    start, rng = time.perf_counter(), np.random.default_rng(seed)
    x, y = windows(corpus(setup.sentences, rng))
    x_test, y_test = windows(corpus(setup.test_sentences, np.random.default_rng([seed, 1])))
    net, loss_fn = build(setup, seed), SoftmaxCrossEntropy()
    opt, table = SGD(net, setup.lr, setup.momentum), net.layers[0].params["weight"]
    total, step = epochs * math.ceil(len(y) / setup.batch_size), 0
    result = Result(net, best_possible=best_possible_accuracy())
    same, other = kind_similarity(net)
    result.history.append({"epoch": 0, "loss": loss_fn(net.forward(x), y), "accuracy": accuracy(net, x, y),
                           "same_kind": same, "other_kind": other, "moved": 0.0, "seconds": 0.0})
    if on_epoch:
        on_epoch(result.history[0])
    for epoch in range(1, epochs + 1):
        t0, before = time.perf_counter(), table.copy()
        order, loss_sum, hits = rng.permutation(len(y)), 0.0, 0
        for i in range(0, len(order), setup.batch_size):
            idx = order[i:i + setup.batch_size]
            opt.lr = 0.5 * setup.lr * (1 + math.cos(math.pi * step / total))   # cosine decay
            logits = net.forward(x[idx])
            loss_sum += loss_fn(logits, y[idx]) * len(idx)
            hits += int((logits.argmax(1) == y[idx]).sum())
            net.backward(loss_fn.backward())       # ends in Embedding.backward: rows read get dL/dw
            opt.step()
            step += 1
        same, other = kind_similarity(net)
        record = {"epoch": epoch, "loss": loss_sum / len(y), "accuracy": hits / len(y),
                  "same_kind": same, "other_kind": other,
                  "moved": float(np.linalg.norm(table - before)),
                  "seconds": time.perf_counter() - t0}
        result.history.append(record)
        if on_epoch:
            on_epoch(record)
    result.test_accuracy = accuracy(net, x_test, y_test)
    result.wall_time_s = time.perf_counter() - start
    return result
