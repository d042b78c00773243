"""Recipes of the gnn family.

Graph networks: node and graph classification, link prediction, recommendation.
"""

from . import Recipe, TourStop, add

# Graph networks (issue 7). Full-batch node classification: the split is one "example", so a step
# is an epoch and every step is evaluated. Adam (train.weight_decay=0) at a constant rate; the
# papers' L2 term is the model's `l2` (added to the loss on the weights each paper decays). The
# best checkpoint on validation accuracy is tested (train.select=loss: on the validation loss);
# early stopping counts evaluations.
KIPF = dict(epochs=200, batch_size=1, lr=0.01, schedule="constant", weight_decay=0.0,
            early_stop=100, log_every=10)
add(Recipe(
    "gcn-karate", "gcn", "karate", "accuracy", 0.9,
    "GCN (4-4-2, tanh) on Zachary's karate club from 4 labelled members (embedded; seconds); "
    "plots the 2-D embedding over training",
    preset="karate", train={**KIPF, "epochs": 300, "early_stop": 0},
    tour=TourStop("gcn", 2)))
add(Recipe(
    "gcn-cora", "gcn", "cora", "accuracy", 0.815,
    "GCN (Kipf & Welling 2017) on Cora, public Planetoid split",
    preset="kipf", train=KIPF, reference="Kipf & Welling 2017: 81.5% test"))
add(Recipe(
    "gcn-citeseer", "gcn", "citeseer", "accuracy", 0.703,
    "GCN (Kipf & Welling 2017) on CiteSeer, public Planetoid split",
    preset="kipf", train=KIPF, reference="Kipf & Welling 2017: 70.3% test"))
add(Recipe(
    "gcn-pubmed", "gcn", "pubmed", "accuracy", 0.79,
    "GCN (Kipf & Welling 2017) on PubMed, public Planetoid split (needs the data: not in the "
    "offline set; downloads where a network exists)",
    preset="kipf", train=KIPF, reference="Kipf & Welling 2017: 79.0% test"))
add(Recipe(
    "gat-cora", "gat", "cora", "accuracy", 0.83,
    "GAT (Velickovic et al. 2018: 8 heads x 8, dropout 0.6) on Cora, public Planetoid split; "
    "checkpoint and patience on the validation loss",
    preset="velickovic",
    train={**KIPF, "epochs": 1000, "lr": 0.005, "early_stop": 100, "select": "loss"},
    reference="Velickovic et al. 2018: 83.0 +- 0.7% test"))
add(Recipe(
    "sage-cora", "sage", "cora", "accuracy", 0.79,
    "GraphSAGE-mean (Hamilton et al. 2017), full neighbourhoods, on Cora, public Planetoid split",
    model_overrides=dict(l2=5e-4), train=KIPF))
# Graph classification: GIN-0 (Xu et al. 2019), 5 layers of 32, batch 32, Adam 0.01, dropout 0.5;
# stratified 10-fold cross-validation (data.fold of data.folds; the next fold validates, and its
# loss picks the checkpoint: accuracy on ~19 MUTAG graphs is too coarse to select on).
XU = dict(epochs=200, batch_size=32, lr=0.01, schedule="cosine", weight_decay=0.0, log_every=10)
add(Recipe(
    "gin-mutag", "gin", "mutag", "accuracy", 0.89,
    "GIN-0 (Xu et al. 2019) on MUTAG molecules, one fold of 10-fold cross-validation "
    "(benchmarks: --folds 10)",
    preset="xu", train={**XU, "select": "loss"},
    reference="Xu et al. 2019: 89.4 +- 5.6% (10-fold CV)"))
add(Recipe(
    "gin-proteins", "gin", "proteins", "accuracy", 0.74,
    "GIN-0 (Xu et al. 2019) on PROTEINS, one fold of 10-fold cross-validation "
    "(benchmarks: --folds 10)",
    preset="xu", train={**XU, "epochs": 100, "select": "loss"},
    reference="Xu et al. 2019: 76.2 +- 2.8% (10-fold CV)"))
add(Recipe(
    "gin-sbm", "gin", "sbm-graphs", "accuracy", 0.9,
    "GIN on generated two-block graphs, assortative against disassortative (embedded; seconds)",
    preset="tiny", model_overrides=dict(num_classes=2), train={**XU, "epochs": 20}))
add(Recipe(
    "gcn-custom", "gcn", "custom-graph", "accuracy", 0.0,
    "GCN on your own graph: data.edges=EDGES.csv ('source,target' per line) "
    "data.features=NODES.csv ('label,f1,f2,...' per node, label -1 = unknown)",
    preset="kipf", train=KIPF))
# Recommendation: LightGCN (He et al. 2020: 64 wide, 3 layers, reg 1e-4, batch 2048; Adam at 5e-3
# rather than the paper's 1e-3, for 40 epochs on one CPU); matrix factorisation is the same
# recipe with model.layers=0.
LIGHTGCN = dict(epochs=40, batch_size=2048, lr=5e-3, schedule="constant", weight_decay=0.0,
                eval_every=0, log_every=20, eval_batch_size=1024)
add(Recipe(
    "lightgcn-synthetic", "lightgcn", "recsys-synthetic", "recall@20", 0.5,
    "LightGCN on generated users with planted taste groups (embedded; a minute): Recall@20 and "
    "NDCG@20 against popularity (in the metrics) and matrix factorisation (model.layers=0)",
    preset="he", train=LIGHTGCN))
add(Recipe(
    "lightgcn-movielens", "lightgcn", "movielens-100k", "recall@20", 0.2,
    "LightGCN on MovieLens 100k, ratings >= 4 as interactions (needs the data: GroupLens forbids "
    "redistribution, so it is downloaded where a network exists)",
    preset="he", train=LIGHTGCN))
add(Recipe(
    "gcn-linkpred-cora", "gcn-link", "cora-links", "auc", 0.9,
    "GCN encoder + inner-product decoder (GAE, Kipf & Welling 2016) predicting Cora's held-out "
    "citations (85/5/10 edge split); test AUC",
    preset="gae", train={**KIPF, "epochs": 200, "early_stop": 50},
    reference="Kipf & Welling 2016 (GAE): 91.0% AUC on Cora"))
# -- end of issue-7 recipes
