"""Tasks on graphs: node classification (one graph, a mask per split), graph classification
(batches of small graphs) and recommendation (ranking items for users over an interaction graph).
Registered in ``TASKS`` by ``tasks.py``.

A batch is a tuple of tensors (see ``ann.data.graphs``):
``node_classify``: ``(x, edge_index, y, mask)``, loss and accuracy over the masked nodes;
``graph_classify``: ``(x, edge_index, batch, y)``, one label per graph.
The model's ``penalty()`` (the L2 term of the original papers, on the weights they decay) is added
to the training loss, not to the reported loss.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _inner(model):
    """The model inside DistributedDataParallel / torch.compile wrappers."""
    inner = getattr(model, "module", model)
    return getattr(inner, "_orig_mod", inner)


def _penalty(model):
    fn = getattr(_inner(model), "penalty", None)
    return fn() if fn is not None else 0.0


class _Classifying:
    """Shared by the two graph classification tasks: cross-entropy, accuracy."""

    metric = "accuracy"
    higher_is_better = True

    def __init__(self, label_smoothing: float = 0.0):
        self.label_smoothing = label_smoothing

    def loss(self, model, batch):
        logits, y = self.scores(model, batch)
        loss = F.cross_entropy(logits.float(), y, label_smoothing=self.label_smoothing)
        return loss + _penalty(model), {}

    def logits(self, model, batch) -> torch.Tensor:
        return self.scores(model, batch)[0]

    @torch.no_grad()
    def evaluate(self, model, batches) -> dict[str, float]:
        total, correct, count = 0.0, 0, 0
        for batch in batches:
            logits, y = self.scores(model, batch)
            logits = logits.float()
            total += F.cross_entropy(logits, y, reduction="sum").item()
            correct += (logits.argmax(-1) == y).sum().item()
            count += len(y)
        return {"loss": total / max(count, 1), "accuracy": correct / max(count, 1)}

    @torch.no_grad()
    def predict(self, model, batch) -> torch.Tensor:
        """Class probabilities of the batch's labelled nodes / its graphs, (B, num_classes)."""
        return torch.softmax(self.scores(model, batch)[0].float(), dim=-1)


class NodeClassification(_Classifying):
    """Class scores for every node of one graph; loss and accuracy over the split's mask.

    A model whose last hidden layer is 2-D (``gcn-karate``) has that embedding of every node kept
    at each evaluation (on the model, as ``embedding_trace``: a list of (N, 2) tensors), and
    :meth:`report` draws it over training (``embedding.png``).
    """

    name = "node_classify"

    def inputs(self, model, batch) -> tuple:
        """The model's arguments for a batch (``ann info`` runs the model on them)."""
        return batch[0], batch[1]

    def scores(self, model, batch):
        x, edge_index, y, mask = batch
        return model(x, edge_index)[mask], y[mask]                     # (M, C), (M,)

    @torch.no_grad()
    def evaluate(self, model, batches) -> dict[str, float]:
        batches = list(batches)
        inner = _inner(model)
        if hasattr(inner, "embed") and tuple(getattr(inner.config, "hidden", (0,)))[-1] == 2:
            x, edge_index, y, _ = batches[0]
            trace = inner.__dict__.setdefault("embedding_trace", [])
            trace.append((inner.embed(x, edge_index).float().cpu(), y.cpu()))
        return super().evaluate(model, batches)

    def report(self, run, test_data, path) -> None:
        trace = getattr(run.model, "embedding_trace", None)
        if trace:
            plot_embedding_trace(trace, path / "embedding.png", run.info.get("classes"))


class NodeClassificationByLoss(NodeClassification):
    """Node classification whose checkpoint and early stopping follow the validation loss (as
    the GAT reference code's patience does), not the accuracy; accuracy is still reported."""

    name = "node_classify_loss"
    metric = "loss"
    higher_is_better = False


class GraphClassification(_Classifying):
    """One class per graph of a block-diagonal batch."""

    name = "graph_classify"

    def inputs(self, model, batch) -> tuple:
        x, edge_index, graph_of, y = batch
        return x, edge_index, graph_of, len(y)

    def scores(self, model, batch):
        return model(*self.inputs(model, batch)), batch[3]             # (B, C), (B,)


class GraphClassificationByLoss(GraphClassification):
    """Graph classification selecting checkpoints on the validation loss."""

    name = "graph_classify_loss"
    metric = "loss"
    higher_is_better = False


class _SelectWindow:
    """Checkpoint selection on the validation accuracy averaged over the last
    ``model.config.select_window`` evaluations (``window_accuracy``; 0 until the window is full):
    on a validation fold of ~19 graphs one epoch's accuracy moves in steps of 5%, and its
    maximum is mostly noise. The model at the end of the best window is tested."""

    metric = "window_accuracy"
    higher_is_better = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.recent: list[float] = []

    @torch.no_grad()
    def evaluate(self, model, batches) -> dict[str, float]:
        out = super().evaluate(model, batches)
        width = getattr(_inner(model).config, "select_window", 10)
        self.recent = (self.recent + [out["accuracy"]])[-width:]
        full = len(self.recent) == width
        return {**out, "window_accuracy": sum(self.recent) / width if full else 0.0}

    def state_dict(self) -> dict:
        return {"recent": torch.tensor(self.recent, dtype=torch.float64)}

    def load_state_dict(self, state: dict):
        self.recent = state["recent"].tolist()


class _SelectLast:
    """The final model is the one tested (a fixed epoch count chosen beforehand): the selection
    figure ``evaluations`` counts the evaluations, so each one is the best so far."""

    metric = "evaluations"
    higher_is_better = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.count = 0

    @torch.no_grad()
    def evaluate(self, model, batches) -> dict[str, float]:
        self.count += 1
        return {**super().evaluate(model, batches), "evaluations": self.count}

    def state_dict(self) -> dict:
        return {"count": torch.tensor(self.count)}

    def load_state_dict(self, state: dict):
        self.count = int(state["count"])


class NodeClassificationByWindow(_SelectWindow, NodeClassification):
    name = "node_classify_window"


class NodeClassificationLast(_SelectLast, NodeClassification):
    name = "node_classify_last"


class GraphClassificationByWindow(_SelectWindow, GraphClassification):
    name = "graph_classify_window"


class GraphClassificationLast(_SelectLast, GraphClassification):
    name = "graph_classify_last"


class Recommendation:
    """Rank items for each user (LightGCN, matrix factorisation).

    Training: BPR loss (Rendle et al. 2009) on ``(edge_index, users, positives, negatives)``
    plus the model's ``penalty``. Evaluation on ``(edge_index, users, truth, seen)``: every item a
    user has not interacted with in training is ranked; Recall@K (held-out items in the top K over
    the user's held-out items) and NDCG@K (binary relevance, log2 discount), averaged over users,
    K = 20 as in He et al. 2020. The same figures for ranking by training popularity
    (``pop_recall@20``, ``pop_ndcg@20``) are the baseline beside them.
    """

    name = "recommend"
    metric = "recall@20"
    higher_is_better = True
    k = 20

    def inputs(self, model, batch) -> tuple:
        return (batch[0],)

    def loss(self, model, batch):
        edge_index, users, pos, neg = batch
        u, i = model(edge_index)                                       # (U, d), (I, d)
        diff = (u[users] * i[pos]).sum(-1) - (u[users] * i[neg]).sum(-1)   # (B,)
        loss = F.softplus(-diff).mean()                                # -log sigmoid(diff)
        return loss + _inner(model).penalty(users, pos, neg), {}

    def logits(self, model, batch) -> torch.Tensor:
        edge_index, users, pos, neg = batch
        u, i = model(edge_index)
        return torch.stack([(u[users] * i[pos]).sum(-1), (u[users] * i[neg]).sum(-1)], dim=1)

    def rank_metrics(self, scores, truth, seen) -> tuple[float, float]:
        """Summed Recall@K and NDCG@K of a batch of users. scores, truth, seen: (B, I)."""
        scores = scores.masked_fill(seen, -torch.inf)
        top = scores.topk(min(self.k, scores.size(1)), dim=1).indices      # (B, K)
        hits = truth.gather(1, top).float()                                # (B, K)
        n_true = truth.sum(1).float()                                      # (B,)
        discount = 1.0 / torch.log2(torch.arange(2, hits.size(1) + 2, device=hits.device).float())
        dcg = (hits * discount).sum(1)
        ideal = torch.cumsum(discount, 0)[(n_true.clamp(max=hits.size(1)) - 1).long()]
        return (hits.sum(1) / n_true).sum().item(), (dcg / ideal).sum().item()

    @torch.no_grad()
    def evaluate(self, model, batches) -> dict[str, float]:
        sums, count, popularity = [0.0] * 4, 0, None
        for edge_index, users, truth, seen in batches:
            u, i = model(edge_index)
            if popularity is None:
                popularity = torch.bincount(edge_index[1], minlength=i.size(0)).float()
            found = self.rank_metrics((u[users] @ i.T).float(), truth, seen)
            pop = self.rank_metrics(popularity.expand(len(users), -1), truth, seen)
            for j, v in enumerate(found + pop):
                sums[j] += v
            count += len(users)
        n = max(count, 1)
        return {f"recall@{self.k}": sums[0] / n, f"ndcg@{self.k}": sums[1] / n,
                f"pop_recall@{self.k}": sums[2] / n, f"pop_ndcg@{self.k}": sums[3] / n}

    @torch.no_grad()
    def predict(self, model, batch) -> torch.Tensor:
        """Scores of every item for the batch's users, (B, num_items)."""
        edge_index, users = batch[0], batch[1]
        u, i = model(edge_index)
        return u[users] @ i.T


class LinkPrediction:
    """Tell held-out edges from non-edges: ``(x, edge_index, pairs, labels)``; the model embeds
    the nodes over the training edges and ``model.score`` gives a logit per pair. Binary
    cross-entropy; the area under the ROC curve (``auc``) selects and reports."""

    name = "link_predict"
    metric = "auc"
    higher_is_better = True

    def inputs(self, model, batch) -> tuple:
        return batch[0], batch[1]

    def logits(self, model, batch) -> torch.Tensor:
        x, edge_index, pairs, _ = batch
        return _inner(model).score(model(x, edge_index), pairs)       # (M,)

    def loss(self, model, batch):
        return F.binary_cross_entropy_with_logits(self.logits(model, batch).float(),
                                                  batch[3]) + _penalty(model), {}

    @torch.no_grad()
    def evaluate(self, model, batches) -> dict[str, float]:
        from ..metrics import auroc

        scores, labels = [], []
        for batch in batches:
            scores.append(self.logits(model, batch).float().cpu())
            labels.append(batch[3].cpu())
        s, y = torch.cat(scores), torch.cat(labels)
        return {"loss": F.binary_cross_entropy_with_logits(s, y).item(),
                "auc": auroc(s.numpy(), y.numpy())}

    @torch.no_grad()
    def predict(self, model, batch) -> torch.Tensor:
        """Link probabilities of the batch's pairs, (M,)."""
        return torch.sigmoid(self.logits(model, batch).float())


def plot_embedding_trace(trace: list, path, classes=None, panels: int = 6) -> None:
    """The 2-D node embeddings at ``panels`` evaluations spread over training, one colour per
    class (Kipf & Welling's karate-club figure, drawn as training moves the nodes)."""
    from ..report.plots import _save, plt

    picks = sorted({round(i * (len(trace) - 1) / max(panels - 1, 1)) for i in range(panels)})
    fig, axes = plt.subplots(1, len(picks), figsize=(2.6 * len(picks), 2.8), squeeze=False)
    for ax, i in zip(axes[0], picks):
        emb, y = trace[i]
        for c in torch.unique(y).tolist():
            pts = emb[y == c].numpy()
            ax.scatter(pts[:, 0], pts[:, 1], s=14,
                       label=classes[c] if classes and c < len(classes) else str(c))
        ax.set_title(f"evaluation {i + 1}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0][0].legend(fontsize=7, loc="best")
    fig.suptitle("2-D node embedding over training", y=1.04)
    _save(fig, path)


GRAPH_TASKS = {"node_classify": NodeClassification, "node_classify_loss": NodeClassificationByLoss,
               "graph_classify": GraphClassification, "graph_classify_loss": GraphClassificationByLoss,
               "recommend": Recommendation, "link_predict": LinkPrediction,
               "node_classify_window": NodeClassificationByWindow,
               "node_classify_last": NodeClassificationLast,
               "graph_classify_window": GraphClassificationByWindow,
               "graph_classify_last": GraphClassificationLast}
