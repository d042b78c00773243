"""ann.apps.scratch: every hand-written gradient against PyTorch autograd (float64, < 1e-6), the
optimizer against torch.optim.SGD, and the from-scratch MLP and CNN trained on digits."""

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from ann.apps import scratch
from helpers import ann, fails_cleanly

TOL = 1e-6


def close(a, b):
    b = b.detach().numpy() if isinstance(b, torch.Tensor) else b
    assert a.shape == b.shape, (a.shape, b.shape)
    assert np.abs(a - b).max() < TOL, np.abs(a - b).max()


def check(layer, torch_fn, x, params=None):
    """Forward and backward of ``layer`` on ``x`` against ``torch_fn`` under autograd; the
    upstream gradient is random so every output element matters. ``params``: name -> the torch
    tensor holding the same values as ``layer.params[name]``."""
    out = layer.forward(x)
    g = np.random.default_rng(1).standard_normal(out.shape)
    xt = torch.tensor(x, requires_grad=True)
    ref = torch_fn(xt)
    (ref * torch.tensor(g)).sum().backward()
    close(out, ref)
    close(layer.backward(g), xt.grad)
    for name, tensor in (params or {}).items():
        close(layer.grads[name], tensor.grad)


def copy_into(module: nn.Module, layer) -> dict:
    module.double()
    with torch.no_grad():
        for name, value in layer.params.items():
            getattr(module, name).copy_(torch.tensor(value))
    return {name: getattr(module, name) for name in layer.params}


rng = np.random.default_rng(0)


def test_linear_with_bias_term():
    layer = scratch.Linear(7, 5, rng=0)
    layer.params["bias"] = rng.standard_normal(5)
    ref = nn.Linear(7, 5)
    check(layer, ref, rng.standard_normal((4, 7)), copy_into(ref, layer))


@pytest.mark.parametrize("layer,fn", [(scratch.ReLU, torch.relu), (scratch.Tanh, torch.tanh),
                                      (scratch.Sigmoid, torch.sigmoid)])
def test_activations(layer, fn):
    x = rng.standard_normal((3, 4, 5)) * 4     # large values: the sigmoid's stable branches
    check(layer(), fn, x)


@pytest.mark.parametrize("stride,padding,kernel", [(1, 0, 3), (1, 1, 3), (2, 1, 3), (2, 0, 2),
                                                   (3, 2, 5)])
def test_conv2d(stride, padding, kernel):
    layer = scratch.Conv2d(3, 4, kernel, stride, padding, rng=0)
    layer.params["bias"] = rng.standard_normal(4)
    ref = nn.Conv2d(3, 4, kernel, stride, padding)
    check(layer, ref, rng.standard_normal((2, 3, 9, 8)), copy_into(ref, layer))


@pytest.mark.parametrize("kernel,stride", [(2, None), (3, 1), (3, 2)])
def test_pooling(kernel, stride):
    x = rng.standard_normal((2, 3, 7, 8))
    check(scratch.MaxPool2d(kernel, stride), nn.MaxPool2d(kernel, stride), x)
    check(scratch.AvgPool2d(kernel, stride), nn.AvgPool2d(kernel, stride), x)


@pytest.mark.parametrize("shape", [(6, 4), (3, 4, 5, 5)])
def test_batch_norm_train_and_eval(shape):
    layer = scratch.BatchNorm(4)
    layer.params["weight"] = rng.standard_normal(4)
    layer.params["bias"] = rng.standard_normal(4)
    ref = (nn.BatchNorm1d if len(shape) == 2 else nn.BatchNorm2d)(4)
    params = copy_into(ref, layer)
    x = rng.standard_normal(shape) * 3 + 1
    for _ in range(2):                      # running statistics after two training batches
        check(layer, ref, x, params)
        ref.zero_grad()
        x = x * 0.5 - 2
    close(layer.running_mean, ref.running_mean)
    close(layer.running_var, ref.running_var)
    layer.training = False
    ref.eval()
    check(layer, ref, x, params)


def test_dropout_is_inverted_seeded_and_exact():
    x = rng.standard_normal((50, 40))
    layer = scratch.Dropout(0.3, seed=5)
    out = layer.forward(x)
    mask = layer.mask.copy()
    # the mask keeps about 70% and scales survivors by 1 / 0.7 (inverted dropout)
    assert abs((mask > 0).mean() - 0.7) < 0.03
    assert np.allclose(mask[mask > 0], 1 / 0.7)
    again = scratch.Dropout(0.3, seed=5)
    assert np.array_equal(again.forward(x), out)          # seeded: the same mask
    check(layer := scratch.Dropout(0.3, seed=5), lambda t: t * torch.tensor(mask), x)
    layer.training = False
    assert layer.forward(x) is x and layer.backward(x) is x


def test_embedding_accumulates_repeated_ids():
    layer = scratch.Embedding(10, 6, rng=0)
    ref = nn.Embedding(10, 6)
    params = copy_into(ref, layer)
    ids = np.array([[1, 2, 2], [9, 1, 1]])
    out = layer.forward(ids)
    g = rng.standard_normal(out.shape)
    r = ref(torch.tensor(ids))
    (r * torch.tensor(g)).sum().backward()
    close(out, r)
    assert layer.backward(g) is None
    close(layer.grads["weight"], params["weight"].grad)


def test_softmax_cross_entropy():
    logits = rng.standard_normal((8, 5)) * 10
    labels = rng.integers(0, 5, 8)
    loss_fn = scratch.SoftmaxCrossEntropy()
    t = torch.tensor(logits, requires_grad=True)
    ref = F.cross_entropy(t, torch.tensor(labels))
    ref.backward()
    assert abs(loss_fn(logits, labels) - ref.item()) < TOL
    close(loss_fn.backward(), t.grad)


def _torch_cnn(net):
    """The scratch CNN's twin in torch.nn with the same weights (dropout off)."""
    mods = []
    for layer in net.layers:
        kind = type(layer).__name__
        if kind == "Conv2d":
            w = layer.params["weight"]
            m = nn.Conv2d(w.shape[1], w.shape[0], layer.k, layer.stride, layer.padding)
        elif kind == "BatchNorm":
            m = nn.BatchNorm2d(len(layer.params["weight"]))
        elif kind == "Linear":
            m = nn.Linear(*reversed(layer.params["weight"].shape))
        else:
            m = {"ReLU": nn.ReLU(), "MaxPool2d": nn.MaxPool2d(2), "Flatten": nn.Flatten(),
                 "Dropout": nn.Identity()}[kind]
        if layer.params:
            copy_into(m, layer)
        mods.append(m.double())
    return nn.Sequential(*mods)


def test_whole_cnn_backpropagation_and_sgd_step_match_torch():
    net = scratch.build_cnn(seed=0, dtype=np.float64)
    net.layers[-2].p = 0.0                                 # dropout off: deterministic
    ref = _torch_cnn(net)
    x, y = rng.standard_normal((6, 1, 8, 8)), rng.integers(0, 10, 6)
    opt = scratch.SGD(net, lr=0.1, momentum=0.9, weight_decay=1e-3)
    decay = [p for p in ref.parameters() if p.ndim > 1]
    rest = [p for p in ref.parameters() if p.ndim == 1]
    ref_opt = torch.optim.SGD([{"params": decay, "weight_decay": 1e-3},
                               {"params": rest, "weight_decay": 0.0}], lr=0.1, momentum=0.9)
    loss_fn = scratch.SoftmaxCrossEntropy()
    for _ in range(3):                                     # momentum matters from step 2 on
        loss = loss_fn(net.forward(x), y)
        net.backward(loss_fn.backward())
        opt.step()
        ref_opt.zero_grad()
        ref_loss = F.cross_entropy(ref(torch.tensor(x)), torch.tensor(y))
        ref_loss.backward()
        ref_opt.step()
        assert abs(loss - ref_loss.item()) < TOL
    for (layer, name), p in zip(net.parameters(), ref.parameters()):
        close(layer.params[name], p)


def test_parameter_count_splits_weights_and_biases():
    counts = scratch.build_mlp().count_parameters()
    assert counts == {"weights": 64 * 128 + 128 * 64 + 64 * 10, "biases": 128 + 64 + 10}


@pytest.mark.parametrize("model,epochs,threshold", [("mlp", 8, 0.94), ("cnn", 6, 0.95)])
def test_scratch_networks_learn_digits(model, epochs, threshold):
    seen = []
    result = scratch.train_digits(model, epochs=epochs, on_epoch=seen.append)
    assert [r["epoch"] for r in seen] == list(range(1, epochs + 1))
    assert seen[-1]["loss"] < seen[0]["loss"]
    assert result.test_accuracy >= threshold, result.test_accuracy


def test_cli_prints_each_epoch():
    out = ann("scratch", "digits", "--model", "mlp", "--epochs", "3").stdout
    lines = out.strip().splitlines()
    assert lines[0].split()[:2] == ["epoch", "loss"]
    assert [line.split()[0] for line in lines[1:4]] == ["1", "2", "3"]
    assert lines[-1].startswith("test accuracy")


@pytest.mark.parametrize("args,words", [
    (["digits", "--model", "rnn"], ["unknown scratch model", "cnn", "mlp"]),
    (["digits", "--epochs", "0"], ["epochs", "at least 1"]),
    (["mnist"], ["'digits' only", "mnist"]),
])
def test_cli_bad_input(args, words):
    fails_cleanly(ann("scratch", *args, check=False), *words)


def test_no_autograd_in_scratch():
    """ann.apps.scratch computes every gradient itself: its code never imports torch."""
    from pathlib import Path

    for path in Path(scratch.__file__).parent.glob("*.py"):
        text = path.read_text()
        assert "import torch" not in text and "from torch" not in text, path.name


def test_word_model_embedding_gradient_equals_autograd():
    """The word model's hand-written backward pass, ending in the embedding rows it read, against
    torch autograd on the same weights and words (float64); then one SGD step moves only the
    rows of the words that were read."""
    from ann.apps.scratch import words

    net = words.build(seed=3)
    x, y = words.windows(words.corpus(5, np.random.default_rng(0)))
    x[0] = [1, 1]                                           # a word read twice in one window
    emb, lin = net.layers[0], net.layers[2]
    table = torch.tensor(emb.params["weight"], requires_grad=True)
    weight = torch.tensor(lin.params["weight"], requires_grad=True)
    bias = torch.tensor(lin.params["bias"], requires_grad=True)
    logits = F.linear(F.embedding(torch.tensor(x), table).flatten(1), weight, bias)
    ref = F.cross_entropy(logits, torch.tensor(y))
    ref.backward()
    loss_fn = scratch.SoftmaxCrossEntropy()
    loss = loss_fn(net.forward(x), y)
    net.backward(loss_fn.backward())
    assert abs(loss - ref.item()) < TOL
    close(emb.grads["weight"], table.grad)
    close(lin.grads["weight"], weight.grad)
    close(lin.grads["bias"], bias.grad)
    before = emb.params["weight"].copy()
    scratch.SGD(net, lr=0.1, momentum=0.0).step()
    moved = np.abs(emb.params["weight"] - before).sum(1) > 0
    assert set(np.flatnonzero(moved)) == set(np.unique(x))


def test_word_model_embeddings_learn_the_kinds_of_nouns():
    from ann.apps.scratch import words

    seen = []
    result = words.train_words(epochs=12, on_epoch=seen.append)
    assert [r["epoch"] for r in seen] == list(range(13))
    first, last = seen[0], seen[-1]
    assert last["loss"] < 0.5 * first["loss"]
    # untrained, the kinds are not told apart; trained, two animals are close, an animal and a
    # vehicle are not
    assert abs(first["same_kind"] - first["other_kind"]) < 0.3
    assert last["same_kind"] > 0.8 and last["same_kind"] - last["other_kind"] > 0.5
    assert 0.40 < result.test_accuracy <= result.best_possible + 0.03


def test_cli_scratch_words():
    lines = ann("scratch", "words", "--epochs", "3").stdout.strip().splitlines()
    assert lines[0].split()[:3] == ["epoch", "loss", "accuracy"]
    assert [line.split()[0] for line in lines[1:5]] == ["0", "1", "2", "3"]
    assert lines[5].startswith("held-out next-word accuracy")
    fails_cleanly(ann("scratch", "words", "--model", "cnn", check=False), "one model")
