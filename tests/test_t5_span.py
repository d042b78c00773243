"""T5's span corruption: noise fraction, mean span length, exact reconstruction, reproducibility
from a seed, and the span_corrupt task on a batch."""

import torch

from ann.registry import create_model
from ann.tasks import get_task
from ann.tasks.text2text import random_spans_mask, restore_spans, span_corrupt, span_counts

SENTINEL = 100  # <extra_id_i> = 100 - i; ordinary tokens are above


def _spans(mask: list[bool]) -> list[int]:
    lengths, run = [], 0
    for m in mask + [False]:
        if m:
            run += 1
        elif run:
            lengths.append(run)
            run = 0
    return lengths


def test_noise_fraction_and_mean_span_length():
    g = torch.Generator().manual_seed(0)
    noise, spans, total = 0, [], 0
    for _ in range(300):
        length = int(torch.randint(50, 200, (1,), generator=g))
        mask = random_spans_mask(length, generator=g).tolist()
        assert sum(mask) == span_counts(length)[0]
        assert len(_spans(mask)) == span_counts(length)[1]
        assert mask[-1] and not mask[0]  # starts with kept tokens, ends with a noise span
        noise, total, spans = noise + sum(mask), total + length, spans + _spans(mask)
    assert abs(noise / total - 0.15) < 0.005
    assert abs(sum(spans) / len(spans) - 3.0) < 0.1


def test_inputs_and_targets_reconstruct_the_row():
    g = torch.Generator().manual_seed(1)
    for length in (2, 3, 7, 20, 63, 128, 511):
        row = (torch.randint(0, 5000, (length,), generator=g) + SENTINEL + 1).tolist()
        inputs, targets = span_corrupt(row, SENTINEL, generator=g)
        n_spans = span_counts(length)[1]
        assert [t for t in inputs if t <= SENTINEL] == [SENTINEL - i for i in range(n_spans)]
        assert len(inputs) + len(targets) == length + 2 * n_spans
        assert restore_spans(inputs, targets, SENTINEL, n_sentinels=100) == row


def test_the_paper_example():
    # Raffel et al., figure 2: "Thank you for inviting me to your party last week."
    words = "thank you for inviting me to your party last week".split()
    row = [SENTINEL + 1 + i for i in range(len(words))]
    inputs, targets = span_corrupt(row, SENTINEL, noise_density=0.3, mean_span_length=1.5,
                                   generator=torch.Generator().manual_seed(3))
    assert restore_spans(inputs, targets, SENTINEL, 10) == row
    assert targets[0] == SENTINEL and inputs.count(SENTINEL) == 1


def test_spans_reproducible_from_a_seed():
    row = list(range(200, 300))
    a = span_corrupt(row, SENTINEL, generator=torch.Generator().manual_seed(7))
    b = span_corrupt(row, SENTINEL, generator=torch.Generator().manual_seed(7))
    c = span_corrupt(row, SENTINEL, generator=torch.Generator().manual_seed(8))
    assert a == b and a != c


def test_span_task_builds_pairs_and_a_finite_loss():
    model = create_model("t5-span", "tiny")
    task = get_task(model.task)
    x, _ = model.example_batch(4, torch.Generator().manual_seed(0))
    src, tgt = task.pairs(model, x, torch.Generator().manual_seed(0))
    c = model.config
    assert (src[:, -1] == c.eos_id).all() and (tgt[:, 0] == c.bos_id).all()
    for s, t, row in zip(src.tolist(), tgt.tolist(), x.tolist()):
        end = t.index(c.eos_id)
        assert restore_spans(s[:-1], t[1:end], c.sentinel_id, c.n_sentinels) == row[:-1]
    loss, _ = task.loss(model, (x, x))
    assert torch.isfinite(loss)
    metrics = task.evaluate(model, [(x, x)])
    assert metrics == task.evaluate(model, [(x, x)])  # evaluation corrupts the same spans
