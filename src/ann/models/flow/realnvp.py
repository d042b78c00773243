"""RealNVP: a normalizing flow of affine coupling layers (L. Dinh, J. Sohl-Dickstein and S. Bengio,
"Density estimation using Real NVP", ICLR 2017, https://arxiv.org/abs/1605.08803).

An invertible map f from data x to a latent z with a standard normal density gives x the exact
density of the change of variables, ``log p(x) = log N(f(x); 0, I) + log |det df/dx|``. Each
coupling layer keeps the masked part of its input, ``x_m = m * x``, and moves the rest by an
affine map computed from it,

    y = x_m + (1 - m) * (x * exp(s(x_m)) + t(x_m)),      log |det| = sum((1 - m) * s(x_m)),

so the Jacobian is triangular, its log-determinant a sum, and the inverse closed-form,
``x = y_m + (1 - m) * (y - t(y_m)) * exp(-s(y_m))``. Masks alternate so every coordinate is
moved: halves of a vector (``x_1..x_{D/2}`` then the rest); for images a checkerboard over
pixels, then after a squeeze (each 2x2 block to 4 channels, section 3.6) halves of the channels.
The scale is ``s = scale * tanh(raw)`` with a learned ``scale`` per coordinate (bounded, as in
the authors' implementation).
Optional ActNorm before each coupling (Kingma & Dhariwal 2018, "Glow", section 3.1): a
per-feature affine map started, on the first training batch, so that its output has zero mean
and unit variance; it stands in for the paper's batch normalization.

Images (``in_features=0``): the inputs arrive standardised; they are mapped back to their
integer levels 0..``levels - 1``, dequantized with uniform noise, divided by ``levels`` and put
through the logit transform ``logit(alpha + (1 - 2 alpha) u)`` (section 4.1, here with the margin
on both sides); every step's
Jacobian is counted, so :meth:`log_prob` is the log-probability of the discrete image, a lower
bound in nats, and bits per dimension are ``-log_prob / (D ln 2)``. Unlike the paper's
multi-scale architecture no dimensions are factored out: every layer sees the whole image.

Shapes:
    input (B, in_features) or standardised images (B, C, S, S) -> log-likelihood (B,) in nats.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ...config import field
from ...errors import AnnError
from ...layers import Conv2d, Linear
from ...registry import register_model
from ..inputs import image_size_field, in_channels_field


@dataclass
class RealNVPConfig:
    in_features: int = field(2, "features of a vector (filled from the dataset); 0: the input is "
                             "an image", nonneg=True)
    in_channels: int = in_channels_field()
    image_size: int = image_size_field()
    mean: float = field(0.0, "images: the mean they were standardised with (filled from the "
                        "dataset)")
    std: float = field(1.0, "images: the std they were standardised with (filled from the "
                       "dataset)", positive=True)
    scale: int = field(255, "images: the largest raw pixel value, so levels are 0..scale "
                       "(filled from the dataset)", positive=True)
    couplings: int = field(8, "vectors: coupling layers; images: checkerboard couplings at each "
                           "scale (and as many channel couplings after each squeeze)",
                           positive=True)
    hidden: int = field(64, "width of the s and t networks (units or channels)", positive=True)
    depth: int = field(2, "hidden layers of the s and t MLP (vectors) or residual blocks of "
                       "their conv net (images)", positive=True)
    scales: int = field(1, "images: squeezes (each halves the side and quadruples the "
                        "channels)", nonneg=True)
    actnorm: bool = field(True, "an ActNorm layer before each coupling (Glow)")
    alpha: float = field(0.05, "images: the logit transform's margin alpha", range=(0.0, 0.49))

    @property
    def images(self) -> bool:
        return self.in_features == 0

    @property
    def dims(self) -> int:
        """Coordinates per example, D."""
        c = self
        return c.in_channels * c.image_size ** 2 if c.images else c.in_features


def squeeze(x: torch.Tensor) -> torch.Tensor:
    """Each 2x2 block of pixels to 4 channels (Dinh et al. 2017, Figure 3)."""
    b, c, h, w = x.shape
    x = x.view(b, c, h // 2, 2, w // 2, 2)                                  # (B, C, H/2, 2, W/2, 2)
    return x.permute(0, 1, 3, 5, 2, 4).reshape(b, 4 * c, h // 2, w // 2)   # (B, 4C, H/2, W/2)


def unsqueeze(x: torch.Tensor) -> torch.Tensor:
    """The inverse of :func:`squeeze`."""
    b, c, h, w = x.shape
    x = x.view(b, c // 4, 2, 2, h, w)                                       # (B, C/4, 2, 2, H, W)
    return x.permute(0, 1, 4, 2, 5, 3).reshape(b, c // 4, 2 * h, 2 * w)    # (B, C/4, 2H, 2W)


class Squeeze(nn.Module):
    """:func:`squeeze` as a flow step (volume-preserving: log-determinant 0)."""

    def forward(self, x):
        return squeeze(x), x.new_zeros(len(x))

    def inverse(self, y):
        return unsqueeze(y)


class ActNorm(nn.Module):
    """``y = (x + bias) * exp(log_scale)`` per feature or channel, started from the first
    training batch so that ``y`` has zero mean and unit variance (Kingma & Dhariwal 2018)."""

    def __init__(self, shape: tuple[int, ...]):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(shape))
        self.log_scale = nn.Parameter(torch.zeros(shape))
        self.register_buffer("started", torch.zeros((), dtype=torch.bool))

    @torch.no_grad()
    def _start(self, x: torch.Tensor):
        dims = [0] + list(range(2, x.ndim))              # all but the feature/channel axis
        mean = x.mean(dims).view(self.bias.shape)
        std = x.std(dims).view(self.bias.shape) if len(x) > 1 else torch.ones_like(mean)
        self.bias.copy_(-mean)
        self.log_scale.copy_(-std.clamp_min(1e-6).log())
        self.started.fill_(True)

    def forward(self, x):
        if self.training and not bool(self.started):
            self._start(x)
        per_position = x[0, 0].numel()                  # pixels sharing a channel's scale
        return (x + self.bias) * self.log_scale.exp(), \
            self.log_scale.sum().expand(len(x)) * per_position

    def inverse(self, y):
        return y * torch.exp(-self.log_scale) - self.bias


class ResidualNet(nn.Module):
    """The s and t network of an image coupling: 3x3 conv, ``depth`` residual blocks, 3x3 conv
    to ``2 * channels`` (s and t).

    Shapes:
        (B, C, H, W) -> (B, 2C, H, W).
    """

    def __init__(self, channels: int, hidden: int, depth: int):
        super().__init__()
        self.inp = Conv2d(channels, hidden, 3, padding=1)
        self.blocks = nn.ModuleList(nn.Sequential(nn.ReLU(), Conv2d(hidden, hidden, 3, padding=1),
                                                  nn.ReLU(), Conv2d(hidden, hidden, 3, padding=1))
                                    for _ in range(depth))
        self.out = nn.Sequential(nn.ReLU(), Conv2d(hidden, 2 * channels, 3, padding=1))

    def forward(self, x):
        h = self.inp(x)
        for block in self.blocks:
            h = h + block(h)
        return self.out(h)


def mlp(features: int, hidden: int, depth: int) -> nn.Sequential:
    """The s and t network of a vector coupling: ``depth`` ReLU layers, then 2D outputs."""
    sizes = (features, *([hidden] * depth))
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers, Linear(hidden, 2 * features))


class AffineCoupling(nn.Module):
    """One affine coupling layer (Dinh et al. 2017, eq. 6-9) with a fixed binary ``mask``
    (1: kept and conditioned on). ``net`` maps the masked input to (s, t) stacked on the feature
    or channel axis.

    Shapes:
        (B, D) or (B, C, H, W) -> the same shape, and the log-determinant (B,).
    """

    def __init__(self, mask: torch.Tensor, net: nn.Module):
        super().__init__()
        self.register_buffer("mask", mask)
        self.net = net
        self.scale = nn.Parameter(torch.ones(mask.shape[0]))          # per feature or channel

    def _shift_scale(self, kept: torch.Tensor):
        s, t = self.net(kept).chunk(2, dim=1)                          # each the input's shape
        scale = self.scale.view(-1, *([1] * (kept.ndim - 2)))
        free = 1 - self.mask
        return free * scale * torch.tanh(s), free * t

    def forward(self, x):
        kept = x * self.mask
        s, t = self._shift_scale(kept)
        return kept + (1 - self.mask) * (x * s.exp() + t), s.flatten(1).sum(1)

    def inverse(self, y):
        kept = y * self.mask
        s, t = self._shift_scale(kept)
        return kept + (1 - self.mask) * (y - t) * torch.exp(-s)


def half_mask(features: int, flip: bool) -> torch.Tensor:
    """1 on the first half of the features (the second half when ``flip``)."""
    m = (torch.arange(features) < features // 2).float()
    return 1 - m if flip else m


def checkerboard(channels: int, side: int, flip: bool) -> torch.Tensor:
    """(C, S, S) a checkerboard of ones (pixels with even i + j; odd when ``flip``)."""
    i = torch.arange(side)
    board = ((i[:, None] + i[None, :]) % 2 == int(flip)).float()
    return board.expand(channels, side, side).clone()


def channel_mask(channels: int, flip: bool) -> torch.Tensor:
    """(C, 1, 1) ones on the first half of the channels (the second when ``flip``)."""
    return half_mask(channels, flip).view(channels, 1, 1)


@register_model("realnvp", config=RealNVPConfig, family="flow", presets={
    "tiny": {"in_features": 2, "couplings": 4, "hidden": 16},
    "moons": {"in_features": 2, "couplings": 8, "hidden": 64, "depth": 2},
    "digits": {"in_features": 0, "image_size": 8, "scale": 16, "couplings": 2, "hidden": 16,
               "depth": 1, "scales": 1},
    "mnist": {"in_features": 0, "image_size": 28, "couplings": 3, "hidden": 32, "depth": 2,
              "scales": 2},
})
class RealNVP(nn.Module):
    """RealNVP (Dinh et al. 2017): affine couplings with alternating masks over vectors, or
    over images in a checkerboard and, after each squeeze, over channels; optional ActNorm;
    exact log-likelihood by the change of variables, sampling by the inverse.

    Shapes:
        input (B, in_features) or (B, C, S, S) -> log-likelihood (B,) in nats.
    """

    task = "density"

    def __init__(self, config: RealNVPConfig):
        super().__init__()
        self.config = c = config
        if c.images and c.image_size % (2 ** c.scales):
            raise AnnError(f"model.scales={c.scales} squeezes need an image side divisible by "
                           f"{2 ** c.scales}, got {c.image_size}; use fewer scales")
        if not c.images and c.in_features < 2:
            raise AnnError("a coupling layer splits the features in two: RealNVP needs at "
                           f"least 2 features, got model.in_features={c.in_features}")
        self.steps = nn.ModuleList(self._vector_steps() if not c.images else self._image_steps())

    def _with_norm(self, shape, coupling) -> list[nn.Module]:
        return [ActNorm(shape), coupling] if self.config.actnorm else [coupling]

    def _vector_steps(self) -> list[nn.Module]:
        c, steps = self.config, []
        for k in range(c.couplings):
            coupling = AffineCoupling(half_mask(c.in_features, k % 2 == 1),
                                      mlp(c.in_features, c.hidden, c.depth))
            steps += self._with_norm((c.in_features,), coupling)
        return steps

    def _image_steps(self) -> list[nn.Module]:
        c, steps = self.config, []
        channels, side = c.in_channels, c.image_size
        for level in range(c.scales + 1):
            for k in range(c.couplings):                 # checkerboard couplings at this scale
                coupling = AffineCoupling(checkerboard(channels, side, k % 2 == 1),
                                          ResidualNet(channels, c.hidden, c.depth))
                steps += self._with_norm((channels, 1, 1), coupling)
            if level == c.scales:
                break
            steps.append(Squeeze())
            channels, side = 4 * channels, side // 2
            for k in range(c.couplings):                 # then channel couplings
                coupling = AffineCoupling(channel_mask(channels, k % 2 == 1),
                                          ResidualNet(channels, c.hidden, c.depth))
                steps += self._with_norm((channels, 1, 1), coupling)
        return steps

    # --- the data side of images: levels, dequantization, logit -----------------------------------
    @property
    def levels(self) -> int:
        return self.config.scale + 1

    def _to_logits(self, x: torch.Tensor, generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Standardised images to the logit space the couplings see, and the log-determinant
        (B,) of every step, the 1 / levels of the dequantized density included."""
        c = self.config
        k = torch.round((x * c.std + c.mean) * c.scale).clamp(0, c.scale)        # levels
        if generator is not None:
            noise = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        elif self.training:
            noise = torch.rand_like(x)
        else:
            noise = torch.full_like(x, 0.5)              # the bin's centre: a deterministic figure
        u = (k + noise) / self.levels                     # in (0, 1)
        v = c.alpha + (1 - 2 * c.alpha) * u
        y = torch.log(v) - torch.log1p(-v)
        logdet = math.log(1 - 2 * c.alpha) - torch.log(v) - torch.log1p(-v) - math.log(self.levels)
        return y, logdet.flatten(1).sum(1)

    def _from_logits(self, y: torch.Tensor) -> torch.Tensor:
        c = self.config
        return ((torch.sigmoid(y) - c.alpha) / (1 - 2 * c.alpha)).clamp(0, 1)   # pixels in [0, 1]

    # --- the flow --------------------------------------------------------------------------------
    def _check(self, x: torch.Tensor) -> torch.Tensor:
        c = self.config
        shape = (c.in_channels, c.image_size, c.image_size) if c.images else (c.in_features,)
        if tuple(x.shape[1:]) != shape:
            what = "images" if c.images else "vectors"
            raise AnnError(f"inputs have shape {tuple(x.shape[1:])} but this RealNVP reads {what} "
                           f"of shape {shape}; set model.in_features (or image_size) to match")
        return x if x.is_floating_point() else x.float()

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Data (already in the couplings' space) to the latent z and the summed
        log-determinant (B,)."""
        logdet = x.new_zeros(len(x))
        for step in self.steps:
            x, ld = step(x)
            logdet = logdet + ld
        return x, logdet

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        for step in reversed(self.steps):
            z = step.inverse(z)
        return z

    def log_prob(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Log-likelihood of each example (B,) in nats: of the vector's density, or of the
        discrete image (a dequantization bound)."""
        x = self._check(x)
        logdet = x.new_zeros(len(x))
        if self.config.images:
            x, logdet = self._to_logits(x, generator)
        z, ld = self.encode(x)
        z = z.flatten(1)                                  # (B, D)
        base = -0.5 * (z ** 2).sum(1) - 0.5 * z.shape[1] * math.log(2 * math.pi)
        return base + ld + logdet

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.log_prob(x)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None,
               temperature: float = 1.0) -> torch.Tensor:
        """``n`` samples: vectors (n, D), or images (n, C, S, S) with pixels in [0, 1]."""
        c = self.config
        device = next(self.parameters()).device
        shape = self._latent_shape()
        z = temperature * torch.randn(n, *shape, generator=generator, device=device)
        x = self.decode(z)
        return self._from_logits(x) if c.images else x

    def _latent_shape(self) -> tuple[int, ...]:
        c = self.config
        if not c.images:
            return (c.in_features,)
        f = 2 ** c.scales
        return (c.in_channels * f * f, c.image_size // f, c.image_size // f)

    def example_batch(self, batch_size: int, generator: torch.Generator):
        """Points tightly around two centres (a density a small flow fits closely, far below
        0 nats), or random black-or-white images; labels are the centre."""
        c = self.config
        y = torch.arange(batch_size) % 2
        if c.images:
            pixels = torch.rand(batch_size, c.in_channels, c.image_size, c.image_size,
                                generator=generator).round()
            return (pixels - c.mean) / c.std, y
        centres = torch.randn(2, c.in_features, generator=generator)
        return centres[y] + 0.05 * torch.randn(batch_size, c.in_features, generator=generator), y
