"""CLIP's contrastive objective (Radford et al. 2021, https://arxiv.org/abs/2103.00020): images and
their captions pulled together, the batch's other pairs pushed apart; zero-shot accuracy and
retrieval recall. A batch is ``(images, tokens, labels, prompts)``
(:class:`ann.data.captions.ImageTextDataset`)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..errors import AnnError
from ..registry import register_task
from ..train.distributed import unwrap
from .base import FILES, Answer, Option, Task, Verb
from .caption import _picture


def same_text(tokens: torch.Tensor) -> torch.Tensor:
    """(B, B) float: 1 where rows i and j hold the same caption (the diagonal always)."""
    return (tokens[:, None, :] == tokens[None, :, :]).all(-1).float()


def contrastive_loss(logits: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """CLIP's symmetric cross-entropy over the image-by-text logits (Radford et al. 2021, fig. 3):
    each image must pick its own text among the batch's, and each text its own image.

    One departure, for generated captions that repeat: texts identical to an image's own caption
    are not negatives; the target spreads evenly over them (with unique captions this is CLIP's
    one-hot target exactly).

    Shapes:
        logits (B, B) row i = image i against every text, tokens (B, L) -> scalar.
    """
    target = same_text(tokens)
    target = target / target.sum(1, keepdim=True)  # (B, B), rows sum to 1; symmetric
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.t(), target))


def _hits(sims: torch.Tensor, query_ids: torch.Tensor, item_ids: torch.Tensor, k: int) -> torch.Tensor:
    """Per query, whether one of the ``k`` most similar items carries the query's caption id."""
    top = sims.topk(min(k, sims.size(1)), dim=1).indices  # (Q, k)
    return (item_ids[top] == query_ids[:, None]).any(1)


def retrieval_recall(img: torch.Tensor, txt: torch.Tensor, caption_ids: torch.Tensor,
                     chunk: int = 1024) -> dict[str, float]:
    """Recall@1 and @5 of image -> text and text -> image retrieval over a whole split.

    A retrieved text is right when it is the query image's caption (or an identical one); a
    retrieved image is right when its caption is the query text.

    Shapes:
        img (N, E), txt (N, E) L2-normalised, caption_ids (N,) int64 (equal ids = equal text).
    """
    out = {"i2t_r1": 0.0, "i2t_r5": 0.0, "t2i_r1": 0.0, "t2i_r5": 0.0}
    n = len(img)
    for start in range(0, n, chunk):
        q = slice(start, start + chunk)
        s_it = img[q] @ txt.t()  # (q, N)
        s_ti = txt[q] @ img.t()  # (q, N)
        for k in (1, 5):
            out[f"i2t_r{k}"] += _hits(s_it, caption_ids[q], caption_ids, k).sum().item()
            out[f"t2i_r{k}"] += _hits(s_ti, caption_ids[q], caption_ids, k).sum().item()
    return {key: v / max(n, 1) for key, v in out.items()}


@register_task
class Contrastive(Task):
    """CLIP: symmetric contrastive loss with the model's learned temperature.

    ``evaluate`` gives the loss (batch by batch, as in training), ``zero_shot`` accuracy (each
    image with a class label is given the class whose prompt embeds closest; the prompts are the
    dataset's, e.g. "a photo of the digit seven") and retrieval recall@1/@5 over the whole split
    in both directions (``i2t_r1`` ... ``t2i_r5``). ``zero_shot`` selects the best checkpoint.
    """

    name = "contrastive"
    verbs = {"predict": Verb("predict", "predict_files", (FILES, Option(
        "labels", help="CLIP runs: comma-separated texts to rank for each image (default: the "
        "dataset's class prompts)")), "the class prompts ranked for image files (zero-shot)")}
    metric = "zero_shot"
    higher_is_better = True

    def inputs(self, model, batch) -> tuple:
        """The model's arguments for a batch: images and caption tokens."""
        return batch[0], batch[1]

    def logits(self, model, batch) -> torch.Tensor:
        return model(*self.inputs(model, batch))  # (B, B)

    def loss(self, model, batch):
        return contrastive_loss(self.logits(model, batch).float(), batch[1]), {}

    @torch.no_grad()
    def embed(self, model, batches):
        """Normalised image and text embeddings of a split, its token rows, labels and the class
        prompts' embeddings (or ``None``), plus the mean loss."""
        m = unwrap(model)
        imgs, txts, toks, labels, prompts, total = [], [], [], [], None, 0.0
        for batch in batches:
            images, tokens, y = batch[0], batch[1], batch[2]
            i = F.normalize(m.encode_image(images).float(), dim=-1)  # (B, E)
            t = F.normalize(m.encode_text(tokens).float(), dim=-1)  # (B, E)
            total += contrastive_loss(m.scale().float() * i @ t.t(), tokens).item() * len(y)
            imgs.append(i), txts.append(t), toks.append(tokens), labels.append(y)
            if prompts is None and len(batch) > 3 and batch[3].numel():
                prompts = F.normalize(m.encode_text(batch[3]).float(), dim=-1)  # (K, E)
        width = max(t.size(1) for t in toks)
        toks = [F.pad(t, (0, width - t.size(1)), value=unwrap(model).config.pad_id) for t in toks]
        return (torch.cat(imgs), torch.cat(txts), torch.cat(toks), torch.cat(labels), prompts,
                total)

    @torch.no_grad()
    def evaluate(self, model, batches) -> dict[str, float]:
        img, txt, toks, labels, prompts, total = self.embed(model, batches)
        out = {"loss": total / max(len(img), 1)}
        known = labels >= 0
        if prompts is not None and known.any():
            pred = (img[known] @ prompts.t()).argmax(-1)
            out["zero_shot"] = (pred == labels[known]).float().mean().item()
        else:
            out["zero_shot"] = float("nan")
        ids = torch.unique(toks, dim=0, return_inverse=True)[1]  # (N,) equal text, equal id
        out.update(retrieval_recall(img, txt, ids))
        return out

    @torch.no_grad()
    def predict(self, model, batch) -> torch.Tensor:
        """``batch = (images, texts)``: probabilities over the texts for each image, (B, K)."""
        return torch.softmax(model(batch[0], batch[1]).float(), dim=-1)

    def predict_files(self, run, files, labels: str | None = None) -> list[Answer]:
        """The dataset's class prompts (or ``labels``, comma-separated) ranked for each image file
        (zero-shot classification)."""
        from ..data.captions import caption_rows
        from ..data.folders import read_fitted_image
        from ..data.vision import read_image_file

        if not files:
            raise AnnError("give the image files to classify")
        prompts = ([t.strip() for t in labels.split(",") if t.strip()] if labels is not None
                   else list(run.info.get("classes") or []))
        if not prompts:
            raise AnnError('give the texts to rank: --labels "a photo of a cat,a photo of a dog"')
        device, c = next(run.model.parameters()).device, run.model.config
        texts = caption_rows(run.tokenizer, prompts, c.max_len, c.bos_id, c.eos_id,
                             c.pad_id).to(device)
        read = read_fitted_image if run.info.get("fit_images") else read_image_file
        images = torch.cat([read(f, run.info) for f in files]).to(device)
        probs = self.predict(run.model.eval(), (images, texts)).cpu()
        lines = []
        for f, p in zip(files, probs):
            top = p.topk(min(3, len(p)))
            ranked = [(prompts[int(i)], float(q)) for q, i in zip(*top)]
            lines.append(Answer(f"{f}: " + ", ".join(f"{t!r} {q:.3f}" for t, q in ranked),
                                {"file": str(f), "top": ranked}))
        return lines

    def report(self, run, test_data, path) -> None:
        plot_retrieval(run, test_data, path / "retrieval.png")


@torch.no_grad()
def plot_retrieval(run, data, path, queries: int = 6, k: int = 5) -> None:
    """``retrieval.png``: for the first test captions, the ``k`` test images CLIP ranks highest
    (a green title marks an image whose caption is the query, or of the query image's class)."""
    from ..report.plots import save, subplots

    model = run.model.eval()
    device = next(model.parameters()).device
    n = min(len(data), 500)
    images, tokens = data.batch(slice(0, n))[:2]
    img = F.normalize(model.encode_image(images.to(device)).float(), dim=-1)
    txt = F.normalize(model.encode_text(tokens[:queries].to(device)).float(), dim=-1)
    top = (txt @ img.t()).topk(min(k, n), dim=1).indices.cpu()  # (queries, k)
    fig, axes = subplots(len(top), k, figsize=(1.5 * k + 2.5, 1.6 * len(top)), squeeze=False)
    for q, row in enumerate(top):
        for j, i in enumerate(row.tolist()):
            pic, cmap = _picture(images[i], run.info)
            ax = axes[q, j]
            ax.imshow(pic, cmap=cmap, vmin=0, vmax=1)
            ax.set_xticks([]), ax.set_yticks([])
            same_class = int(data.labels[q]) >= 0 and int(data.labels[i]) == int(data.labels[q])
            right = same_class or data.captions[i] == data.captions[q]
            ax.set_title(f"#{j + 1}", fontsize=7, color="green" if right else "red")
        axes[q, 0].set_ylabel(data.captions[q], fontsize=7, rotation=0, ha="right", va="center")
    fig.suptitle(f"text -> image retrieval among {n} test images (green: the query's caption "
                 "or class)", fontsize=9)
    save(fig, path)
