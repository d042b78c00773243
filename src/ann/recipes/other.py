"""Recipes of the other family.

The rarer networks: PNN, GRNN, GMDH, TDNN and deep stacking networks.
"""

from . import Recipe, Term, TourStop, add, explain

# The rarer networks (issue 8). PNN, GRNN, GMDH and DSN are fitted in closed form by the model's
# own `fit` (ann.train.fitted): `train.epochs=1` only satisfies the config, no gradient loop runs.
# The tables' test split is fold `data.fold` of a stratified 10-fold split; benchmarks/classical.py
# runs all ten folds against scikit-learn's k-NN and SVM on the same folds.
FITTED = dict(epochs=1)
add(Recipe(
    "pnn-iris", "pnn", "iris", "accuracy", 0.93,
    "probabilistic neural network (Specht 1990) on Fisher's iris, sigma by leave-one-out",
    train=FITTED, reference="k-NN / SVM on the same 10 folds: benchmarks/classical.py",
    tour=TourStop("pnn", 1)))
add(Recipe(
    "pnn-wine", "pnn", "wine", "accuracy", 0.93,
    "probabilistic neural network on the UCI wine table (13 features, 3 cultivars)",
    train=FITTED, reference="k-NN / SVM on the same 10 folds: benchmarks/classical.py"))
add(Recipe(
    "pnn-breast-cancer", "pnn", "breast-cancer", "accuracy", 0.93,
    "probabilistic neural network on Wisconsin diagnostic breast cancer (30 features)",
    train=FITTED, reference="k-NN / SVM on the same 10 folds: benchmarks/classical.py"))
add(Recipe(
    "pnn-digits", "pnn", "digits-table", "accuracy", 0.97,
    "probabilistic neural network on scikit-learn's 8x8 digits as 64 features",
    train=FITTED, reference="k-NN / SVM on the same 10 folds: benchmarks/classical.py"))
add(Recipe(
    "pnn-mnist", "pnn", "mnist", "accuracy", 0.96,
    "probabilistic neural network storing MNIST's 55,000 training images (784 pixels each)",
    model_overrides=dict(in_features=784, grid=15),
    train=dict(FITTED, eval_batch_size=500),
    reference="k-NN (k=3, L2) 97.05% test (LeCun et al. 1998 table)"))
add(Recipe(
    "grnn-diabetes", "grnn", "diabetes", "r2", 0.35,
    "general regression neural network (Specht 1991) on scikit-learn's diabetes table",
    train=FITTED, reference="linear regression / k-NN on the same 10 folds: benchmarks/classical.py"))
add(Recipe(
    "gmdh-diabetes", "gmdh", "diabetes", "r2", 0.40,
    "GMDH multilayer iterative algorithm (Ivakhnenko 1971) on scikit-learn's diabetes table; "
    "the fitted formula and layer diagram are in RUN_DIR/model.txt",
    train=FITTED, reference="linear regression / MLP on the same 10 folds: benchmarks/classical.py"))
add(Recipe(
    "gmdh-breast-cancer", "gmdh-classifier", "breast-cancer", "accuracy", 0.92,
    "GMDH fitted to the 0/1 diagnosis and thresholded at 0.5 (Wisconsin breast cancer)",
    train=FITTED, reference="logistic regression / MLP on the same 10 folds: benchmarks/classical.py"))
add(Recipe(
    "gmdh-sunspots", "gmdh-forecaster", "sunspots", "rmse", 20.0,
    "GMDH forecasting next year's sunspot number from the last 20 (embedded series, 1700-2008)",
    data=dict(window=20), train=FITTED,
    reference="the linear AR(20) baseline the forecast task reports (ar_rmse)",
    tour=TourStop("gmdh", 1)))
add(Recipe(
    "dsn-digits", "dsn", "digits", "accuracy", 0.98,
    "deep stacking network (Deng & Yu 2011): sigmoid modules with closed-form ridge outputs, "
    "stacked while validation improves, on scikit-learn's 8x8 digits",
    model_overrides=dict(in_features=64, hidden=500, max_modules=6, patience=2, refine_epochs=5),
    train=FITTED, reference="mlp-digits (backprop MLP 64-128-64-10): 97.77% (BENCHMARKS.md)",
    tour=TourStop("dsn", 1)))
add(Recipe(
    "dsn-mnist", "dsn", "mnist", "accuracy", 0.985,
    "deep stacking network on MNIST: 3,000 sigmoid units per module, weights refined by 25 "
    "cosine-decayed epochs on images shifted by up to 2 pixels, upper weights then solved in "
    "closed form",
    preset="mnist", model_overrides=dict(patience=2), data=dict(augment_shift=2), train=FITTED,
    reference="Deng & Yu 2011 DSN: 0.83% test error (unconfirmed, REFERENCES.md); mlp-mnist 98.55%"))
add(Recipe(
    "tdnn-chirps", "tdnn", "chirps", "accuracy", 0.95,
    "Waibel's time-delay network on generated chirps and tones at random onsets (embedded; "
    "shift invariance in action)",
    train=dict(epochs=15, batch_size=32, lr=3e-3, weight_decay=1e-4),
    tour=TourStop("tdnn", 3)))
add(Recipe(
    "tdnn-fsdd", "tdnn-xvector", "fsdd", "accuracy", 0.97,
    "x-vector TDNN (dilated convolutions, statistics pooling) on the Free Spoken Digit Dataset, "
    "log-mel features from torch.stft; customary split (takes 0-4 test)",
    train=dict(epochs=30, batch_size=32, lr=2e-3, weight_decay=1e-3, warmup_steps=100),
    reference="FSDD ResNet-18 on mel spectrograms: 95.3% val (REFERENCES.md)"))
# -- end of issue-8 recipes


def _gmdh_candidates() -> str:
    """How many candidate neurons GMDH's first layer weighs on the diabetes table."""
    from ..registry import dataset_entry

    n = dataset_entry("diabetes").info["in_features"]
    return (f"gmdh-diabetes: {n} input columns give {n * (n - 1) // 2} candidate neurons in the "
            f"first layer, each a 6-coefficient quadratic in two inputs fitted by least squares.")


explain(Term(
    "gmdh",
    "The group method of data handling (Ivakhnenko 1971) grows a network layer by layer: every "
    "pair of inputs feeds a candidate neuron, a quadratic polynomial in the two fitted by least "
    "squares, and only the candidates that predict a held-out part of the data best survive to "
    "feed the next layer. Growth stops when the held-out error stops falling; the result reads "
    "as one formula.",
    ("ann.models.other.gmdh.GMDH", "ann.models.other.gmdh.GMDH.fit"),
    ("group method of data handling", "polynomial neural network"), _gmdh_candidates))
explain(Term(
    "probabilistic neural network",
    "A classifier that keeps every training example as a pattern unit with a Gaussian kernel "
    "and sums the kernels of each class at an input, giving a Parzen estimate of each class's "
    "density; the largest sum wins (Specht 1990). Training is storing the examples and choosing "
    "the kernel width, here by leave-one-out. The general regression network (GRNN) averages "
    "the targets with the same weights.",
    ("ann.models.other.pnn.KernelNetwork", "ann.models.other.pnn.log_kernel_sums"),
    ("pnn", "grnn", "general regression neural network", "parzen window")))
explain(Term(
    "time-delay neural network",
    "A network for signals whose units see a short window of consecutive frames and share "
    "their weights across time, so a pattern is recognised wherever it starts (Waibel et al. "
    "1989): a 1-D convolution over time, in today's terms. The x-vector TDNN stacks dilated "
    "ones and pools the mean and spread over the whole recording.",
    ("ann.models.other.tdnn.TDNN", "ann.models.other.tdnn.XVectorTDNN",
     "ann.models.other.tdnn.shift_agreement"),
    ("tdnn", "x-vector", "time delay neural network")))
explain(Term(
    "deep stacking network",
    "A stack of simple modules, each a sigmoid hidden layer whose output weights are solved in "
    "closed form by ridge regression, every module reading the raw input together with the "
    "predictions of the modules below (Deng & Yu 2011). Modules are added while validation "
    "improves; no end-to-end backpropagation is needed.",
    ("ann.models.other.dsn.DSN", "ann.models.other.dsn.StackingModule"),
    ("dsn", "deep convex network")))
