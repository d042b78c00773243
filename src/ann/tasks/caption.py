"""Captioning: an image in, a sentence out, trained and decoded as sequence to sequence. A batch is
``(images, tokens, labels, prompts)`` (:class:`ann.data.captions.ImageTextDataset`)."""

from __future__ import annotations

import torch

from ..errors import AnnError
from ..registry import register_task
from ..train.distributed import unwrap
from .base import BEAM, FILES, Answer, Option, Verb
from .seq2seq import Seq2Seq, until_eos


@register_task
class Captioning(Seq2Seq):
    """Image to caption: teacher-forced cross-entropy over the caption's words; ``evaluate``
    decodes every image (greedy unless ``beam_size`` > 1) and scores ``exact_match`` (the
    caption equals the generator's, word for word: it selects the best checkpoint) and corpus
    ``bleu`` (BLEU-4 on word ids), with the loss, perplexity and token accuracy of
    :class:`~ann.tasks.seq2seq.Seq2Seq`, whose evaluation this is (the source is the image)."""

    name = "caption"
    verbs = {"generate": Verb("generate", "caption", (
                 Option("image", many=True, metavar="FILE",
                        help="captioning runs: a picture to caption, of the run's size (repeat)"),
                 BEAM),
                 "a caption for each --image picture: greedy, or beam search with --beam"),
             "predict": Verb("predict", "predict_files", (FILES,), "a caption for each image file")}
    metric = "exact_match"

    def inputs(self, model, batch):
        tgt = self.trim(batch[1], unwrap(model).config.pad_id)
        return batch[0], tgt[:, :-1]

    def caption(self, run, image=None, beam: int = 1) -> list[Answer]:
        """``ann generate RUN --image PICTURE``: a caption for each picture."""
        if not image:
            raise AnnError(f"{run.path} is a captioning run; give --image PICTURE.png")
        if beam < 1:
            raise AnnError(f"--beam must be at least 1, got {beam}")
        captions = caption_images(run, image, beam)
        return [Answer(text if len(image) == 1 else f"{f}: {text}", {"file": str(f), "caption": text})
                for f, text in zip(image, captions)]

    def predict_files(self, run, files) -> list[Answer]:
        """``ann predict RUN FILE ...``: a caption for each image file."""
        if not files:
            raise AnnError("give the image files to caption")
        captions = caption_images(run, files, self.beam_size)
        return [Answer(f"{f}: {c}", {"file": str(f), "caption": c}) for f, c in zip(files, captions)]

    def report(self, run, test_data, path) -> None:
        plot_captions(run, test_data, path / "captions.png", path / "captions.txt")


def decode_rows(tok, rows: torch.Tensor, eos_id: int) -> list[str]:
    """Token rows (as ``translate`` returns them) to caption strings."""
    return [tok.decode(until_eos(r, eos_id)) for r in rows.tolist()]


def caption_images(run, files, beam_size: int = 1) -> list[str]:
    """A caption for each image file (PNG/JPEG/.npy of the run's image size and channels; a
    picture of another size or channel count is refused, not resized), for a captioning run
    (captioner-shapes): greedy, or beam search when ``beam_size`` > 1."""
    from ..data.vision import read_image_file

    device = next(run.model.parameters()).device
    images = torch.cat([read_image_file(f, run.info) for f in files]).to(device)
    out = run.model.eval().translate(images, beam_size)
    return decode_rows(run.tokenizer, out.cpu(), run.model.config.eos_id)



# --- pictures for the run directory -------------------------------------------------------------

def _picture(x: torch.Tensor, info: dict):
    """One standardised image (C, H, W) as something ``imshow`` draws, and its colour map."""
    from ..report.attention import _pictures

    pic = _pictures(x[None], info)[0]  # (H, W, C) in [0, 1]
    return (pic, None) if pic.shape[-1] == 3 else (pic[:, :, 0], "gray")


@torch.no_grad()
def plot_captions(run, data, png, txt, n: int = 12) -> None:
    """``captions.png`` (test images titled with the model's greedy caption, green when it is the
    true caption word for word) and ``captions.txt`` (model and truth for 50 test images)."""
    from .. import fileio
    from ..report.plots import save, subplots

    model = run.model.eval()
    device = next(model.parameters()).device
    m = min(len(data), 50)
    images = data.batch(slice(0, m))[0]
    made = decode_rows(run.tokenizer, model.translate(images.to(device)).cpu(), model.config.eos_id)
    lines = [f"{'ok ' if h == t else 'BAD'} model: {h}\n    truth: {t}"
             for h, t in zip(made, data.captions[:m])]
    fileio.write_text(txt, "\n".join(lines) + "\n")
    cols = 4
    rows = -(-min(n, m) // cols)
    fig, axes = subplots(rows, cols, figsize=(3.2 * cols, 3.0 * rows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < min(n, m):
            pic, cmap = _picture(images[i], run.info)
            ax.imshow(pic, cmap=cmap, vmin=0, vmax=1)
            words = made[i].split()
            title = " ".join(words[:5]) + ("\n" + " ".join(words[5:]) if len(words) > 5 else "")
            ax.set_title(title, fontsize=8, color="green" if made[i] == data.captions[i] else "red")
    fig.suptitle("greedy captions of test images (green: exactly the true caption)", fontsize=9)
    save(fig, png)
