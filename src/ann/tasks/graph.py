"""Tasks on graphs: node classification (one graph, a mask per split), graph classification
(batches of small graphs) and recommendation (ranking items for users over an interaction graph).
Registered by name (:func:`ann.registry.register_task`).

A batch is a tuple of tensors (see ``ann.data.graphs``):
``node_classify``: ``(x, edge_index, y, mask)``, loss and accuracy over the masked nodes;
``graph_classify``: ``(x, edge_index, batch, y)``, one label per graph.
The model's ``penalty()`` (the L2 term of the original papers, on the weights they decay) is added
to the training loss, not to the reported loss. Which validation figure picks the checkpoint
(accuracy, loss, accuracy over a window of evaluations, or the last model) is the engine's
``train.select``, as for every family.
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F

from ..errors import AnnError
from ..registry import register_task
from ..train.device import model_device
from ..train.distributed import unwrap
from .base import FILES, Answer, LabelSmoothing, Option, Task, Verb, linear_classifier, log_prior
from .rows import OUT_CSV, Table, number


def _penalty(model):
    fn = getattr(unwrap(model), "penalty", None)
    return fn() if fn is not None else 0.0


class _Classifying(LabelSmoothing, Task):
    """Shared by the two graph classification tasks: cross-entropy, accuracy."""

    metric = "accuracy"
    higher_is_better = True


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


@register_task
class NodeClassification(_Classifying):
    """Class scores for every node of one graph; loss and accuracy over the split's mask.

    A model whose last hidden layer is 2-D (``gcn-karate``) has that embedding of every node kept
    at each evaluation (on the model, as ``embedding_trace``: a list of (N, 2) tensors), and
    :meth:`report` draws it over training (``embedding.png``).
    """

    name = "node_classify"
    verbs = {"predict": Verb("predict", "predict_nodes", (OUT_CSV,),
                             "the class of every unlabelled node of the run's graph (in no "
                             "split: a label of -1 in a features file of your own); --out "
                             "writes them as CSV")}

    def inputs(self, model, batch) -> tuple:
        """The model's arguments for a batch (``ann info`` runs the model on them)."""
        return batch[0], batch[1]

    def scores(self, model, batch):
        x, edge_index, y, mask = batch
        return model(x, edge_index)[mask], y[mask]                     # (M, C), (M,)

    @torch.no_grad()
    def evaluate(self, model, batches) -> dict[str, float]:
        batches = list(batches)
        inner = unwrap(model)
        if hasattr(inner, "embed") and tuple(getattr(inner.config, "hidden", (0,)))[-1] == 2:
            x, edge_index, y, _ = batches[0]
            trace = inner.__dict__.setdefault("embedding_trace", [])
            trace.append((inner.embed(x, edge_index).float().cpu(), y.cpu()))
        return super().evaluate(model, batches)

    def baselines(self, train, test, metric: str | None = None) -> dict[str, float]:
        """``majority``: the commonest class of the training nodes, for every node;
        ``linear``: logistic regression on the training nodes' features alone (the edges
        unread), which says what the graph adds."""
        x, _, y, mask = train.batch(0)
        classes = int(y.max()) + 1
        prior = log_prior(y[mask], classes)
        out = {"majority": self.score_fixed(lambda x, e: prior.expand(len(x), classes), test,
                                            metric)}
        if len(torch.unique(y[mask])) > 1:
            linear = linear_classifier(x[mask], y[mask], classes)
            out["linear"] = self.score_fixed(lambda x, e: linear(x), test, metric)
        return out

    @torch.no_grad()
    def predict_nodes(self, run, out=None) -> list[Answer]:
        """``ann predict RUN``: the class probabilities of each node of the run's graph that
        is in none of its splits (read again from the run's data: for ``custom-graph`` the
        nodes labelled -1 in ``data.features``), by node id (its 0-based row in that file).
        Columns ``node``, ``class`` (the likeliest) and ``p(CLASS)`` for every class."""
        from ..data.splits import load_split

        graph = load_split(run.config, "train").graph
        unlabelled = ~torch.stack(list(graph.masks.values())).any(0)       # (N,)
        if not unlabelled.any():
            raise AnnError(f"every node of the graph of {run.path} is labelled (in a split), so "
                           "there is none to predict; mark a node unlabelled with the label -1")
        model, device = run.model.eval(), model_device(run.model)
        probs = torch.softmax(model(graph.x.to(device), graph.edge_index.to(device)).float(),
                              -1).cpu()                                    # (N, C)
        classes = [str(c) for c in run.info.get("classes", range(probs.size(1)))]
        table = Table(["node", "class", *(f"p({c})" for c in classes)])
        for node in unlabelled.nonzero().flatten().tolist():
            prob = probs[node]
            cls = classes[int(prob.argmax())]
            table.add([str(node), cls, *map(number, prob)], f"node {node}: {cls}  "
                      f"({', '.join(f'{c} {q:.3f}' for c, q in zip(classes, prob))})",
                      {"node": node, "class": cls,
                       "probabilities": {c: round(float(q), 6) for c, q in zip(classes, prob)}})
        return table.answers(out)

    def report(self, run, test_data, path) -> None:
        trace = getattr(run.model, "embedding_trace", None)
        if trace:
            plot_embedding_trace(trace, path / "embedding.png", run.info.get("classes"))


@register_task
class GraphClassification(_Classifying):
    """One class per graph of a block-diagonal batch; ``ann predict RUN graph.csv`` names the
    class of each graph file (:func:`ann.data.graphfolder.read_graph_file`)."""

    name = "graph_classify"
    verbs = {"predict": Verb("predict", "predict_graphs", (
                 dataclasses.replace(FILES, help="graph edge-list files (NAME.csv) or folders "
                                     "of them"),
                 Option("top", int, "how many classes to show (default 3)")),
                             "the likeliest classes of graph edge-list files (NAME.csv, with "
                             "NAME.nodes.csv beside it where the training graphs had node files)")}

    def inputs(self, model, batch) -> tuple:
        x, edge_index, graph_of, y = batch
        return x, edge_index, graph_of, len(y)

    def scores(self, model, batch):
        return model(*self.inputs(model, batch)), batch[3]             # (B, C), (B,)

    def baselines(self, train, test, metric: str | None = None) -> dict[str, float]:
        """``majority``: the commonest class of the training graphs, for every graph."""
        y = train.batch(slice(0, len(train)))[3]
        classes = int(max(y.max(), test.batch(slice(0, len(test)))[3].max())) + 1
        prior = log_prior(y, classes)
        return {"majority": self.score_fixed(lambda x, e, g, n: prior.expand(n, classes), test,
                                             metric)}

    def predict_graphs(self, run, files, top: int = 3) -> list[Answer]:
        """The likeliest classes of each graph file (or of each graph in a folder), with their
        probabilities; every file is read before any answer."""
        from ..data.graphfolder import NODES_SUFFIX, read_graph_file
        from ..layers.message_passing import batch_graphs
        from .classify import class_answers, expand_folders

        files = [f for f in expand_folders(files, (".csv",)) if not str(f).endswith(NODES_SUFFIX)]
        if not files:
            raise AnnError("give graph edge-list files (NAME.csv) to classify")
        info = run.info
        graphs = [read_graph_file(f, info) for f in files]
        x, edge_index, graph_of = batch_graphs(graphs)
        probs = run.predict((x, edge_index, graph_of, torch.zeros(len(graphs), dtype=torch.long)))
        return class_answers(run, "file", files, probs.cpu(), top)


def plot_embedding_trace(trace: list, path, classes=None, panels: int = 6) -> None:
    """The 2-D node embeddings at ``panels`` evaluations spread over training, one colour per
    class (Kipf & Welling's karate-club figure, drawn as training moves the nodes)."""
    from ..report.plots import save, subplots

    picks = sorted({round(i * (len(trace) - 1) / max(panels - 1, 1)) for i in range(panels)})
    fig, axes = subplots(1, len(picks), figsize=(2.6 * len(picks), 2.8), squeeze=False)
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
    save(fig, path)
