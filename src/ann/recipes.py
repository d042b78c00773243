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
# SST-2's ~7k distinct training sentences are too little text for the masked LM: 2,000 steps on them
# alone (17% masked-token accuracy) left fine-tuning below training from scratch (78.6 vs 81.0%);
# with the Penn Treebank's and Multi30k's English added (2.7 M tokens) 10,000 steps reach 33% and
# fine-tuning 81.7%, 20,000 steps 34% and 82.4%: above scratch and the 82% target (BENCHMARKS.md).
add(Recipe(  # no dropout: ~2 passes over the text underfit rather than overfit
    "bert-sst2-mlm", "transformer", "bert", "sst2-mlm", "accuracy", 0.15,
    "BERT masked-LM pretraining on SST-2's training sentences (no labels) with the Penn "
    "Treebank's and Multi30k's English text, the start of bert-sst2 (~80 min on one core)",
    preset="L2-H128", model_overrides=dict(dropout=0.0), data=dict(extra_text="ptb,multi30k"),
    train={**BERT_MLM, "batch_size": 64, "max_steps": 20000, "eval_every": 2000}))
add(Recipe(
    "bert-sst2", "transformer", "bert-classifier", "sst2", "accuracy", 0.82,
    "BERT-Tiny pretrained by masked LM on SST-2's sentences (bert-sst2-mlm, run first), then "
    "fine-tuned on the labels; test = GLUE dev",
    preset="L2-H128", pretrain="bert-sst2-mlm",
    train=dict(epochs=1, batch_size=32, lr=5e-4, warmup_steps=200, schedule="linear",
               weight_decay=0.01, grad_clip=1.0, eval_every=500, log_every=50),
    reference="BERT-Tiny (Google pretraining) 83.2 GLUE test"))


# Recurrent language models. Zaremba et al. 2014, small (REFERENCES.md): 2 x 200 LSTM, 20 steps,
# batch 20, SGD lr 1 for 4 epochs then halved every epoch, 13 epochs, clip 5, init +-0.1, no
# dropout. Their loss is summed over the 20 steps of a window (mean over the batch), ann's is the
# mean per token: lr 20 and clip 0.25 on the mean are the same update as lr 1 and clip 5 on the
# sum (the PyTorch word_language_model example uses the same pair).
ZAREMBA_SMALL = dict(epochs=13, batch_size=20, optimizer="sgd", momentum=0.0, lr=20.0,
                     schedule="step", decay_start=4, decay_factor=0.5, grad_clip=0.25,
                     log_every=200, eval_batch_size=1000)
add(Recipe(
    "lstm-ptb", "recurrent", "rnn-lm", "ptb", "perplexity", 116.0,
    "word-level 2x200 LSTM on Penn Treebank, Zaremba et al.'s small configuration (truncated "
    "BPTT with the state carried across batches)",
    preset="small", model_overrides=dict(cell="lstm"), train=ZAREMBA_SMALL,
    reference="Zaremba et al. 2014 small LSTM (2x200): test perplexity 115.91"))
add(Recipe(
    "gru-ptb", "recurrent", "rnn-lm", "ptb", "perplexity", 125.0,
    "word-level 2x200 GRU on Penn Treebank, trained as lstm-ptb at half its lr (for comparison; "
    "at lr 20 it diverged in epoch 3)",
    preset="small", model_overrides=dict(cell="gru"), train={**ZAREMBA_SMALL, "lr": 10.0},
    reference="Zaremba et al. 2014 small LSTM (2x200): test perplexity 115.91"))
add(Recipe(
    "rnn-ptb", "recurrent", "rnn-lm", "ptb", "perplexity", 160.0,
    "word-level 2x200 Elman RNN on Penn Treebank, trained as lstm-ptb at a lower lr (for "
    "comparison: the gap to the LSTM is the gates' worth)",
    preset="small", model_overrides=dict(cell="rnn"), train={**ZAREMBA_SMALL, "lr": 5.0},
    reference="Mikolov et al. 2011 (RNN LM, PTB): test perplexity ~141 (with more hidden units)"))
add(Recipe(
    "lstm-shakespeare", "recurrent", "rnn-lm", "shakespeare", "loss", 1.7,
    "character-level 2x256 LSTM on tiny Shakespeare (char-rnn; compare gpt-shakespeare)",
    preset="small", model_overrides=dict(cell="lstm", block_size=64, n_embd=64, hidden=256),
    train=dict(max_steps=2000, batch_size=32, lr=3e-3, min_lr=3e-4, grad_clip=1.0,
               eval_every=500, log_every=50, eval_batch_size=1000),
    reference="nanoGPT CPU config (GPT 4x128): val loss ~1.88 after 2000 iterations"))
add(Recipe(
    "lstm-pydoc", "recurrent", "rnn-lm", "pydoc", "loss", 4.5,
    "2x256 LSTM with byte-level BPE on Python's own documentation (embedded; compare gpt-pydoc)",
    preset="small", model_overrides=dict(cell="lstm", block_size=35, n_embd=256, hidden=256,
                                         dropout=0.1, init_range=0.05),
    train=dict(max_steps=3000, batch_size=32, lr=3e-3, min_lr=3e-4, grad_clip=1.0,
               eval_every=500, log_every=50, eval_batch_size=1000)))

# The rarer networks (issue 8). PNN, GRNN, GMDH and DSN are fitted in closed form by the model's
# own `fit` (ann.train.fitted): `train.epochs=1` only satisfies the config, no gradient loop runs.
# The tables' test split is fold `data.fold` of a stratified 10-fold split; benchmarks/classical.py
# runs all ten folds against scikit-learn's k-NN and SVM on the same folds.
FITTED = dict(epochs=1)
add(Recipe(
    "pnn-iris", "other", "pnn", "iris", "accuracy", 0.93,
    "probabilistic neural network (Specht 1990) on Fisher's iris, sigma by leave-one-out",
    train=FITTED, reference="k-NN / SVM on the same 10 folds: benchmarks/classical.py"))
add(Recipe(
    "pnn-wine", "other", "pnn", "wine", "accuracy", 0.93,
    "probabilistic neural network on the UCI wine table (13 features, 3 cultivars)",
    train=FITTED, reference="k-NN / SVM on the same 10 folds: benchmarks/classical.py"))
add(Recipe(
    "pnn-breast-cancer", "other", "pnn", "breast-cancer", "accuracy", 0.93,
    "probabilistic neural network on Wisconsin diagnostic breast cancer (30 features)",
    train=FITTED, reference="k-NN / SVM on the same 10 folds: benchmarks/classical.py"))
add(Recipe(
    "pnn-digits", "other", "pnn", "digits-table", "accuracy", 0.97,
    "probabilistic neural network on scikit-learn's 8x8 digits as 64 features",
    train=FITTED, reference="k-NN / SVM on the same 10 folds: benchmarks/classical.py"))
add(Recipe(
    "pnn-mnist", "other", "pnn", "mnist", "accuracy", 0.96,
    "probabilistic neural network storing MNIST's 55,000 training images (784 pixels each)",
    model_overrides=dict(in_features=784, grid=15),
    train=dict(FITTED, eval_batch_size=500),
    reference="k-NN (k=3, L2) 97.05% test (LeCun et al. 1998 table)"))
add(Recipe(
    "grnn-diabetes", "other", "grnn", "diabetes", "r2", 0.35,
    "general regression neural network (Specht 1991) on scikit-learn's diabetes table",
    train=FITTED, reference="linear regression / k-NN on the same 10 folds: benchmarks/classical.py"))
add(Recipe(
    "gmdh-diabetes", "other", "gmdh", "diabetes", "r2", 0.40,
    "GMDH multilayer iterative algorithm (Ivakhnenko 1971) on scikit-learn's diabetes table; "
    "the fitted formula and layer diagram are in RUN_DIR/model.txt",
    train=FITTED, reference="linear regression / MLP on the same 10 folds: benchmarks/classical.py"))
add(Recipe(
    "gmdh-breast-cancer", "other", "gmdh-classifier", "breast-cancer", "accuracy", 0.92,
    "GMDH fitted to the 0/1 diagnosis and thresholded at 0.5 (Wisconsin breast cancer)",
    train=FITTED, reference="logistic regression / MLP on the same 10 folds: benchmarks/classical.py"))
add(Recipe(
    "gmdh-sunspots", "other", "gmdh-forecaster", "sunspots", "rmse", 20.0,
    "GMDH forecasting next year's sunspot number from the last 20 (embedded series, 1700-2008)",
    data=dict(window=20), train=FITTED,
    reference="the linear AR(20) baseline the forecast task reports (ar_rmse)"))
add(Recipe(
    "dsn-digits", "other", "dsn", "digits", "accuracy", 0.98,
    "deep stacking network (Deng & Yu 2011): sigmoid modules with closed-form ridge outputs, "
    "stacked while validation improves, on scikit-learn's 8x8 digits",
    model_overrides=dict(in_features=64, hidden=500, max_modules=6, patience=2, refine_epochs=5),
    train=FITTED, reference="mlp-digits (backprop MLP 64-128-64-10): 97.77% (BENCHMARKS.md)"))
add(Recipe(
    "dsn-mnist", "other", "dsn", "mnist", "accuracy", 0.985,
    "deep stacking network on MNIST: 3,000 sigmoid units per module, weights refined by 25 "
    "cosine-decayed epochs on images shifted by up to 2 pixels, upper weights then solved in "
    "closed form",
    preset="mnist", model_overrides=dict(patience=2), data=dict(augment_shift=2), train=FITTED,
    reference="Deng & Yu 2011 DSN: 0.83% test error (unconfirmed, REFERENCES.md); mlp-mnist 98.55%"))
add(Recipe(
    "tdnn-chirps", "other", "tdnn", "chirps", "accuracy", 0.95,
    "Waibel's time-delay network on generated chirps and tones at random onsets (embedded; "
    "shift invariance in action)",
    train=dict(epochs=15, batch_size=32, lr=3e-3, weight_decay=1e-4)))
add(Recipe(
    "tdnn-fsdd", "other", "tdnn-xvector", "fsdd", "accuracy", 0.97,
    "x-vector TDNN (dilated convolutions, statistics pooling) on the Free Spoken Digit Dataset, "
    "log-mel features from torch.stft; customary split (takes 0-4 test)",
    train=dict(epochs=30, batch_size=32, lr=2e-3, weight_decay=1e-3, warmup_steps=100),
    reference="FSDD ResNet-18 on mel spectrograms: 95.3% val (REFERENCES.md)"))
# -- end of issue-8 recipes


# Autoencoders (task "reconstruct"): after training, ann.generative measures each use on the test
# split (k-NN / linear probe on the codes against PCA, AUROC, PSNR, ELBO) and draws its pictures.
AE_TRAIN = dict(batch_size=128, lr=2e-3, weight_decay=0.0, warmup_steps=100, log_every=50)
add(Recipe(
    "ae-digits", "autoencoder", "ae", "digits", "knn_accuracy", 0.75,
    "fully connected autoencoder with a 2-D code on scikit-learn's digits: the test codes "
    "scattered beside PCA's, k-NN accuracy in both (embedded; seconds)",
    preset="digits", train=dict(AE_TRAIN, epochs=150, batch_size=64, eval_every=200),
    reference="PCA with 2 components on the same split: k-NN accuracy 0.67 (pca_knn_accuracy)"))
add(Recipe(
    "ae-mnist", "autoencoder", "ae", "mnist", "probe_accuracy", 0.94,
    "fully connected autoencoder 784-512-256-32 on MNIST; a linear classifier on the frozen codes",
    preset="mnist", train=dict(AE_TRAIN, epochs=10),
    reference="logistic regression on PCA's 32 components of the same images: 0.90 "
              "(pca_probe_accuracy)"))
add(Recipe(
    "dae-mnist", "autoencoder", "dae", "mnist", "psnr", 18.0,
    "convolutional denoising autoencoder on MNIST with Gaussian noise (std 0.5); PSNR of the "
    "noisy input vs. the output, and a before/after grid",
    preset="mnist", train=dict(AE_TRAIN, epochs=5)))
add(Recipe(
    "ae-anomaly-breast-cancer", "autoencoder", "ae", "breast-cancer-anomaly", "auroc", 0.9,
    "fully connected autoencoder trained on benign tumours only; malignant ones scored by "
    "reconstruction error, AUROC (embedded; seconds)",
    preset="tabular", train=dict(AE_TRAIN, epochs=300, batch_size=32, lr=1e-3, eval_every=100)))
add(Recipe(
    "ae-anomaly-mnist", "autoencoder", "conv-ae", "mnist-anomaly", "auroc", 0.95,
    "convolutional autoencoder trained on MNIST zeros only (data.normal_classes); the other "
    "digits scored by reconstruction error, AUROC",
    preset="mnist", train=dict(AE_TRAIN, epochs=10),
    reference="Ruff et al. 2018 (Deep SVDD), DCAE baseline, normal class 0: AUROC 0.976"))
add(Recipe(
    "vae-mnist", "autoencoder", "vae", "mnist", "nelbo", 100.0,
    "convolutional VAE with a 32-D latent on MNIST: test negative ELBO in nats per image "
    "(Bernoulli decoder on grey levels), samples and a latent interpolation grid",
    preset="mnist", model_overrides=dict(latent=32, hidden=(512,)),
    train=dict(AE_TRAIN, epochs=30, lr=1e-3),
    reference="pytorch/examples VAE (MLP 784-400-20): -ELBO ~106.7 nats after 7 epochs"))
add(Recipe(
    "vae-digits", "autoencoder", "vae", "digits", "nelbo", 30.0,
    "convolutional VAE with a 2-D latent on scikit-learn's 8x8 digits: samples, the latent "
    "plane and the negative ELBO (nats per image, Bernoulli decoder; embedded, seconds)",
    preset="tiny", model_overrides=dict(widths=(16, 32), hidden=(128,), latent=2),
    train=dict(AE_TRAIN, epochs=60, lr=2e-3)))
add(Recipe(
    "vae-mnist-mlp", "autoencoder", "vae", "mnist", "nelbo", 107.0,
    "pytorch/examples' VAE (MLP 784-400-20, Adam 1e-3, batch 128) for comparison with vae-mnist",
    preset="mlp", train=dict(batch_size=128, lr=1e-3, epochs=7, schedule="constant",
                             log_every=50),
    reference="pytorch/examples VAE (MLP 784-400-20): -ELBO ~106.7 nats after 7 epochs"))


# Forecasting. The target of each series row is the linear AR baseline's test RMSE (sunspots:
# AR(11) one year ahead, 17.73; Mackey-Glass: AR(50) 10 steps ahead, 0.0345): the recipe reaches
# it when the network beats that baseline. The naive forecast is far worse on both (29.3, 0.187).
FORECAST = dict(max_steps=1500, batch_size=32, lr=3e-3, min_lr=1e-4, weight_decay=1e-4,
                grad_clip=1.0, eval_every=100, log_every=50)
add(Recipe(
    "lstm-sunspots", "recurrent", "rnn-forecaster", "sunspots", "rmse", 17.73,
    "LSTM forecasting yearly sunspot numbers (embedded), against naive and linear AR forecasts; "
    "your own series: data.path=my.csv data.column=value",
    preset="small", model_overrides=dict(cell="lstm"), train=FORECAST))
add(Recipe(
    "rnn-sunspots", "recurrent", "rnn-forecaster", "sunspots", "rmse", 17.73,
    "Elman RNN forecasting yearly sunspot numbers (embedded), against the same baselines",
    preset="small", model_overrides=dict(cell="rnn"), train=FORECAST))
add(Recipe(
    "lstm-mackey-glass", "recurrent", "rnn-forecaster", "mackey-glass", "rmse", 0.0345,
    "LSTM forecasting the chaotic Mackey-Glass series 10 steps ahead (generated), against naive "
    "and linear AR forecasts",
    preset="small", model_overrides=dict(cell="lstm", hidden=64), train=FORECAST))

# Graph networks (issue 7). Full-batch node classification: the split is one "example", so a step
# is an epoch and every step is evaluated. Adam (train.weight_decay=0) at a constant rate; the
# papers' L2 term is the model's `l2` (added to the loss on the weights each paper decays). The
# best checkpoint on validation accuracy is tested; early stopping counts evaluations.
KIPF = dict(epochs=200, batch_size=1, lr=0.01, schedule="constant", weight_decay=0.0,
            early_stop=100, log_every=10)
add(Recipe(
    "gcn-karate", "gnn", "gcn", "karate", "accuracy", 0.9,
    "GCN (4-4-2, tanh) on Zachary's karate club from 4 labelled members (embedded; seconds); "
    "plots the 2-D embedding over training",
    preset="karate", train={**KIPF, "epochs": 300, "early_stop": 0}))
add(Recipe(
    "gcn-cora", "gnn", "gcn", "cora", "accuracy", 0.815,
    "GCN (Kipf & Welling 2017) on Cora, public Planetoid split",
    preset="kipf", train=KIPF, reference="Kipf & Welling 2017: 81.5% test"))
add(Recipe(
    "gcn-citeseer", "gnn", "gcn", "citeseer", "accuracy", 0.703,
    "GCN (Kipf & Welling 2017) on CiteSeer, public Planetoid split",
    preset="kipf", train=KIPF, reference="Kipf & Welling 2017: 70.3% test"))
add(Recipe(
    "gcn-pubmed", "gnn", "gcn", "pubmed", "accuracy", 0.79,
    "GCN (Kipf & Welling 2017) on PubMed, public Planetoid split (needs the data: not in the "
    "offline set; downloads where a network exists)",
    preset="kipf", train=KIPF, reference="Kipf & Welling 2017: 79.0% test"))
add(Recipe(
    "gat-cora", "gnn", "gat", "cora", "accuracy", 0.83,
    "GAT (Velickovic et al. 2018: 8 heads x 8, dropout 0.6) on Cora, public Planetoid split; "
    "checkpoint and patience on the validation loss",
    preset="velickovic", model_overrides=dict(selection="loss"),
    train={**KIPF, "epochs": 1000, "lr": 0.005, "early_stop": 100},
    reference="Velickovic et al. 2018: 83.0 +- 0.7% test"))
add(Recipe(
    "sage-cora", "gnn", "sage", "cora", "accuracy", 0.79,
    "GraphSAGE-mean (Hamilton et al. 2017), full neighbourhoods, on Cora, public Planetoid split",
    model_overrides=dict(l2=5e-4), train=KIPF))
# Graph classification: GIN-0 (Xu et al. 2019), 5 layers of 32, batch 32, Adam 0.01, dropout 0.5;
# stratified 10-fold cross-validation (data.fold of data.folds; the next fold validates, and its
# loss picks the checkpoint: accuracy on ~19 MUTAG graphs is too coarse to select on).
XU = dict(epochs=200, batch_size=32, lr=0.01, schedule="cosine", weight_decay=0.0, log_every=10)
add(Recipe(
    "gin-mutag", "gnn", "gin", "mutag", "accuracy", 0.89,
    "GIN-0 (Xu et al. 2019) on MUTAG molecules, one fold of 10-fold cross-validation "
    "(benchmarks: --folds 10)",
    preset="xu", model_overrides=dict(selection="loss"), train=XU,
    reference="Xu et al. 2019: 89.4 +- 5.6% (10-fold CV)"))
add(Recipe(
    "gin-proteins", "gnn", "gin", "proteins", "accuracy", 0.74,
    "GIN-0 (Xu et al. 2019) on PROTEINS, one fold of 10-fold cross-validation "
    "(benchmarks: --folds 10)",
    preset="xu", model_overrides=dict(selection="loss"), train={**XU, "epochs": 100},
    reference="Xu et al. 2019: 76.2 +- 2.8% (10-fold CV)"))
add(Recipe(
    "gin-sbm", "gnn", "gin", "sbm-graphs", "accuracy", 0.9,
    "GIN on generated two-block graphs, assortative against disassortative (embedded; seconds)",
    preset="tiny", model_overrides=dict(num_classes=2), train={**XU, "epochs": 20}))
add(Recipe(
    "gcn-custom", "gnn", "gcn", "custom-graph", "accuracy", 0.0,
    "GCN on your own graph: data.edges=EDGES.csv ('source,target' per line) "
    "data.features=NODES.csv ('label,f1,f2,...' per node, label -1 = unknown)",
    preset="kipf", train=KIPF))
# Recommendation: LightGCN (He et al. 2020: 64 wide, 3 layers, reg 1e-4, batch 2048; Adam at 5e-3
# rather than the paper's 1e-3, for 40 epochs on one CPU); matrix factorisation is the same
# recipe with model.layers=0.
LIGHTGCN = dict(epochs=40, batch_size=2048, lr=5e-3, schedule="constant", weight_decay=0.0,
                eval_every=0, log_every=20, eval_batch_size=1024)
add(Recipe(
    "lightgcn-synthetic", "gnn", "lightgcn", "recsys-synthetic", "recall@20", 0.5,
    "LightGCN on generated users with planted taste groups (embedded; a minute): Recall@20 and "
    "NDCG@20 against popularity (in the metrics) and matrix factorisation (model.layers=0)",
    preset="he", train=LIGHTGCN))
add(Recipe(
    "lightgcn-movielens", "gnn", "lightgcn", "movielens-100k", "recall@20", 0.2,
    "LightGCN on MovieLens 100k, ratings >= 4 as interactions (needs the data: GroupLens forbids "
    "redistribution, so it is downloaded where a network exists)",
    preset="he", train=LIGHTGCN))
add(Recipe(
    "gcn-linkpred-cora", "gnn", "gcn-link", "cora-links", "auc", 0.9,
    "GCN encoder + inner-product decoder (GAE, Kipf & Welling 2016) predicting Cora's held-out "
    "citations (85/5/10 edge split); test AUC",
    preset="gae", train={**KIPF, "epochs": 200, "early_stop": 50},
    reference="Kipf & Welling 2016 (GAE): 91.0% AUC on Cora"))
# -- end of issue-7 recipes

# Sequence classification with recurrent layers.
add(Recipe(
    "lstm-digits-rows", "recurrent", "rnn-classifier", "digits", "accuracy", 0.95,
    "LSTM reading each 8x8 digit one pixel row per step (embedded; seconds)",
    preset="rows", train=dict(epochs=30, batch_size=32, lr=3e-3, weight_decay=1e-4,
                              grad_clip=1.0, log_every=50)))
add(Recipe(
    "gru-digits-rows", "recurrent", "rnn-classifier", "digits", "accuracy", 0.95,
    "GRU reading each 8x8 digit one pixel row per step, as lstm-digits-rows (embedded; seconds)",
    preset="rows", model_overrides=dict(cell="gru"),
    train=dict(epochs=30, batch_size=32, lr=3e-3, weight_decay=1e-4, grad_clip=1.0, log_every=50)))
add(Recipe(
    "gru-sst2", "recurrent", "rnn-classifier", "sst2", "accuracy", 0.78,
    "bidirectional GRU over WordPiece tokens, trained from scratch on SST-2 (test = GLUE dev; "
    "compare bert-sst2)",
    preset="text", train=dict(epochs=2, batch_size=64, lr=2e-3, weight_decay=1e-4,
                              grad_clip=1.0, eval_every=500, log_every=50, eval_batch_size=500),
    reference="Socher et al. 2013: LSTM-style recursive/recurrent baselines ~80-85% (SST-2)"))

# GANs (task "adversarial"): the model steps its two players itself (engine hook
# `training_step`); samples are judged by ann's own classifier for the dataset (ann.generative:
# confidence, classes present, a Fréchet distance on its features -- not the Inception FID).
GAN_TRAIN = dict(batch_size=64, lr=2e-4, beta1=0.5, beta2=0.999, schedule="constant",
                 log_every=50)
add(Recipe(
    "dcgan-digits", "gan", "dcgan", "digits", "confidence", 0.8,
    "DCGAN on scikit-learn's 8x8 digits; samples judged by mlp-digits (embedded; a minute)",
    preset="digits", train=dict(GAN_TRAIN, max_steps=3000, eval_every=500, lr=5e-4)))
add(Recipe(
    "dcgan-mnist", "gan", "dcgan", "mnist", "confidence", 0.9,
    "DCGAN (Radford et al. 2016) on MNIST with InfoGAN's fully connected layers (1024 units after "
    "the noise and before the score); samples judged by ann's LeNet-5: mean confidence, all ten "
    "classes present, Fréchet distance on its features",
    preset="mnist-fc", train=dict(GAN_TRAIN, epochs=10, batch_size=128)))
add(Recipe(
    "dcgan-mnist-hinge", "gan", "dcgan", "mnist", "confidence", 0.9,
    "dcgan-mnist with the stabilised switch: hinge loss and a spectrally normalised "
    "discriminator (Miyato et al. 2018), dcgan-mnist's fully connected layers; "
    "model.loss=wgan-gp is the other switch",
    preset="hinge-sn", model_overrides=dict(g_hidden=1024, d_hidden=1024),
    train=dict(GAN_TRAIN, epochs=5, batch_size=128, beta1=0.0, beta2=0.9)))
add(Recipe(
    "dcgan-fashion", "gan", "dcgan", "fashion-mnist", "confidence", 0.8,
    "DCGAN on Fashion-MNIST with dcgan-mnist's networks (mnist-fc); samples judged by ann's "
    "LeNet-5 trained on Fashion-MNIST",
    preset="mnist-fc", train=dict(GAN_TRAIN, epochs=5, batch_size=128)))
add(Recipe(
    "cgan-mnist", "gan", "cgan", "mnist", "label_accuracy", 0.9,
    "conditional DCGAN on MNIST (label embedding in G, projection in D): the class is chosen "
    "at sampling time; label accuracy = samples classified as the class asked for",
    preset="mnist", train=dict(GAN_TRAIN, epochs=5, batch_size=128)))


# Super-resolution: 7x7 (average-pooled) MNIST digits to 28x28, against bicubic upsampling.
SR_TRAIN = dict(batch_size=64, lr=1e-3, beta1=0.5, beta2=0.999, epochs=1, log_every=50,
                eval_every=430, eval_batch_size=500)
add(Recipe(
    "srgan-mnist", "gan", "srgan", "mnist", "psnr", 17.0,
    "SRGAN-style x4 super-resolution of MNIST (7x7 -> 28x28): pixel + 1e-3 adversarial loss; "
    "PSNR/SSIM against bicubic upsampling (psnr_bicubic) and srgan-mnist-pixel",
    preset="mnist", train=SR_TRAIN))
add(Recipe(
    "srgan-mnist-pixel", "gan", "srgan", "mnist", "psnr", 17.0,
    "the srgan-mnist generator trained with the pixel loss alone (SRResNet), for comparison",
    preset="mnist", model_overrides=dict(adv_weight=0.0), train=SR_TRAIN))


# Unpaired style transfer: strokes as written <-> thickened (ann.data.domains); the true
# translation is known, so PSNR against it (and against doing nothing) measures the transfer.
add(Recipe(
    "cyclegan-digits", "gan", "cyclegan", "digits-thick", "psnr", 20.0,
    "CycleGAN-style transfer between scikit-learn's digits as written and with thickened "
    "strokes, unpaired; before/after grids (embedded; minutes)",
    preset="digits", train=dict(GAN_TRAIN, lr=1e-3, max_steps=1500, eval_every=300)))
add(Recipe(
    "cyclegan-mnist", "gan", "cyclegan", "mnist-thick", "psnr", 20.0,
    "CycleGAN-style transfer between MNIST digits as written and with thickened strokes",
    preset="mnist", train=dict(GAN_TRAIN, max_steps=1200, eval_every=200)))


# Recurrent translation: Luong et al. 2015's global attention over a bidirectional GRU encoder,
# the counterpart of transformer-numbers and transformer-multi30k (greedy decoding, BLEU).
add(Recipe(
    "seq2seq-attn-numbers", "recurrent", "seq2seq-attn", "numbers", "exact_match", 0.99,
    "GRU encoder-decoder with attention writing numbers in English words (embedded; compare "
    "transformer-numbers)",
    preset="small",
    train=dict(max_steps=1500, batch_size=64, lr=3e-3, min_lr=1e-4, grad_clip=1.0,
               eval_every=500, log_every=50)))
add(Recipe(
    "seq2seq-attn-multi30k", "recurrent", "seq2seq-attn", "multi30k", "bleu", 30.0,
    "GRU encoder-decoder with Luong attention translating Multi30k German -> English (compare "
    "transformer-multi30k); BLEU on lowercased word tokens",
    preset="base",
    train=dict(epochs=10, batch_size=128, lr=1e-3, schedule="constant", grad_clip=1.0,
               log_every=50, eval_batch_size=250),
    reference="tutorial Transformer 3+3x256, 10 epochs: BLEU 36.52 (transformer-multi30k)"))

# Segmentation (issue 9): U-Net (Ronneberger et al. 2015) against a plain FCN (Long et al. 2015)
# on the same generated shapes scenes, steps and optimiser; and U-Net on MNIST digit scenes.
SEG_TRAIN = dict(epochs=8, batch_size=32, lr=3e-3, warmup_steps=50, weight_decay=1e-4,
                 log_every=20, eval_batch_size=100)
add(Recipe(
    "unet-shapes", "cnn", "unet", "shapes-seg", "mean_iou", 0.90,
    "U-Net segmenting generated scenes of circles, squares and triangles, 64x64 (embedded; "
    "minutes); overlays.png in the run directory",
    preset="shapes", model_overrides=dict(loss="ce+dice"), train=SEG_TRAIN))
add(Recipe(
    "unet-shapes-quick", "cnn", "unet", "shapes-seg", "mean_iou", 0.60,
    "unet-shapes' network on a short budget: 120 steps of 16 scenes (embedded; ~30 s, the tour's)",
    preset="shapes", model_overrides=dict(loss="ce+dice"),
    train=dict(SEG_TRAIN, epochs=0, max_steps=120, batch_size=16, eval_every=60, lr=6e-3,
               warmup_steps=10)))
add(Recipe(
    "fcn-shapes", "cnn", "fcn", "shapes-seg", "mean_iou", 0.70,
    "plain FCN (FCN-32s style, no skips) on the shapes scenes with unet-shapes' budget (embedded; "
    "its mask edges are only as sharp as its coarsest grid)",
    preset="shapes", model_overrides=dict(loss="ce+dice"), train=SEG_TRAIN))
add(Recipe(
    "unet-mnist-scenes", "cnn", "unet", "mnist-scenes-seg", "mean_iou", 0.80,
    "U-Net segmenting 96x96 scenes of 1-4 MNIST digits into background and the ten digits",
    preset="mnist-scenes", model_overrides=dict(loss="ce+dice"),
    train=dict(SEG_TRAIN, epochs=4, eval_batch_size=50)))

# Object detection (issue 9): a CenterNet-style detector (ann.models.cnn.detector) on generated
# scenes; mAP as COCO computes it (ann.metrics_detection, checked against pycocotools).
DET_TRAIN = dict(batch_size=32, lr=4e-3, weight_decay=1e-4, warmup_steps=100, grad_clip=5.0,
                 log_every=25, eval_batch_size=100)
add(Recipe(
    "detector-shapes", "cnn", "detector", "shapes-det", "map50", 0.90,
    "CenterNet-style detector finding circles, squares and triangles in 64x64 generated scenes "
    "(embedded; boxes.png; about two minutes)",
    preset="shapes", train=dict(DET_TRAIN, epochs=8)))
add(Recipe(
    "detector-shapes-quick", "cnn", "detector", "shapes-det", "map50", 0.70,
    "detector-shapes on a short budget, two epochs (embedded; ~30 s; the tour's)",
    preset="shapes", train=dict(DET_TRAIN, epochs=2, lr=5e-3)))
add(Recipe(
    "detector-mnist-scenes", "cnn", "detector", "mnist-scenes-det", "map50", 0.90,
    "CenterNet-style detector finding and reading the 1-4 MNIST digits of 96x96 scenes",
    preset="mnist-scenes", train=dict(DET_TRAIN, epochs=6, eval_every=375)))

# Vision Transformer and multimodal models (issue 4): ViT classifiers with attention rollout
# (rollout.png), a CLIP-style dual encoder (zero-shot accuracy from class prompts, retrieval
# recall@1/@5) and a ViT + GPT-style captioner (exact match and BLEU against the generator's truth).
VIT_TRAIN = dict(batch_size=128, lr=1e-3, weight_decay=0.05, warmup_steps=300, beta2=0.99,
                 grad_clip=1.0, log_every=50, eval_batch_size=500)
add(Recipe(
    "vit-digits", "transformer", "vit", "digits", "accuracy", 0.95,
    "Vision Transformer on scikit-learn's 8x8 digits, 2x2 patches (embedded; ~30 s on one core); "
    "attention rollout in rollout.png",
    preset="digits",
    train=dict(epochs=25, batch_size=32, lr=2e-3, weight_decay=0.05, warmup_steps=50,
               eval_batch_size=500)))
add(Recipe(
    "vit-mnist", "transformer", "vit", "mnist", "accuracy", 0.985,
    "Vision Transformer (patch 4, width 64, 6 layers, 4 heads) on MNIST, images shifted by up "
    "to a pixel",
    preset="small", data=dict(augment_shift=1), train=dict(VIT_TRAIN, epochs=30),
    reference="small ViT (patch 4, width 64, 6 layers, 4 heads), 100 epochs: 99.5% test"))
add(Recipe(
    "vit-fashion", "transformer", "vit", "fashion-mnist", "accuracy", 0.91,
    "Vision Transformer (patch 4, width 64, 6 layers, 4 heads) on Fashion-MNIST, images "
    "flipped and shifted by up to a pixel",
    preset="small", data=dict(augment_flip=True, augment_shift=1),
    train=dict(VIT_TRAIN, epochs=50),
    reference="small ViT (patch 4, width 64, 6 layers, 4 heads), 100 epochs: 92.3% test"))
# Short CLIP runs learn more at a constant rate after warmup than under a cosine decay (on
# clip-digits: zero-shot 0.75 against 0.61).
CLIP_TRAIN = dict(batch_size=128, lr=1e-3, weight_decay=0.1, warmup_steps=100, beta2=0.98,
                  grad_clip=1.0, schedule="constant", log_every=25, eval_batch_size=500)
add(Recipe(
    "clip-digits", "transformer", "clip", "digits-captions", "zero_shot", 0.7,
    "CLIP-style dual encoder on scikit-learn's digits with templated captions; zero-shot "
    "accuracy from the held-out prompt 'a photo of the digit seven' (embedded; ~30 s)",
    preset="digits", train=dict(CLIP_TRAIN, epochs=40, warmup_steps=30)))
add(Recipe(
    "clip-shapes", "transformer", "clip", "shapes-captions", "zero_shot", 0.9,
    "CLIP-style dual encoder on generated scenes of 1-2 shapes and their captions; zero-shot "
    "over the 36 one-object descriptions, retrieval recall@1/@5 (embedded; retrieval.png)",
    train=dict(CLIP_TRAIN, epochs=20)))
add(Recipe(
    "clip-mnist", "transformer", "clip", "mnist-captions", "zero_shot", 0.8,
    "CLIP-style dual encoder on MNIST with templated captions; zero-shot accuracy on the test "
    "set from the held-out prompt 'a photo of the digit seven' alone",
    preset="mnist", train=dict(CLIP_TRAIN, epochs=2)))
CAPTION_TRAIN = dict(batch_size=64, lr=1e-3, weight_decay=0.05, warmup_steps=200,
                     grad_clip=1.0, log_every=50, eval_batch_size=500)
add(Recipe(
    "captioner-shapes1", "transformer", "captioner", "shapes1-captions", "exact_match", 0.7,
    "ViT + GPT-style captioner on scenes of one shape ('a large blue triangle'): size, colour "
    "and shape from pixels (embedded; ~45 s; captions.png)",
    preset="small", train=dict(CAPTION_TRAIN, epochs=10, lr=2e-3, warmup_steps=50)))
add(Recipe(
    "captioner-shapes", "transformer", "captioner", "shapes-captions", "exact_match", 0.7,
    "ViT encoder + GPT-style decoder with cross-attention captioning generated scenes of 1-2 "
    "shapes; exact match and BLEU against the generator's captions (embedded; captions.png)",
    train=dict(CAPTION_TRAIN, epochs=16)))


# T5 (issue 4): one encoder-decoder for many text-to-text tasks told apart by a prefix, and its
# span-corruption pretraining. Per-task exact match and BLEU are in the test metrics.
# t5-multi30k-sst2 is sized for one CPU core (3+3 x 128, 6 epochs of ~920 steps: about 80 minutes).
# The 4+4 x 256 shape for a GPU: model.n_encoder_layers=4 model.n_decoder_layers=4
# model.d_model=256 model.d_ff=1024 train.epochs=10 (the t5 model's "base" preset).
T5_TRAIN = dict(batch_size=64, lr=1e-3, min_lr=1e-5, warmup_steps=100, grad_clip=1.0,
                weight_decay=0.01, log_every=50, eval_batch_size=500)
add(Recipe(
    "t5-tasks", "transformer", "t5", "t5-tasks", "exact_match", 0.95,
    "T5 learning four generated tasks at once, told apart by their prefix: reverse:, sort:, "
    "add:, date: (embedded; exact match per task; try `ann generate RUN --prompt \"date: "
    "2024-03-07\"`)",
    preset="small", train=dict(T5_TRAIN, max_steps=3000, eval_every=500)))
add(Recipe(
    "t5-tasks-tiny", "transformer", "t5", "t5-tasks", "exact_match", 0.2,
    "t5-tasks in about half a minute on one core (the tour): a 2+2-layer T5, 400 steps; sorting "
    "is learned first (~75%), the copying tasks only begin",
    preset="mini", train=dict(T5_TRAIN, lr=3e-3, min_lr=1e-4, max_steps=400, eval_every=400)))
add(Recipe(
    "t5-pretrain-pydoc", "transformer", "t5-span", "pydoc-spans", "accuracy", 0.3,
    "T5 span-corruption pretraining on Python's documentation (embedded): ~15% of the tokens "
    "dropped in spans of mean length 3, each replaced by a sentinel; try `ann generate RUN "
    "--prompt \"the <extra_id_0> statement\"`",
    preset="small", train=dict(T5_TRAIN, batch_size=32, max_steps=1500, eval_every=500)))
add(Recipe(
    "t5-multi30k-sst2", "transformer", "t5", "multi30k-sst2", "translate_bleu", 30.0,
    "one T5 translating Multi30k German -> English and classifying SST-2 sentiment at once, "
    "prefixes translate German to English: and sst2 sentence: (BLEU and accuracy per task)",
    preset="small", model_overrides=dict(dropout=0.1),
    train=dict(T5_TRAIN, batch_size=64, lr=1e-3, epochs=6, warmup_steps=300),
    reference="transformer-multi30k (3+3x256, 10 epochs): BLEU 36.16; bert-sst2 accuracy"))


def get_recipe(name: str) -> Recipe:
    if name not in RECIPES:
        raise unknown("recipe", name, RECIPES)
    return RECIPES[name]


def list_recipes() -> list[Recipe]:
    return [RECIPES[k] for k in sorted(RECIPES)]
