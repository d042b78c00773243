"""The capsule network with dynamic routing (S. Sabour, N. Frosst & G. E. Hinton, "Dynamic
routing between capsules", NeurIPS 2017, https://arxiv.org/abs/1710.09829).

A capsule is a group of neurons whose output vector stands for one entity: its length is the
probability that the entity is present, its direction the entity's pose. A convolution (Conv1)
feeds the primary capsules, a second convolution whose channels are cut into ``primary_types``
capsules of ``primary_dim`` numbers at every position; each capsule vector s is squashed (eq. 1)

    v = |s|^2 / (1 + |s|^2) * s / |s|,

so short vectors shrink to almost 0 and long ones to just below 1. Every primary capsule i
predicts each digit capsule j through its own matrix, u_hat_{j|i} = W_ij u_i, and routing by
agreement (Procedure 1) decides how much of each prediction goes where: coupling logits b_ij
start at 0, c_i = softmax_j(b_i), s_j = sum_i c_ij u_hat_{j|i}, v_j = squash(s_j), and
b_ij += u_hat_{j|i} . v_j, for ``routing_iters`` iterations (3 in the paper).

The loss is the margin loss (eq. 4) on the lengths of the digit capsules,

    L_k = T_k max(0, m+ - |v_k|)^2 + lambda (1 - T_k) max(0, |v_k| - m-)^2,

with m+ = 0.9, m- = 0.1, lambda = 0.5, plus 0.0005 times the summed squared error of a
reconstruction: a fully connected decoder rebuilds the image from the digit capsules, all but
the true class's masked to 0 in training (the predicted class's at test time).

Shapes:
    input (B, C, H, W) -> Conv1 (B, conv_channels, H1, W1) -> primary capsules
    (B, N_primary, primary_dim) -> predictions (B, N_primary, num_classes, digit_dim) -> digit
    capsules (B, num_classes, digit_dim) -> class scores |v_k| (B, num_classes); the decoder
    maps (B, num_classes * digit_dim) -> (B, C, H, W) in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ...config import field
from ...errors import AnnError
from ...registry import register_model
from ..inputs import LabelledImageInput


def squash(s: torch.Tensor, dim: int = -1, eps: float = 1e-16) -> torch.Tensor:
    """Eq. 1: the vector's direction kept, its length |s| mapped to |s|^2 / (1 + |s|^2) < 1
    (``eps`` only keeps the gradient at s = 0 finite)."""
    sq = (s * s).sum(dim, keepdim=True)
    return s * (sq / (1 + sq) / torch.sqrt(sq + eps))


def route(u_hat: torch.Tensor, iters: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Routing by agreement (Procedure 1) of predictions u_hat (B, I, J, D) for ``iters``
    iterations: the output capsules v (B, J, D) and the last coupling coefficients c (B, I, J)."""
    b = u_hat.new_zeros(u_hat.shape[:3])                                      # (B, I, J)
    for r in range(iters):
        c = b.softmax(dim=2)                          # each input capsule splits over outputs
        v = squash((c.unsqueeze(-1) * u_hat).sum(1))                          # (B, J, D)
        if r < iters - 1:
            b = b + (u_hat * v.unsqueeze(1)).sum(-1)                          # agreement
    return v, c


def margin_loss(lengths: torch.Tensor, y: torch.Tensor, m_plus: float = 0.9,
                m_minus: float = 0.1, lam: float = 0.5) -> torch.Tensor:
    """Eq. 4 summed over the classes: per example (B,) from capsule lengths (B, K), labels (B,)."""
    t = F.one_hot(y, lengths.shape[1]).to(lengths.dtype)                      # (B, K)
    present = t * F.relu(m_plus - lengths) ** 2
    absent = lam * (1 - t) * F.relu(lengths - m_minus) ** 2
    return (present + absent).sum(1)


@dataclass
class CapsNetConfig(LabelledImageInput):
    conv_channels: int = field(64, "channels of Conv1 (256 in the paper)", positive=True)
    conv_kernel: int = field(3, "kernel of Conv1, stride 1, no padding (9 in the paper)",
                             positive=True)
    primary_types: int = field(8, "primary capsule channels (32 in the paper)", positive=True)
    primary_dim: int = field(8, "numbers in a primary capsule", positive=True)
    primary_kernel: int = field(3, "kernel of the primary capsules' convolution (9 in the paper)",
                                positive=True)
    primary_stride: int = field(2, "stride of the primary capsules' convolution", positive=True)
    digit_dim: int = field(16, "numbers in a digit capsule", positive=True)
    routing_iters: int = field(3, "iterations of routing by agreement", positive=True)
    decoder: tuple[int, ...] = field((512, 1024), "hidden sizes of the reconstruction decoder",
                                     positive=True)
    recon_weight: float = field(0.0005, "weight of the reconstruction's summed squared error",
                                nonneg=True)
    m_plus: float = field(0.9, "margin loss: a present class's length should exceed this",
                          range=(0.0, 1.0))
    m_minus: float = field(0.1, "margin loss: an absent class's length should stay below this",
                           range=(0.0, 1.0))
    down_weight: float = field(0.5, "margin loss lambda: weight of the absent classes' term",
                               nonneg=True)
    mean: float = field(0.0, "the dataset's pixel mean, undone to rebuild pixels in [0, 1] "
                        "(filled)")
    std: float = field(1.0, "the dataset's pixel std, undone likewise (filled)", positive=True)


@register_model("capsnet", config=CapsNetConfig, family="capsule", presets={
    "tiny": {"conv_channels": 8, "primary_types": 2, "primary_dim": 4, "digit_dim": 6,
             "decoder": (32,)},
    # the paper's layout at a quarter of its widths (Conv1 64 of 256, 8 of 32 capsule types)
    "mnist": {"image_size": 28, "conv_channels": 64, "conv_kernel": 9, "primary_types": 8,
              "primary_kernel": 9},
})
class CapsNet(nn.Module):
    """Capsule network (Sabour et al. 2017): Conv1, primary capsules, digit capsules by dynamic
    routing, margin loss and a masked reconstruction decoder.

    Shapes:
        input (B, C, H, W) -> class scores, the digit capsules' lengths (B, num_classes).
    """

    task = "capsule_classify"

    def __init__(self, config: CapsNetConfig):
        super().__init__()
        self.config = c = config
        side = c.image_size - c.conv_kernel + 1
        grid = (side - c.primary_kernel) // c.primary_stride + 1 if side >= c.primary_kernel else 0
        if grid < 1:
            raise AnnError(f"capsnet: {c.image_size}x{c.image_size} images are too small for "
                           f"conv_kernel={c.conv_kernel} and primary_kernel={c.primary_kernel}; "
                           "choose smaller kernels")
        self.n_primary = c.primary_types * grid * grid
        self.conv1 = nn.Conv2d(c.in_channels, c.conv_channels, c.conv_kernel)
        self.primary = nn.Conv2d(c.conv_channels, c.primary_types * c.primary_dim,
                                 c.primary_kernel, stride=c.primary_stride)
        # W_ij: one (digit_dim x primary_dim) matrix per pair of primary and digit capsules
        self.W = nn.Parameter(torch.randn(self.n_primary, c.num_classes, c.digit_dim,
                                          c.primary_dim) * 0.05)             # (I, J, D, d)
        sizes = (c.num_classes * c.digit_dim, *c.decoder)
        layers = [m for a, b in zip(sizes[:-1], sizes[1:]) for m in (nn.Linear(a, b), nn.ReLU())]
        self.decoder = nn.Sequential(*layers, nn.Linear(sizes[-1], c.in_channels * c.image_size ** 2),
                                     nn.Sigmoid())
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(module: nn.Module):
        if isinstance(module, (nn.Conv2d, nn.Linear)):          # He init for the ReLU layers
            nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            nn.init.zeros_(module.bias)

    def capsules(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Digit capsules v (B, J, D) and the routing's coupling coefficients (B, I, J)."""
        c = self.config
        if x.shape[1:] != (c.in_channels, c.image_size, c.image_size):
            raise AnnError(f"capsnet reads images of {(c.in_channels, c.image_size, c.image_size)}"
                           f", got {tuple(x.shape[1:])}; set model.image_size/in_channels")
        h = self.primary(F.relu(self.conv1(x)))                       # (B, types*d, G, G)
        b, _, g, _ = h.shape
        u = h.view(b, c.primary_types, c.primary_dim, g, g)           # (B, types, d, G, G)
        u = squash(u.permute(0, 1, 3, 4, 2).reshape(b, -1, c.primary_dim))   # (B, I, d)
        u_hat = torch.einsum("ijDd,bid->bijD", self.W, u)             # (B, I, J, D)
        return route(u_hat, c.routing_iters)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.capsules(x)[0].norm(dim=-1)                       # (B, num_classes)

    def reconstruct(self, v: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
        """Images (B, C, H, W) rebuilt from the capsule of ``classes`` (B,), the others masked."""
        c = self.config
        mask = F.one_hot(classes, c.num_classes).to(v.dtype).unsqueeze(-1)   # (B, J, 1)
        out = self.decoder((v * mask).flatten(1))                     # (B, C*H*W)
        return out.view(-1, c.in_channels, c.image_size, c.image_size)

    def pixels(self, x: torch.Tensor) -> torch.Tensor:
        """Standardized inputs back on the [0, 1] scale the decoder rebuilds."""
        return (x.float() * self.config.std + self.config.mean).clamp(0, 1)

    def losses(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        """Per-example terms (B,): ``loss`` (margin + recon_weight * reconstruction), ``margin``
        and ``reconstruction`` (summed squared error), the decoder masked by the true class."""
        c = self.config
        v, _ = self.capsules(x)
        margin = margin_loss(v.norm(dim=-1), y, c.m_plus, c.m_minus, c.down_weight)
        sse = ((self.reconstruct(v, y) - self.pixels(x)) ** 2).flatten(1).sum(1)
        return {"loss": margin + c.recon_weight * sse, "margin": margin, "reconstruction": sse}

    def example_batch(self, batch_size: int, generator: torch.Generator):
        """``(x, y)``: standard normal images (B, C, H, W) and random labels (B,)."""
        c = self.config
        x = torch.randn(batch_size, c.in_channels, c.image_size, c.image_size,
                        generator=generator)
        return x, torch.randint(0, c.num_classes, (batch_size,), generator=generator)
