"""The glossary behind ``ann explain TERM``: short entries for the terms a learner meets, each
pointing to the ann code that embodies it and, where it fits, a figure computed when the entry is
shown (a parameter count taken from a real model, a gradient measured through real layers).

    entries()          every Entry (term, text, code, figure) in reading order
    explain("epoch")   one entry as text; an unknown term fails with close matches
    render_html()      the entries as one <section id="glossary"> for the HTML report
"""

from __future__ import annotations

import difflib
import html
import importlib
import math
import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..errors import AnnError


@dataclass(frozen=True)
class Entry:
    term: str
    text: str                                  # two to five sentences, plain text
    code: tuple[str, ...]                      # dotted paths of the ann objects that embody it
    compute: Callable[[], str] | None = None   # the live figure, computed on demand
    aliases: tuple[str, ...] = field(default=())

    def figure(self) -> str | None:
        """The live figure as one line of text, or None for entries without one."""
        return self.compute() if self.compute else None


def resolve(path: str):
    """The object at a dotted path such as ``ann.layers.attention.MultiHeadAttention``."""
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            obj = getattr(obj, name)
        return obj
    raise ImportError(path)


# --------------------------------------------------------------------------- live figures

def _recipe_model(recipe: str):
    from .. import api, registry

    rc = api.build_config(recipe)
    return rc, registry.build_model(rc.model_name, rc.model)


def _parameters() -> str:
    from ..report.summary import count_parameters

    c = count_parameters(_recipe_model("cnn-digits")[1])
    return (f"cnn-digits has {c['total']:,} parameters: {c['weights']:,} weights and "
            f"{c['biases']:,} bias terms.")


def _bias_term() -> str:
    from ..report.summary import count_parameters

    c = count_parameters(_recipe_model("mlp-digits")[1])
    return (f"mlp-digits: {c['biases']:,} bias terms beside {c['weights']:,} weights "
            f"({c['biases'] / c['total']:.1%} of its parameters).")


def _steps() -> str:
    from ..registry import load_dataset

    rc, _ = _recipe_model("cnn-digits")
    n, b, e = len(load_dataset("digits", "train")), rc.train.batch_size, rc.train.epochs
    return (f"cnn-digits: {n:,} training images in batches of {b} = {n // b} steps per epoch "
            f"(the incomplete last batch is dropped); {e} epochs = {e * (n // b):,} steps.")


def _learning_rate() -> str:
    rc, _ = _recipe_model("cnn-digits")
    t = rc.train
    return (f"cnn-digits: {t.optimizer}, peak learning rate {t.lr:g} after {t.warmup_steps} warmup "
            f"steps, then a {t.schedule} decay to {t.min_lr:g}.")


def _backprop() -> str:
    from .scratch import Linear, Sequential, SoftmaxCrossEntropy, Tanh

    rng = np.random.default_rng(0)
    net = Sequential(Linear(5, 4, rng), Tanh(), Linear(4, 3, rng))
    x, y, loss = rng.standard_normal((6, 5)), rng.integers(0, 3, 6), SoftmaxCrossEntropy()
    loss(net.forward(x), y)
    net.backward(loss.backward())
    w, worst, h = net.layers[0].params["weight"], 0.0, 1e-6
    for i in np.ndindex(w.shape):      # central differences, one weight at a time
        old = w[i]
        w[i] = old + h
        up = loss(net.forward(x), y)
        w[i] = old - h
        down = loss(net.forward(x), y)
        w[i] = old
        worst = max(worst, abs((up - down) / (2 * h) - net.layers[0].grads["weight"][i]))
    return (f"ann.apps.scratch's hand-written gradient of a 5-4-3 network's first layer agrees with "
            f"finite differences to {worst:.1e}.")


def _gradient() -> str:
    from .scratch import SGD, SoftmaxCrossEntropy, words

    net, loss_fn = words.build(seed=0), SoftmaxCrossEntropy()
    x, y = words.windows(words.corpus(50, np.random.default_rng(0)))
    before = loss_fn(net.forward(x), y)
    net.backward(loss_fn.backward())
    norm = math.sqrt(sum(float((layer.grads[n] ** 2).sum()) for layer, n in net.parameters()))
    SGD(net, lr=0.5, momentum=0.0).step()
    return (f"the word model of ann.apps.scratch.words: its loss {before:.3f} has a gradient of "
            f"norm {norm:.3f} over {sum(layer.params[n].size for layer, n in net.parameters())} "
            f"parameters; one step of 0.5 against it lowers the loss to {loss_fn(net.forward(x), y):.3f}.")


def _updating_embeddings() -> str:
    from .scratch import words

    result = words.train_words(epochs=10)
    first, last = result.history[0], result.history[-1]
    return (f"`ann scratch words`, 10 epochs: two animals' embeddings go from cosine similarity "
            f"{first['same_kind']:.2f} to {last['same_kind']:.2f}, an animal's and a vehicle's from "
            f"{first['other_kind']:.2f} to {last['other_kind']:.2f}; no word was told its kind.")


def _hyperparameters() -> str:
    from .. import api

    rc, model = _recipe_model("cnn-digits")
    keys = [k for k, _, _ in api.config_rows(rc) if k.split(".")[0] in ("model", "train")]
    learned = sum(p.numel() for p in model.parameters())
    return (f"cnn-digits: {len(keys)} model.* and train.* settings chosen before training "
            f"(`ann train cnn-digits --show-config` lists them), {learned:,} parameters learned.")


def _vanishing() -> str:
    from .scratch import Linear, Sequential, Sigmoid

    parts = []
    for depth in (2, 5, 10, 20):
        layers = []
        for _ in range(depth):
            lin = Linear(1, 1)
            lin.params["weight"][:] = 1.0
            layers += [lin, Sigmoid()]
        net = Sequential(*layers)
        net.forward(np.zeros((1, 1)))
        parts.append(f"{depth} layers {abs(net.backward(np.ones((1, 1)))[0, 0]):.1e}")
    return ("gradient reaching the input of a chain of sigmoid units (weights 1), measured with "
            "ann.apps.scratch: " + ", ".join(parts) + ".")


def _softmax() -> str:
    z = np.array([2.0, 1.0, 0.1])
    p = np.exp(z - z.max())
    p /= p.sum()
    return f"softmax([2.0, 1.0, 0.1]) = [{', '.join(f'{v:.3f}' for v in p)}] (sums to {p.sum():.0f})."


def _dropout() -> str:
    from .scratch import Dropout

    x = np.ones((100, 100))
    out = Dropout(0.5, seed=0).forward(x)
    return (f"ann.apps.scratch.Dropout(0.5) on 10,000 ones: {(out == 0).mean():.1%} zeroed, the rest "
            f"become {out.max():g}, mean {out.mean():.3f}.")


def _convolution() -> str:
    from .scratch import Conv2d

    conv = Conv2d(1, 16, 3, padding=1)
    n_conv = sum(v.size for v in conv.params.values())
    out = conv.forward(np.zeros((1, 1, 8, 8)))
    dense = 64 * out.size + out.size
    return (f"1 -> 16 channels, 3x3 kernel, padding 1 on an 8x8 image: output {tuple(out.shape[1:])}"
            f" from {n_conv} parameters; a fully connected layer with the same input and output "
            f"needs {dense:,}.")


def _pooling() -> str:
    from .scratch import MaxPool2d

    x = np.arange(16.0).reshape(1, 1, 4, 4)
    y = MaxPool2d(2).forward(x)
    return f"2x2 max pooling of the 4x4 grid 0..15 gives {y[0, 0].astype(int).tolist()}."


def _perplexity() -> str:
    return (f"a model that spreads its bets evenly over 65 characters has loss ln 65 = "
            f"{math.log(65):.3f} nats and perplexity e^{math.log(65):.3f} = {math.exp(math.log(65)):.0f}.")


def _embedding() -> str:
    rc, _ = _recipe_model("gpt-pydoc")
    v, d = rc.model.vocab_size, rc.model.n_embd
    return f"gpt-pydoc's token embedding: {v:,} tokens x {d} numbers = {v * d:,} parameters."


def _attention() -> str:
    from ..layers.attention import MultiHeadAttention

    m = MultiHeadAttention(64, 4)
    n = sum(p.numel() for p in m.parameters())
    return (f"MultiHeadAttention(d_model=64, n_heads=4): {n:,} parameters (query, key, value and "
            f"output projections, 4 x 64 x 64 weights + 4 x 64 biases); its cost grows with the "
            f"square of the sequence length, its parameter count does not.")


# --------------------------------------------------------------------------- the entries

_ENTRIES = [
    Entry("parameters", "The numbers a network learns: the weights of its connections and the "
          "bias terms of its units. Training changes nothing else; the architecture and the "
          "hyperparameters (learning rate, batch size, number of layers) are chosen, not learned. "
          "`ann info RUN` and `ann list` count them, split into weights and biases.",
          ("ann.report.summary.count_parameters",), _parameters, ("parameter", "weights")),
    Entry("bias term", "A learned constant added to a unit's weighted sum, y = w.x + b, so the "
          "unit can respond when its inputs are zero and shift where its activation turns on. "
          "Each output unit of a fully connected layer, and each output channel of a "
          "convolution, has one.",
          ("ann.apps.scratch.Linear", "ann.layers.linear.Linear"), _bias_term, ("bias",)),
    Entry("feed-forward", "A network whose signal flows one way, input to output, through layers "
          "with no loops: each layer's output feeds only later layers. The multilayer perceptron "
          "is the plain case; the position-wise MLP inside every Transformer block is also called "
          "the feed-forward layer.",
          ("ann.models.cnn.mlp.MLPClassifier", "ann.layers.linear.MLP"), None,
          ("feedforward", "multilayer perceptron", "mlp")),
    Entry("activation", "The nonlinear function applied to a unit's weighted sum (ReLU, tanh, "
          "sigmoid, GELU). Without it, a stack of linear layers collapses into one linear map; "
          "with it, a network can approximate any continuous function.",
          ("ann.layers.activation.get_activation", "ann.apps.scratch.ReLU", "ann.apps.scratch.Sigmoid"),
          None, ("activation function", "relu", "nonlinearity")),
    Entry("loss", "One number that says how wrong the network's outputs are on a batch: "
          "cross-entropy for classes, mean squared error for values. Training lowers it; the "
          "metric you care about (accuracy, BLEU) is measured separately because it is usually "
          "not differentiable.",
          ("ann.apps.scratch.SoftmaxCrossEntropy", "ann.tasks.classify.Classification"), None,
          ("loss function", "cross-entropy", "objective")),
    Entry("softmax", "Turns a vector of scores (logits) into probabilities: exponentiate each and "
          "divide by the sum. Larger scores get exponentially more weight. Paired with the "
          "cross-entropy loss its gradient is simply probabilities minus the one-hot target.",
          ("ann.layers.activation.Softmax", "ann.apps.scratch.SoftmaxCrossEntropy"), _softmax),
    Entry("backpropagation", "The chain rule applied layer by layer from the loss back to the "
          "input: each layer turns the gradient with respect to its output into gradients for "
          "its parameters and for its input, which the layer before it receives (Rumelhart, "
          "Hinton & Williams 1986). ann.apps.scratch writes every layer's backward pass by hand; "
          "`ann scratch digits` trains with it.",
          ("ann.apps.scratch.Sequential", "ann.apps.scratch.Conv2d"), _backprop,
          ("backprop", "backward pass", "chain rule")),
    Entry("gradient", "The vector of the loss's partial derivatives with respect to every "
          "parameter: how fast the loss changes as each weight is nudged. It points uphill, so "
          "training steps against it; backpropagation computes all of it in one backward pass, "
          "at about the cost of a forward pass.",
          ("ann.apps.scratch.Layer", "ann.apps.scratch.SGD", "ann.train.engine.Trainer"), _gradient,
          ("gradients", "derivative", "partial derivative")),
    Entry("gradient descent", "Move every parameter a small step against its gradient: "
          "w <- w - lr * dL/dw. Stochastic gradient descent estimates the gradient on a random "
          "batch instead of the whole data set; momentum averages recent steps so the descent "
          "keeps its direction through noise.",
          ("ann.apps.scratch.SGD", "ann.train.optim.build_optimizer"), None,
          ("sgd", "stochastic gradient descent", "optimizer", "momentum")),
    Entry("learning rate", "The size of each gradient-descent step. Too large and the loss "
          "diverges; too small and training crawls. Schedules raise it during a short warmup and "
          "then lower it (cosine decay) as training settles.",
          ("ann.train.optim.build_schedule",), _learning_rate, ("lr", "schedule", "warmup")),
    Entry("batch", "The examples used for one gradient step. A larger batch gives a less noisy "
          "gradient and better hardware use per step, but fewer steps per epoch.",
          ("ann.train.batches.EpochBatches",), _steps, ("batch size", "mini-batch", "step")),
    Entry("epoch", "One pass over the whole training set. Training runs for several epochs; the "
          "examples are reshuffled at each, and validation is usually measured after each.",
          ("ann.train.batches.EpochBatches", "ann.apps.scratch.digits.train_digits"), _steps,
          ("epochs",)),
    Entry("hyperparameter", "A setting chosen before training rather than learned by it: the "
          "learning rate, batch size, number of epochs, weight decay, dropout rate, the number "
          "and width of layers. They are tuned on the validation split, never on the test split. "
          "In ann they are the model.* and train.* keys of a recipe.",
          ("ann.config.describe", "ann.train.config.TrainConfig"), _hyperparameters,
          ("hyperparameters", "hyper-parameter", "settings")),
    Entry("overfitting", "Fitting the training examples, noise included, so well that accuracy on "
          "unseen data drops: training loss keeps falling while validation loss rises. Remedies "
          "are more data, augmentation, weight decay, dropout and keeping the weights that did "
          "best on the validation split, which ann does for every run.",
          ("ann.train.engine.Trainer", "ann.layers.dropout.Dropout"), None,
          ("generalization", "regularization", "validation")),
    Entry("dropout", "During training, zero each unit's output at random with probability p and "
          "scale the survivors by 1/(1-p) (inverted dropout); at test time do nothing. Units "
          "cannot rely on one another, which reduces overfitting (Srivastava et al. 2014).",
          ("ann.apps.scratch.Dropout", "ann.layers.dropout.Dropout"), _dropout),
    Entry("batch normalization", "Normalise each channel by the mean and variance of the current "
          "batch, then scale and shift by learned gamma and beta; keep running averages of the "
          "statistics for test time (Ioffe & Szegedy 2015). Lets deep convolutional networks "
          "train fast with large learning rates.",
          ("ann.apps.scratch.BatchNorm", "ann.layers.norm.BatchNorm2d"), None,
          ("batchnorm", "batch norm", "bn")),
    Entry("layer normalization", "Normalise each example over its own features rather than over "
          "the batch (Ba et al. 2016), so it behaves the same in training and at test time and "
          "for any batch size; the norm of choice in Transformers and recurrent networks.",
          ("ann.layers.norm.LayerNorm", "ann.layers.norm.RMSNorm"), None,
          ("layernorm", "layer norm", "rmsnorm")),
    Entry("convolution", "A small kernel of weights slid over the image, computing a weighted sum "
          "at every position: the same weights everywhere (weight sharing), each output looking "
          "only at a local patch. Far fewer parameters than a fully connected layer, and a "
          "pattern is detected wherever it appears.",
          ("ann.apps.scratch.Conv2d", "ann.layers.conv.Conv2d"), _convolution,
          ("conv", "convolutional", "kernel", "cnn")),
    Entry("pooling", "Summarise each small window of a feature map by its maximum or mean, "
          "shrinking the map and making the features tolerant to small shifts. Global average "
          "pooling reduces each whole channel to one number before the classifier.",
          ("ann.apps.scratch.MaxPool2d", "ann.apps.scratch.AvgPool2d", "ann.layers.pooling.GlobalAvgPool2d"),
          _pooling, ("max pooling", "average pooling", "pool")),
    Entry("residual connection", "Add a block's input to its output, y = x + f(x), so the block "
          "learns a correction to the identity and gradients have a direct path through deep "
          "stacks (He et al. 2016). Every Transformer block has two.",
          ("ann.models.cnn.cnn.ResidualBlock", "ann.models.transformer.gpt.Block"), None,
          ("residual", "skip connection", "resnet")),
    Entry("vanishing gradient", "Backpropagation multiplies one derivative per layer (or per time "
          "step); when they are below 1 the gradient shrinks geometrically and early layers "
          "barely learn. The sigmoid's derivative is at most 0.25. ReLU, residual connections, "
          "normalisation and the LSTM's gated cell state are the remedies.",
          ("ann.apps.scratch.Sigmoid", "ann.layers.recurrent.lstm_cell"), _vanishing,
          ("vanishing gradients", "exploding gradient")),
    Entry("embedding", "A learned table with one vector per token (or item, or node); looking a "
          "token up replaces a one-hot vector times a weight matrix. Similar tokens end up with "
          "similar vectors because that helps the loss.",
          ("ann.apps.scratch.Embedding", "ann.layers.embedding.Embedding"), _embedding,
          ("embeddings", "word embedding")),
    Entry("updating embeddings", "An embedding table is trained like any weight matrix, but "
          "sparsely: backpropagation brings the gradient down to the vectors the batch looked "
          "up, a token read twice adds both contributions, and the optimizer moves those rows "
          "only. Tokens used alike get pulled alike, so similar words end up with similar "
          "vectors (Bengio et al. 2003). `ann scratch words` shows it epoch by epoch.",
          ("ann.apps.scratch.Embedding.backward", "ann.apps.scratch.words.train_words",
           "ann.layers.embedding.Embedding"), _updating_embeddings,
          ("embedding update", "embedding gradient", "learning embeddings")),
    Entry("tokenizer", "Cuts text into the units a language model reads, and maps each to an "
          "integer id: characters, words, or subwords learned from the corpus (byte-pair "
          "encoding for GPT, WordPiece for BERT) so rare words split into known pieces.",
          ("ann.data.tokenizers.BPETokenizer", "ann.data.tokenizers.WordPieceTokenizer"), None,
          ("token", "tokenization", "bpe", "wordpiece")),
    Entry("positional encoding", "Attention ignores order, so each position's embedding gets a "
          "vector saying where it is: fixed sinusoids (Vaswani et al. 2017), learned vectors "
          "(GPT, BERT) or rotations of queries and keys (RoPE).",
          ("ann.layers.positional.SinusoidalPositionalEncoding",
           "ann.layers.positional.RotaryEmbedding"), None, ("position", "rope")),
    Entry("attention", "Each position asks a question (query), compares it with every position's "
          "key, and takes the softmax-weighted average of their values: softmax(QK^T / sqrt(d)) V. "
          "Multi-head attention runs several such lookups in parallel on smaller projections "
          "(Vaswani et al. 2017). A causal mask lets a position see only the past.",
          ("ann.layers.attention.MultiHeadAttention", "ann.layers.attention.attention_math"),
          _attention, ("self-attention", "multi-head attention", "transformer attention")),
    Entry("encoder", "The part of a network that reads the whole input and turns it into "
          "representations: a Transformer encoder lets every position attend to every other "
          "(BERT is one); an autoencoder's encoder compresses its input into a small code.",
          ("ann.models.transformer.bert.BertEncoder", "ann.models.transformer.seq2seq.EncoderLayer"),
          None, ("encoders",)),
    Entry("decoder", "The part that produces the output one token at a time, each step seeing only "
          "what came before (a causal mask) and, in an encoder-decoder model, attending to the "
          "encoder's output (cross-attention). GPT is a decoder alone; an autoencoder's decoder "
          "rebuilds the input from the code.",
          ("ann.models.transformer.gpt.GPT", "ann.models.transformer.seq2seq.DecoderLayer"), None,
          ("decoders", "cross-attention")),
    Entry("transformer", "A network built from attention and position-wise feed-forward layers "
          "with residual connections and layer normalization, no recurrence (Vaswani et al. "
          "2017). Encoder-decoder for translation, encoder-only (BERT), decoder-only (GPT).",
          ("ann.models.transformer.seq2seq.Transformer",), None, ("transformers",)),
    Entry("recurrent network", "A network that reads a sequence one step at a time, carrying a "
          "hidden state from each step to the next with the same weights. The LSTM and GRU add "
          "gates that decide what to keep, which lets gradients survive long sequences.",
          ("ann.layers.recurrent.Recurrent", "ann.layers.recurrent.rnn_cell"), None,
          ("rnn", "recurrent", "elman network")),
    Entry("perplexity", "exp of a language model's average cross-entropy per token: the number of "
          "equally likely tokens it is, on average, choosing between. Lower is better; a model "
          "guessing uniformly over V tokens has perplexity V.",
          ("ann.tasks.lm.LanguageModeling",), _perplexity, ("ppl",)),
    Entry("autoencoder", "A network trained to reproduce its input through a narrow middle layer, "
          "so the code must keep what matters. Denoising autoencoders rebuild clean inputs from "
          "corrupted ones; variational autoencoders learn a distribution to sample from.",
          ("ann.models.autoencoder.ae.FullyConnectedAE", "ann.models.autoencoder.vae.VAE"), None,
          ("ae",)),
    Entry("generative adversarial network", "Two networks trained against each other: a "
          "generator turns random noise into samples, a discriminator tells them from real data, "
          "and each improves by fooling or catching the other (Goodfellow et al. 2014).",
          ("ann.models.gan.dcgan.DCGAN",), None, ("gan", "generator", "discriminator")),
    Entry("message passing", "How graph neural networks compute: each node gathers its "
          "neighbours' feature vectors, combines them (sum, mean, attention-weighted) and updates "
          "its own. k layers let information travel k edges.",
          ("ann.layers.message_passing.GCNConv", "ann.layers.message_passing.propagate"), None,
          ("graph neural network", "gnn", "gcn")),
]


def entries() -> list[Entry]:
    """Every entry, in reading order (from a single unit to whole architectures), then the
    entries the families keep beside their recipes (``ann.recipes.explain``)."""
    from ..recipes import TERMS

    family = [Entry(t.term, t.text, t.code, t.figure, t.aliases) for t in TERMS.values()]
    return [*_ENTRIES, *family]


def _key(text: str) -> str:
    return " ".join(text.lower().replace("_", " ").replace("-", " ").split())


def lookup(term: str) -> Entry:
    """The entry for ``term`` (or one of its aliases), ignoring case, hyphens and spacing."""
    names = {}
    for e in entries():
        for name in (e.term, *e.aliases):
            names[_key(name)] = e
    key = _key(term)
    if key in names:
        return names[key]
    close = difflib.get_close_matches(key, list(names), n=6, cutoff=0.6)
    terms = list(dict.fromkeys(names[c].term for c in close))[:3]   # aliases name their entry
    hint = f" (did you mean {' or '.join(map(repr, terms))}?)" if terms else ""
    raise AnnError(f"no glossary entry for {term!r}{hint}; `ann explain` lists the terms")


def explain(term: str) -> str:
    """One entry as terminal text: the term, its text, its code and its live figure."""
    e = lookup(term)
    lines = [e.term, "=" * len(e.term), textwrap.fill(e.text, 88), ""]
    figure = e.figure()
    if figure:
        lines += [textwrap.fill(f"Measured now: {figure}", 88), ""]
    lines.append("In ann: " + ", ".join(e.code))
    return "\n".join(lines)


# A full stop after these ends no sentence: "(Ba et al. 2016)", "e.g. a", "vs. the".
_ABBREVIATIONS = ("et al", "e.g", "i.e", "cf", "vs", "etc", "Fig", "Eq", "approx", "resp")


def first_sentence(text: str) -> str:
    """The first sentence of ``text``: up to the first full stop followed by a space that ends
    neither an abbreviation (``et al.``, ``e.g.``) nor an initial (``G. E. Hinton``)."""
    for m in re.finditer(r"\.(?=\s)", text):
        before = text[:m.start()]
        if before.endswith(_ABBREVIATIONS) or re.search(r"(^|[\s(])[A-Z]$", before):
            continue
        return text[:m.end()]
    return text.rstrip(".") + "."


def listing() -> str:
    """Every term with its first sentence."""
    width = max(len(e.term) for e in entries())
    rows = [f"{e.term.ljust(width)}  {first_sentence(e.text)}" for e in entries()]
    return "\n".join(rows + ["", "ann explain TERM shows an entry, its code and a figure measured "
                             "from ann."])


def render_html() -> str:
    """The glossary as an HTML fragment: one ``<section id="glossary">`` with one
    ``<article>`` per term (id ``term-NAME``), its text, its code and its live figure."""
    parts = ['<section id="glossary">', "<h2>Glossary</h2>"]
    for e in entries():
        anchor = "term-" + _key(e.term).replace(" ", "-")
        parts.append(f'<article class="term" id="{anchor}">')
        parts.append(f"<h3>{html.escape(e.term)}</h3>")
        parts.append(f"<p>{html.escape(e.text)}</p>")
        figure = e.figure()
        if figure:
            parts.append(f'<p class="figure">Measured: {html.escape(figure)}</p>')
        parts.append("<p class=\"code\">In ann: " + ", ".join(
            f"<code>{html.escape(c)}</code>" for c in e.code) + "</p>")
        parts.append("</article>")
    parts.append("</section>")
    return "\n".join(parts)
