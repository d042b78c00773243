"""The deep belief net as a classifier (Hinton, Osindero & Teh 2006, "A fast learning algorithm
for deep belief nets", Neural Computation 18(7), https://doi.org/10.1162/neco.2006.18.7.1527;
Hinton & Salakhutdinov 2006, https://doi.org/10.1126/science.1127647, for the fine-tuning by
back-propagation).

A stack of RBMs (``ann.models.rbm.rbm.RBMLayer``) is pretrained greedily, one layer at a time,
bottom up: layer 1 by CD-k on the pixels, layer 2 on layer 1's hidden probabilities, and so on,
``pretrain_steps`` updates each. Then the stack, read as a sigmoid network with a softmax layer
on top, is fine-tuned as a whole on the labels by back-propagation (cross-entropy).

The two phases are one model stepping itself (``training_step``): the loop's steps
``[l * pretrain_steps, (l + 1) * pretrain_steps)`` pretrain layer l with SGD (``pretrain_lr``,
momentum ``pretrain_momentum``), the rest fine-tune everything but the visible biases with the
run's optimizer settings (``train.lr``). The visible biases belong to the generative direction
only: the classifier never reads them, so they train only while their layer is pretrained.

Shapes:
    images (B, C, H, W), normalised as the dataset gives them -> class scores (B, num_classes).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ...config import field
from ...errors import AnnError
from ...layers import Linear
from ...registry import register_model
from ..inputs import LabelledImageInput
from .rbm import RBMLayer


@dataclass
class DBNConfig(LabelledImageInput):
    hidden: tuple[int, ...] = field((256, 256), "hidden units of each RBM, bottom up",
                                    positive=True)
    pretrain_steps: int = field(500, "CD updates of each layer before fine-tuning (0: none, a "
                                "plain sigmoid network)", nonneg=True)
    k: int = field(1, "Gibbs steps of CD-k in pretraining", positive=True)
    pretrain_lr: float = field(0.05, "SGD learning rate of pretraining", positive=True)
    pretrain_momentum: float = field(0.5, "SGD momentum of pretraining", range=(0.0, 0.99))
    init_std: float = field(0.01, "std of the RBMs' initial weights", positive=True)
    mean: float = field(0.0, "the dataset's pixel mean, undone to read pixels in [0, 1] (filled)")
    std: float = field(1.0, "the dataset's pixel std, undone likewise (filled)", positive=True)


@register_model("dbn", config=DBNConfig, family="rbm", presets={
    "tiny": {"hidden": (32, 32), "pretrain_steps": 2, "image_size": 4, "init_std": 0.1},
    "mnist": {"image_size": 28, "hidden": (500, 500), "pretrain_steps": 3000},
})
class DeepBeliefNet(nn.Module):
    """Greedily pretrained stack of RBMs, fine-tuned by back-propagation as a classifier.

    Shapes:
        input (B, C, H, W) -> class scores (B, num_classes).
    """

    task = "classify"

    def __init__(self, config: DBNConfig):
        super().__init__()
        self.config = c = config
        sizes = (c.in_channels * c.image_size * c.image_size, *c.hidden)
        self.rbms = nn.ModuleList(RBMLayer(a, b, c.init_std) for a, b in zip(sizes, sizes[1:]))
        for rbm in self.rbms:                   # see the module docstring: generative only
            rbm.v_bias.requires_grad_(False)
        self.head = Linear(sizes[-1], c.num_classes)
        nn.init.normal_(self.head.weight, std=0.01)     # small: the pretrained features lead
        nn.init.zeros_(self.head.bias)

    def visible(self, x: torch.Tensor) -> torch.Tensor:
        """Pixels in [0, 1] (B, V) from images as the dataset normalised them."""
        return (x.flatten(1).float() * self.config.std + self.config.mean).clamp(0, 1)

    def features(self, x: torch.Tensor, layers: int | None = None) -> torch.Tensor:
        """Hidden probabilities after the first ``layers`` RBMs (all when None)."""
        h = self.visible(x)
        for rbm in self.rbms[:layers]:
            h = rbm.hidden_probs(h)                                       # (B, H_l)
        return h

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))                                # (B, num_classes)

    # --- the two phases ------------------------------------------------------------------------
    def configure_optimizers(self, tc) -> dict[str, torch.optim.Optimizer]:
        """One SGD per RBM for pretraining; the run's optimizer (``train.optimizer``, ``train.lr``)
        for fine-tuning everything the classifier reads."""
        c = self.config
        tuned = [p for p in self.parameters() if p.requires_grad]
        if tc.optimizer == "sgd":
            fine = torch.optim.SGD(tuned, lr=tc.lr, momentum=tc.momentum)
        elif tc.optimizer == "adamw":
            fine = torch.optim.AdamW(tuned, lr=tc.lr, betas=(tc.beta1, tc.beta2),
                                     weight_decay=tc.weight_decay)
        else:
            raise AnnError(f"a deep belief net fine-tunes with train.optimizer=sgd or adamw, "
                           f"not {tc.optimizer}")
        out = {f"rbm{i + 1}": torch.optim.SGD(rbm.parameters(), lr=c.pretrain_lr,
                                              momentum=c.pretrain_momentum)
               for i, rbm in enumerate(self.rbms)}
        return {"finetune": fine, **out}

    def training_step(self, batch, optimizers, step: int) -> dict[str, float]:
        c = self.config
        layer = step // c.pretrain_steps if c.pretrain_steps else len(self.rbms)
        if layer < len(self.rbms):                                        # greedy pretraining
            rbm, opt = self.rbms[layer], optimizers[f"rbm{layer + 1}"]
            with torch.no_grad():
                v = self.features(batch[0], layer)                        # (B, V_l), fixed input
            rbm.v_bias.requires_grad_(True)
            loss = rbm.cd_loss(v, rbm.gibbs(v, c.k))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            rbm.v_bias.requires_grad_(False)
            rbm.v_bias.grad = None
            return {"loss": loss.item(), "pretrain_layer": layer + 1}
        opt = optimizers["finetune"]
        loss = F.cross_entropy(self(batch[0]), batch[1])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return {"loss": loss.item()}

    def example_batch(self, batch_size: int, generator: torch.Generator | None):
        """``(x, y)``: random binary images (B, C, H, W) and random labels (B,)."""
        c = self.config
        x = (torch.rand(batch_size, c.in_channels, c.image_size, c.image_size,
                        generator=generator) < 0.3).float()
        return x, torch.randint(0, c.num_classes, (batch_size,), generator=generator)
