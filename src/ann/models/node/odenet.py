"""ODE-Net, an image classifier whose residual stack is one ODE (Chen, Rubanova, Bettencourt &
Duvenaud 2018, "Neural ordinary differential equations", NeurIPS, sec. 3 and Table 1,
https://arxiv.org/abs/1806.07366).

A ResNet's blocks ``h + f(h)`` are Euler steps of ``dh/dt = f(h, t)``; ODE-Net replaces them
by that ODE solved from t = 0 to t = 1 by an adaptive solver: the "depth" becomes the number of
function evaluations the solver chooses. As in the paper: convolutions downsample the image
(each stage a stride-2 conv), the vector field is norm-ReLU-conv-norm-ReLU-conv-norm on the
feature maps with the time ``t`` appended as one more input channel of each convolution, and
the head is norm-ReLU, global average pooling and a linear layer. Norms are group norms.

Shapes:
    x (B, C, H, W) -> downsampled h(0) (B, width, H / 2^s, W / 2^s) -> h(1), same shape
    -> class scores (B, num_classes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ...config import field, validate
from ...errors import AnnError
from ...registry import register_model
from ..cnn.common import ImageClassifier
from ..inputs import LabelledImageInput, image_size_field
from .solvers import METHODS, solve


@dataclass
class ODESolverFields:
    """The solver settings every neural ODE of this family takes."""

    method: str = field("dopri5", "ODE solver: dopri5 (adaptive), rk4 or euler (fixed steps)",
                        choices=METHODS)
    rtol: float = field(1e-3, "dopri5: relative tolerance of each step", positive=True)
    atol: float = field(1e-3, "dopri5: absolute tolerance of each step", positive=True)
    step_size: float = field(0.25, "euler/rk4: the fixed step size", positive=True)
    adjoint: bool = field(False, "gradients by the adjoint ODE solved backwards (memory flat "
                          "in the steps) instead of backpropagation through the solver")


def group_norm(width: int) -> nn.GroupNorm:
    """Group norm of at most 8 groups. (The paper's min(32, width) groups leave one channel a
    group at small widths: an instance norm, after which the pooled head sees every channel's
    mean normalised away.)"""
    return nn.GroupNorm(math.gcd(8, width), width)


class ConcatConv(nn.Module):
    """A 3x3 convolution that also reads the time ``t`` as a constant extra channel."""

    def __init__(self, width: int):
        super().__init__()
        self.conv = nn.Conv2d(width + 1, width, 3, padding=1)

    def forward(self, t: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        tt = t.to(h).expand(h.shape[0], 1, *h.shape[2:])            # (B, 1, H, W)
        return self.conv(torch.cat([tt, h], 1))                     # (B, width, H, W)


class ConvField(nn.Module):
    """The vector field f(t, h) on feature maps; counts its evaluations in ``calls``."""

    def __init__(self, width: int):
        super().__init__()
        self.norm1, self.conv1 = group_norm(width), ConcatConv(width)
        self.norm2, self.conv2 = group_norm(width), ConcatConv(width)
        self.norm3 = group_norm(width)
        self.act = nn.ReLU()
        self.calls = 0

    def forward(self, t: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        h = self.conv1(t, self.act(self.norm1(h)))
        h = self.conv2(t, self.act(self.norm2(h)))
        return self.norm3(h)


@dataclass
class ODENetConfig(ODESolverFields, LabelledImageInput):
    image_size: int = image_size_field(28)
    width: int = field(32, "feature maps of the downsampling stages and the ODE block",
                       positive=True)
    downsample: int = field(2, "stride-2 convolutions before the ODE block (the paper: 2)",
                            nonneg=True)
    t1: float = field(1.0, "the ODE block integrates from t = 0 to t = t1", positive=True)

    def __post_check__(self):
        if self.image_size < 2 ** self.downsample:
            raise AnnError(f"odenet: image_size={self.image_size} is too small for "
                           f"{self.downsample} stride-2 stages; lower model.downsample")


@register_model("odenet", config=ODENetConfig, family="node", presets={
    "tiny": {"image_size": 8, "width": 8, "downsample": 1, "method": "rk4", "step_size": 1.0},
    "digits": {"image_size": 8, "width": 32, "downsample": 1},
    "mnist": {"image_size": 28, "width": 64, "downsample": 2},
})
class ODENet(ImageClassifier):
    """ODE-Net (Chen et al. 2018): conv downsampling, one ODE block, pooled linear head.

    ``nfe``: the vector field's evaluations in the last forward pass (the solver's "depth").

    Shapes:
        x (B, C, H, W) -> class scores (B, num_classes).
    """

    task = "ode_classify"

    def __init__(self, config: ODENetConfig):
        super().__init__()
        validate(config)
        self.config = c = config
        stages = [nn.Conv2d(c.in_channels, c.width, 3, padding=1)]
        for _ in range(c.downsample):
            stages += [group_norm(c.width), nn.ReLU(),
                       nn.Conv2d(c.width, c.width, 4, stride=2, padding=1)]  # halves H and W
        self.downsampling = nn.Sequential(*stages)
        self.field = ConvField(c.width)
        self.head = nn.Sequential(group_norm(c.width), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                                  nn.Flatten(), nn.Linear(c.width, c.num_classes))
        self.register_buffer("times", torch.tensor([0.0, c.t1]), persistent=False)
        self.nfe = self.nfe_seen = self.solves_seen = 0

    def solver_options(self) -> dict:
        c = self.config
        return dict(method=c.method, rtol=c.rtol, atol=c.atol, step_size=c.step_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h0 = self.downsampling(x)                                   # (B, width, H', W')
        calls = self.field.calls
        h1 = solve(self.field, h0, self.times, self.config.adjoint, **self.solver_options())[-1]
        self.nfe = self.field.calls - calls
        if self.training:                                           # for the task's train_nfe
            self.nfe_seen, self.solves_seen = self.nfe_seen + self.nfe, self.solves_seen + 1
        return self.head(h1)                                        # (B, num_classes)
