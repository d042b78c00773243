"""Recommendation on an interaction graph: ranking items for users (LightGCN, BPR), and link
prediction (a graph autoencoder scores the held-out edges)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..errors import AnnError
from ..registry import register_task
from ..train.distributed import unwrap
from .base import Answer, Option, Task, Verb
from .graph import _penalty


@register_task
class Recommendation(Task):
    """Rank items for each user (LightGCN, matrix factorisation).

    Training: BPR loss (Rendle et al. 2009) on ``(edge_index, users, positives, negatives)``
    plus the model's ``penalty``. Evaluation on ``(edge_index, users, truth, seen)``: every item a
    user has not interacted with in training is ranked; Recall@K (held-out items in the top K over
    the user's held-out items) and NDCG@K (binary relevance, log2 discount), averaged over users,
    K = 20 as in He et al. 2020. The same figures for ranking by training popularity
    (``pop_recall@20``, ``pop_ndcg@20``) are the baseline beside them, and the ``popularity``
    baseline a run on the user's own interactions is judged against.

    ``ann recommend RUN --user NAME``: the top items of a user, by the names the run's data
    gives them (``data.json``'s ``users`` and ``items``; indices where the data has none).
    """

    name = "recommend"
    verbs = {"recommend": Verb("recommend", "recommend_items", (
                 Option("user", many=True, required=True,
                        help="a user, by the id the data names it (repeat for more)"),
                 Option("top", int, "how many items to recommend (default 10)")),
                               "the top items for each --user, leaving out those they interacted "
                               "with in training")}
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
        return loss + unwrap(model).penalty(users, pos, neg), {}

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

    def baselines(self, train, test, metric: str | None = None) -> dict[str, float]:
        """``popularity``: every user offered the items with the most training interactions
        (those the user has are skipped, as for the model)."""
        counts = torch.bincount(train.pairs[:, 1], minlength=train.data.num_items).float()
        ones = torch.ones(train.data.num_users, 1)
        return {"popularity": self.score_fixed(lambda edge_index: (ones, counts[:, None]), test,
                                               metric)}

    @torch.no_grad()
    def predict(self, model, batch) -> torch.Tensor:
        """Scores of every item for the batch's users, (B, num_items)."""
        edge_index, users = batch[0], batch[1]
        u, i = model(edge_index)
        return u[users] @ i.T

    def recommend_items(self, run, user, top: int = 10) -> list[Answer]:
        """The ``top`` items for each of the ``user`` names, their training interactions left
        out; the run's training interactions are read again from its data (as ``ann eval``)."""
        from ..data.splits import load_split

        user = [user] if isinstance(user, str) else list(user)     # one name from Python
        info, c = run.info, run.model.config
        users = [str(u) for u in info.get("users", range(c.num_users))]
        items = [str(i) for i in info.get("items", range(c.num_items))]
        index = {name: k for k, name in enumerate(users)}
        unknown = [u for u in user if u not in index]
        if unknown:
            raise AnnError(f"user {unknown[0]!r} is not in the run's data ({len(users)} users, "
                           f"e.g. {', '.join(users[:3])}); give a user it was trained on")
        train = load_split(run.config, "train")
        if (train.data.num_users, train.data.num_items) != (c.num_users, c.num_items):
            raise AnnError(f"the run's data now has {train.data.num_users} users and "
                           f"{train.data.num_items} items, but its model was trained on "
                           f"{c.num_users} and {c.num_items}; the file changed since: train again")
        ids = torch.tensor([index[u] for u in user])
        run.model.eval()
        scores = self.predict(run.model, (train.data.edge_index, ids)).float()   # (B, I)
        scores = scores.masked_fill(train.data.seen[ids], -torch.inf)
        k = max(1, min(top, len(items)))
        answers = []
        for name, row in zip(user, scores):
            best = [j for j in row.topk(k).indices.tolist() if row[j] > -torch.inf]
            ranked = [[items[j], round(float(row[j]), 4)] for j in best]
            shown = ", ".join(f"{n} ({v:.3f})" for n, v in ranked) or "(none left)"
            answers.append(Answer(f"{name}: {shown}", {"user": name, "items": ranked}))
        return answers


@register_task
class LinkPrediction(Task):
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
        return unwrap(model).score(model(x, edge_index), pairs)       # (M,)

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
