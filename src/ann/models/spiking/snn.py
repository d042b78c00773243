"""A spiking neural network of leaky integrate-and-fire neurons, trained through time with
surrogate gradients (E. O. Neftci, H. Mostafa & F. Zenke, "Surrogate gradient learning in spiking
neural networks", IEEE Signal Processing Magazine 36(6):51-63, 2019,
https://arxiv.org/abs/1901.09948; F. Zenke & S. Ganguli, "SuperSpike: supervised learning in
multilayer spiking neural networks", Neural Computation 30(6):1514-1541, 2018).

Each neuron keeps a membrane potential U that leaks by a factor beta per time step, adds its
input current, and emits a spike S = 1 when U crosses the threshold theta; the spike is then
taken off U by subtraction one step later (the discrete LIF of Neftci et al. 2019, eq. 4, with
the reset of snnTorch's ``Leaky``)::

    R[t] = H(U[t-1] - theta)              (detached: the reset carries no gradient)
    U[t] = beta U[t-1] + I[t] - theta R[t]
    S[t] = H(U[t] - theta)

The step function H has a zero derivative almost everywhere, so backpropagation through time
replaces dS/dU by a smooth surrogate: the fast sigmoid 1 / (k |x| + 1)^2 of SuperSpike (Zenke &
Ganguli 2018) or the arctan (alpha / 2) / (1 + (pi alpha x / 2)^2) (Fang et al. 2021); the
forward pass still spikes with H.

An image becomes T time steps of input: ``rate`` coding draws a spike per pixel and step with
the pixel's intensity as probability; ``latency`` coding fires each pixel once, brighter ones
earlier, none below ``latency_floor``; ``direct`` feeds the intensity as a constant current. The
class scores are the output layer's spike counts (``readout=count``) or, with a non-spiking
output layer, its mean membrane potential over time (``readout=membrane``).

Shapes:
    input (B, C, H, W) -> encoded (B, T, C*H*W) -> hidden spikes (B, T, H_l) per layer ->
    class scores (B, num_classes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ...config import field
from ...errors import AnnError
from ...layers import Linear
from ...registry import register_model
from ..inputs import LabelledImageInput


class FastSigmoidSpike(torch.autograd.Function):
    """H(x) forward; 1 / (slope |x| + 1)^2 backward (SuperSpike, Zenke & Ganguli 2018)."""

    @staticmethod
    def forward(ctx, x, slope: float):
        ctx.save_for_backward(x)
        ctx.slope = slope
        return (x > 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad / (ctx.slope * x.abs() + 1.0) ** 2, None


class ArctanSpike(torch.autograd.Function):
    """H(x) forward; (alpha / 2) / (1 + (pi alpha x / 2)^2) backward, the derivative of
    arctan(pi alpha x / 2) / pi + 1/2 (Fang et al. 2021)."""

    @staticmethod
    def forward(ctx, x, alpha: float):
        ctx.save_for_backward(x)
        ctx.alpha = alpha
        return (x > 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * (ctx.alpha / 2) / (1 + (math.pi / 2 * ctx.alpha * x) ** 2), None


SURROGATES = {"fast_sigmoid": FastSigmoidSpike, "atan": ArctanSpike}


class Leaky(nn.Module):
    """A layer of leaky integrate-and-fire neurons run over a whole current sequence.

    Shapes:
        current (B, T, N) -> (spikes (B, T, N), membrane (B, T, N)).
    """

    def __init__(self, beta: float, threshold: float, surrogate: str = "fast_sigmoid",
                 slope: float = 25.0, spiking: bool = True):
        super().__init__()
        self.beta, self.threshold, self.spiking = beta, threshold, spiking
        self.spike_fn, self.slope = SURROGATES[surrogate], slope

    def forward(self, current: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mem = current.new_zeros(current[:, 0].shape)                          # (B, N)
        spikes, mems = [], []
        for t in range(current.shape[1]):
            if self.spiking:
                reset = (mem > self.threshold).to(mem.dtype).detach()         # R[t] from U[t-1]
                mem = self.beta * mem + current[:, t] - self.threshold * reset
                spikes.append(self.spike_fn.apply(mem - self.threshold, self.slope))
            else:                                 # a leaky integrator: the membrane readout
                mem = self.beta * mem + current[:, t]
                spikes.append(torch.zeros_like(mem))
            mems.append(mem)
        return torch.stack(spikes, 1), torch.stack(mems, 1)                   # (B, T, N) each


ENCODINGS = ("rate", "latency", "direct")


@dataclass
class SNNConfig(LabelledImageInput):
    hidden: tuple[int, ...] = field((128,), "LIF neurons of each hidden layer, input to output",
                                    positive=True)
    steps: int = field(16, "time steps T each input is presented for", positive=True)
    beta: float = field(0.9, "membrane decay per time step (1: no leak)", range=(0.0, 1.0))
    threshold: float = field(1.0, "membrane potential at which a neuron spikes", positive=True)
    surrogate: str = field("fast_sigmoid", "surrogate of dS/dU in the backward pass",
                           choices=tuple(SURROGATES))
    slope: float = field(25.0, "surrogate sharpness: the fast sigmoid's k, the arctan's alpha",
                         positive=True)
    encoding: str = field("rate", "how pixels become input: Bernoulli spikes (rate), one spike "
                          "by intensity (latency) or a constant current (direct)",
                          choices=ENCODINGS)
    latency_floor: float = field(0.1, "latency coding: pixels dimmer than this never fire",
                                 range=(0.0, 1.0))
    readout: str = field("count", "class scores: output spike counts, or the mean membrane of "
                         "a non-spiking output layer", choices=("count", "membrane"))
    mean: float = field(0.0, "the dataset's pixel mean, undone to read intensities in [0, 1] "
                        "(filled)")
    std: float = field(1.0, "the dataset's pixel std, undone likewise (filled)", positive=True)
    seed: int = field(0, "seed of the rate code's spikes in evaluation (training draws afresh)",
                      nonneg=True)


@register_model("snn", config=SNNConfig, family="spiking", presets={
    "tiny": {"hidden": (32,), "steps": 8, "encoding": "direct"},
    "mnist": {"image_size": 28, "hidden": (500,), "steps": 16},
})
class SpikingNet(nn.Module):
    """Fully connected spiking network of LIF neurons with surrogate gradients (Neftci et al.
    2019): fully connected layers feed currents to LIF layers, time step by time step.

    Shapes:
        input (B, C, H, W) -> class scores (B, num_classes): spike counts or mean membrane.
    """

    task = "spike_classify"

    def __init__(self, config: SNNConfig):
        super().__init__()
        self.config = c = config
        sizes = (c.in_channels * c.image_size ** 2, *c.hidden, c.num_classes)
        self.fcs = nn.ModuleList(Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        last = len(self.fcs) - 1
        self.lifs = nn.ModuleList(
            Leaky(c.beta, c.threshold, c.surrogate, c.slope,
                  spiking=not (i == last and c.readout == "membrane"))
            for i in range(len(self.fcs)))
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(module: nn.Module):
        # uniform +-1/sqrt(fan_in), weights and biases: the scale snnTorch's tutorials train from
        if isinstance(module, nn.Linear):
            bound = 1 / module.in_features ** 0.5
            nn.init.uniform_(module.weight, -bound, bound)
            nn.init.uniform_(module.bias, -bound, bound)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Images (B, C, H, W) as T steps of input (B, T, C*H*W)."""
        c = self.config
        p = (x.flatten(1).to(self.fcs[0].weight.dtype) * c.std + c.mean).clamp(0, 1)  # (B, D)
        if p.shape[1] != self.fcs[0].in_features:
            raise AnnError(f"inputs have {p.shape[1]} pixels but the network reads "
                           f"{self.fcs[0].in_features} (model.image_size={c.image_size}, "
                           f"model.in_channels={c.in_channels}); set them to the data's")
        seq = p.unsqueeze(1).expand(-1, c.steps, -1)                           # (B, T, D)
        if c.encoding == "direct":
            return seq
        if c.encoding == "latency":                 # bright pixels at t = 0, dim ones at T - 1
            fire_at = ((1 - p) * (c.steps - 1)).round().long()                 # (B, D)
            t = torch.arange(c.steps, device=x.device).view(1, -1, 1)          # (1, T, 1)
            return ((t == fire_at.unsqueeze(1)) & (p.unsqueeze(1) >= c.latency_floor)).float()
        generator = None
        if not self.training:                       # the same spikes at every evaluation
            generator = torch.Generator(device=x.device).manual_seed(c.seed)
        return (torch.rand(seq.shape, generator=generator, device=x.device) < seq).float()

    def run(self, x: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """(spikes, membrane) of every layer, each (B, T, N_l), input to output."""
        out, h = [], self.encode(x)
        for fc, lif in zip(self.fcs, self.lifs):
            h, mem = lif(fc(h))                    # the current of all T steps in one product
            out.append((h, mem))
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spikes, mem = self.run(x)[-1]
        if self.config.readout == "membrane":
            return mem.mean(1)                                                 # (B, num_classes)
        return spikes.sum(1)                                                   # (B, num_classes)

    def example_batch(self, batch_size: int, generator: torch.Generator):
        """``(x, y)``: standard normal images (B, C, H, W) and random labels (B,)."""
        c = self.config
        x = torch.randn(batch_size, c.in_channels, c.image_size, c.image_size,
                        generator=generator)
        return x, torch.randint(0, c.num_classes, (batch_size,), generator=generator)
