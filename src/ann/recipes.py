"""Named, runnable recipes: a model preset, a dataset, training settings and the target to reach.

``ann list`` prints this table; ``ann train NAME [key=value ...]`` runs a row. Targets are what the
recipe must reach on its test split; ``benchmarks/`` measures them and BENCHMARKS.md records the
results. The reference figures come from ../shared/REFERENCES.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import unknown


@dataclass(frozen=True)
class Recipe:
    name: str                      # family-dataset
    family: str
    model: str                     # registered model name
    dataset: str                   # registered dataset name
    metric: str                    # reported on the test split
    target: float                  # the test metric a full run must reach
    description: str
    preset: str | None = None      # model preset
    model_overrides: dict = field(default_factory=dict)
    data: dict = field(default_factory=dict)
    train: dict = field(default_factory=dict)
    reference: str = ""            # the published figure the target is measured against
    pretrain: str | None = None    # a recipe trained first, whose weights start this one


RECIPES: dict[str, Recipe] = {}


def add(recipe: Recipe):
    RECIPES[recipe.name] = recipe


add(Recipe(
    "mlp-digits", "cnn", "mlp", "digits", "accuracy", 0.96,
    "feed-forward network on scikit-learn's 8x8 digits (embedded, seconds)",
    train=dict(epochs=40, batch_size=32, lr=2e-3, weight_decay=1e-4)))
add(Recipe(
    "cnn-digits", "cnn", "cnn", "digits", "accuracy", 0.98,
    "small residual CNN on scikit-learn's 8x8 digits (embedded; the demo)",
    data=dict(augment_shift=1),
    train=dict(epochs=40, batch_size=32, lr=3e-3, weight_decay=5e-4, warmup_steps=50)))
add(Recipe(
    "mlp-mnist", "cnn", "mlp", "mnist", "accuracy", 0.98,
    "feed-forward network 784-512-256-10 with dropout on MNIST",
    preset="mnist",
    train=dict(epochs=15, batch_size=128, lr=1e-3, weight_decay=1e-4)))
add(Recipe(
    "lenet-mnist", "cnn", "lenet", "mnist", "accuracy", 0.99,
    "LeNet-5 (LeCun et al. 1998) on MNIST",
    data=dict(augment_shift=1),
    train=dict(epochs=20, batch_size=128, lr=2e-3, weight_decay=1e-4),
    reference="LeCun et al. 1998: LeNet-5 0.95% test error (0.8% with distortions)"))
add(Recipe(
    "cnn-mnist", "cnn", "cnn", "mnist", "accuracy", 0.994,
    "small residual CNN on MNIST",
    preset="mnist", data=dict(augment_shift=2),
    train=dict(epochs=10, batch_size=128, lr=3e-3, weight_decay=5e-4, warmup_steps=200),
    reference="Keras mnist_convnet: 99.22% test"))
add(Recipe(
    "cnn-fashion", "cnn", "cnn", "fashion-mnist", "accuracy", 0.93,
    "small residual CNN on Fashion-MNIST",
    preset="fashion", data=dict(augment_shift=2, augment_flip=True),
    train=dict(epochs=20, batch_size=128, lr=3e-3, weight_decay=5e-4, warmup_steps=200,
               label_smoothing=0.1),
    reference="Fashion-MNIST benchmark, small 2-conv nets: 92.5-93.4% test"))

# Language models. nanoGPT's CPU configuration (REFERENCES.md): 4 layers, 4 heads, 128 wide,
# block 64, batch 12, 2000 iterations, lr 1e-3 decayed to 1e-4, warmup 100, beta2 0.99.
NANOGPT_CPU = dict(batch_size=12, max_steps=2000, lr=1e-3, min_lr=1e-4, warmup_steps=100,
                   beta2=0.99, weight_decay=0.1, grad_clip=1.0, eval_every=250, log_every=50,
                   eval_batch_size=128)

add(Recipe(
    "gpt-shakespeare", "transformer", "gpt", "shakespeare", "loss", 1.88,
    "character-level GPT on tiny Shakespeare, nanoGPT's CPU configuration",
    preset="cpu", train=NANOGPT_CPU,
    reference="nanoGPT CPU config: val loss ~1.88 after 2000 iterations"))
add(Recipe(
    "gpt-shakespeare-full", "transformer", "gpt", "shakespeare", "loss", 1.47,
    "character-level GPT 6x384 on tiny Shakespeare, nanoGPT's default configuration (a GPU job: "
    "~10 hours on 2 CPU cores)",
    preset="small",
    train={**NANOGPT_CPU, "batch_size": 64, "max_steps": 5000},
    reference="nanoGPT default config: val loss 1.4697 after 5000 iterations (one A100, ~3 min)"))
add(Recipe(
    "gpt-pydoc", "transformer", "gpt", "pydoc", "loss", 4.2,
    "GPT with byte-level BPE on Python's own documentation (embedded; writes English-like text)",
    preset="cpu", model_overrides=dict(block_size=128, dropout=0.1),
    train={**NANOGPT_CPU, "batch_size": 16, "max_steps": 1500}))
add(Recipe(
    "gpt-ptb", "transformer", "gpt", "ptb", "perplexity", 150.0,
    "word-level GPT on Penn Treebank (the data and 10k vocabulary of lstm-ptb: test perplexities "
    "compare directly)",
    preset="cpu", model_overrides=dict(dropout=0.2),
    train={**NANOGPT_CPU, "batch_size": 32},
    reference="Zaremba et al. 2014 small LSTM (2x200): test perplexity 115.91"))
add(Recipe(
    "gpt-wikitext2", "transformer", "gpt", "wikitext2", "loss", 4.5,
    "GPT with byte-level BPE (8,192 tokens) on WikiText-2 (needs the data: not in the offline "
    "set; downloads where a network exists)",
    preset="cpu", model_overrides=dict(block_size=128, dropout=0.1),
    train={**NANOGPT_CPU, "batch_size": 32, "max_steps": 4000}))

# Encoder-decoder Transformer (Vaswani et al. 2017). The Multi30k row follows the widely used
# tutorial (REFERENCES.md): 3+3 layers, width 256, 8 heads, FF 512, dropout 0.1, post-LN, Adam at
# a constant 5e-4, batch 128, gradients clipped to norm 1, 10 epochs, greedy decoding.
add(Recipe(
    "transformer-numbers", "transformer", "transformer", "numbers", "exact_match", 0.99,
    "encoder-decoder Transformer writing numbers in English words, 4721 -> four thousand seven "
    "hundred twenty one (embedded; under a minute)",
    preset="small",
    train=dict(max_steps=800, batch_size=64, lr=2e-3, warmup_steps=100, grad_clip=1.0,
               eval_every=200, log_every=50)))
add(Recipe(
    "transformer-multi30k", "transformer", "transformer", "multi30k", "bleu", 36.5,
    "the tutorial's Transformer (3+3 layers, 256 wide) translating Multi30k German -> English; "
    "BLEU on lowercased word tokens",
    preset="tutorial",
    train=dict(epochs=10, batch_size=128, lr=5e-4, schedule="constant", grad_clip=1.0,
               log_every=50, eval_batch_size=250),
    reference="tutorial Transformer 3+3x256, 10 epochs: BLEU 36.52"))

# BERT (Devlin et al. 2019) at BERT-Tiny's shape (Turc et al. 2019: 2 layers, 2 heads, 128 wide):
# masked-LM pretraining, then fine-tuning on the labels with the same encoder. AdamW with warmup
# and linear decay, weight decay 0.01 and dropout 0.1 as in the paper (appendix A.2, A.3).
BERT_MLM = dict(batch_size=128, lr=2e-3, warmup_steps=100, schedule="linear", weight_decay=0.01,
                beta2=0.98, grad_clip=1.0, log_every=20)
add(Recipe(
    "bert-pydoc", "transformer", "bert", "pydoc-mlm", "accuracy", 0.35,
    "BERT masked-LM on Python's documentation, WordPiece (embedded; a few minutes); "
    "try `ann fill RUN \"the [MASK] statement\"`",
    preset="L2-H128", train={**BERT_MLM, "batch_size": 32, "max_steps": 600, "eval_every": 200}))
add(Recipe(  # no dropout: so short a schedule underfits rather than overfits
    "bert-sst2-mlm", "transformer", "bert", "sst2-mlm", "accuracy", 0.15,
    "BERT masked-LM pretraining on SST-2's training sentences (no labels), the start of bert-sst2",
    preset="L2-H128", model_overrides=dict(dropout=0.0),
    train={**BERT_MLM, "batch_size": 64, "max_steps": 2000, "eval_every": 400}))
add(Recipe(
    "bert-sst2", "transformer", "bert-classifier", "sst2", "accuracy", 0.82,
    "BERT-Tiny pretrained by masked LM on SST-2's sentences (bert-sst2-mlm, run first), then "
    "fine-tuned on the labels; test = GLUE dev",
    preset="L2-H128", pretrain="bert-sst2-mlm",
    train=dict(epochs=1, batch_size=32, lr=5e-4, warmup_steps=200, schedule="linear",
               weight_decay=0.01, grad_clip=1.0, eval_every=500, log_every=50),
    reference="BERT-Tiny (Google pretraining) 83.2 GLUE test"))


def get_recipe(name: str) -> Recipe:
    if name not in RECIPES:
        raise unknown("recipe", name, RECIPES)
    return RECIPES[name]


def list_recipes() -> list[Recipe]:
    return [RECIPES[k] for k in sorted(RECIPES)]
