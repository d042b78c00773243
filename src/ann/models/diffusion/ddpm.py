"""A denoising diffusion model: DDPM (Ho, Jain & Abbeel 2020, "Denoising diffusion probabilistic
models", https://arxiv.org/abs/2006.11239) sampled by DDPM's ancestral chain or by DDIM (Song,
Meng & Ermon 2021, https://arxiv.org/abs/2010.02502), optionally class-conditional with
classifier-free guidance (Ho & Salimans 2022, https://arxiv.org/abs/2207.12598).

Training draws t uniformly from 0..T-1 and noise eps, forms x_t (schedule.py) and regresses the
network's output on eps (or on v, Salimans & Ho 2022) with the mean squared error: Ho et al.'s
"simple" loss, a reweighted variational bound.

The network is a small U-Net (Ronneberger et al. 2015, as Ho et al. use it): residual blocks
with group norm and SiLU at each resolution of ``widths``, a stride-2 convolution down between
resolutions and nearest upsampling back, skip connections concatenated on the way up; the
timestep enters through a sinusoidal embedding (Vaswani et al. 2017) and an MLP, added to every
block as a per-channel bias. The class enters the same way through a label embedding with one
extra row, the null label: conditional training replaces the class by it with probability
``label_dropout``, so one network learns both eps(x, t, y) and eps(x, t); sampling then uses
eps_null + guidance (eps_y - eps_null) (guidance 1: conditional, 0: unconditional; Ho &
Salimans write w = guidance - 1). An unconditional model always reads the null label.

A moving average of the weights (``ema``; Ho et al. use 0.9999) draws the samples and the
evaluation, as in the paper; the trained network takes the gradient steps.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
from torch import nn

from ...config import field, validate
from ...errors import AnnError
from ...registry import register_model
from ..inputs import LabelledImageInput
from .schedule import NoiseSchedule


@dataclass
class DDPMConfig(LabelledImageInput):
    mean: float = field(0.0, "mean the images were standardised with (filled from the dataset)")
    std: float = field(1.0, "std the images were standardised with (filled from the dataset)",
                       positive=True)
    widths: tuple[int, ...] = field((32, 64), "U-Net channels at each resolution, halving the "
                                    "side between them", positive=True)
    blocks: int = field(1, "residual blocks at each resolution on the way down (one more up)",
                        positive=True)
    dropout: float = field(0.0, "dropout inside the residual blocks", range=(0.0, 0.9))
    timesteps: int = field(1000, "diffusion steps T of the forward process", positive=True)
    schedule: str = field("linear", "beta schedule: linear (Ho et al.) or cosine (Nichol & "
                          "Dhariwal)", choices=("linear", "cosine"))
    beta_start: float = field(1e-4, "linear schedule: the first beta", range=(0.0, 1.0))
    beta_end: float = field(0.02, "linear schedule: the last beta", range=(0.0, 1.0))
    prediction: str = field("epsilon", "what the network predicts: the noise (epsilon) or v",
                            choices=("epsilon", "v"))
    conditional: bool = field(False, "read the class label (classifier-free guidance at sampling)")
    label_dropout: float = field(0.1, "conditional: probability that training replaces a label "
                                 "by the null label", range=(0.0, 1.0))
    guidance: float = field(1.5, "conditional: guidance scale s of eps_null + s (eps_y - "
                            "eps_null) (1: no guidance)", range=(0.0, 100.0))
    sampler: str = field("ddim", "sampler: ddim (few steps) or ddpm (ancestral)",
                         choices=("ddim", "ddpm"))
    sample_steps: int = field(50, "denoising steps when sampling (at most timesteps)",
                              positive=True)
    eta: float = field(0.0, "DDIM: noise of each step (0: deterministic, 1: DDPM-like)",
                       range=(0.0, 1.0))
    clip: bool = field(True, "clip the predicted clean image to [-1, 1] at each sampling step")
    ema: float = field(0.999, "decay of the moving average of the weights that samples (0: off)",
                       range=(0.0, 1.0))

    def __post_check__(self):
        side = 2 ** (len(self.widths) - 1)
        if self.image_size % side:
            raise AnnError(f"a U-Net of {len(self.widths)} widths halves the image side "
                           f"{len(self.widths) - 1} times: image_size {self.image_size} must be "
                           f"divisible by {side}; give model.widths fewer entries")
        if self.sample_steps > self.timesteps:
            raise AnnError(f"model.sample_steps={self.sample_steps} exceeds model.timesteps="
                           f"{self.timesteps}")
        if self.schedule == "linear" and not 0 < self.beta_start < self.beta_end < 1:
            raise AnnError("the linear schedule needs 0 < model.beta_start < model.beta_end < 1")
        if self.ema >= 1:
            raise AnnError(f"model.ema is a decay below 1 (e.g. 0.999), got {self.ema}")


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal features (B, dim) of timesteps (B,) (Vaswani et al. 2017, section 3.5)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device) / half)
    angles = t.float()[:, None] * freqs[None]                         # (B, dim / 2)
    return torch.cat([angles.sin(), angles.cos()], dim=1)


def norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(math.gcd(channels, 8), channels)


class ResBlock(nn.Module):
    """norm-SiLU-conv, plus the embedding as a per-channel bias, norm-SiLU-dropout-conv, and a
    skip (a 1x1 convolution when the width changes). (B, cin, H, W), (B, E) -> (B, cout, H, W)."""

    def __init__(self, cin: int, cout: int, emb: int, dropout: float):
        super().__init__()
        self.conv1 = nn.Sequential(norm(cin), nn.SiLU(), nn.Conv2d(cin, cout, 3, padding=1))
        self.emb = nn.Sequential(nn.SiLU(), nn.Linear(emb, cout))
        self.conv2 = nn.Sequential(norm(cout), nn.SiLU(), nn.Dropout(dropout),
                                   nn.Conv2d(cout, cout, 3, padding=1))
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        h = self.conv1(x) + self.emb(e)[:, :, None, None]             # (B, cout, H, W)
        return self.skip(x) + self.conv2(h)


class UNet(nn.Module):
    """Noisy images (B, C, S, S), timesteps (B,) and labels (B,) (``num_classes`` is the null
    label) -> a prediction (B, C, S, S) of the noise or of v."""

    def __init__(self, c: DDPMConfig):
        super().__init__()
        w0, emb = c.widths[0], 4 * c.widths[0]
        self.time = nn.Sequential(nn.Linear(w0, emb), nn.SiLU(), nn.Linear(emb, emb))
        self.label = nn.Embedding(c.num_classes + 1, emb)
        self.stem = nn.Conv2d(c.in_channels, w0, 3, padding=1)
        self.down, self.up = nn.ModuleList(), nn.ModuleList()
        widths, skips, prev = list(c.widths), [w0], w0
        for i, w in enumerate(widths):            # blocks, then a stride-2 conv (not the last)
            for _ in range(c.blocks):
                self.down.append(ResBlock(prev, w, emb, c.dropout))
                skips.append(prev := w)
            if i < len(widths) - 1:
                self.down.append(nn.Conv2d(w, w, 3, stride=2, padding=1))
                skips.append(w)
        self.middle = nn.ModuleList([ResBlock(prev, prev, emb, c.dropout) for _ in range(2)])
        for i, w in reversed(list(enumerate(widths))):   # one block per skip, then upsample
            for _ in range(c.blocks + 1):
                self.up.append(ResBlock(prev + skips.pop(), w, emb, c.dropout))
                prev = w
            if i > 0:
                self.up.append(nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"),
                                             nn.Conv2d(w, w, 3, padding=1)))
        self.out = nn.Sequential(norm(w0), nn.SiLU(), nn.Conv2d(w0, c.in_channels, 3, padding=1))
        self.width = w0

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        e = self.time(timestep_embedding(t, self.width)) + self.label(y)    # (B, E)
        h = self.stem(x)                                                     # (B, w0, S, S)
        skips = [h]
        for layer in self.down:
            h = layer(h, e) if isinstance(layer, ResBlock) else layer(h)
            skips.append(h)
        for layer in self.middle:
            h = layer(h, e)
        for layer in self.up:
            if isinstance(layer, ResBlock):
                h = layer(torch.cat([h, skips.pop()], dim=1), e)             # (B, w_in + w_skip, ...)
            else:
                h = layer(h)                                                 # side doubled
        return self.out(h)


@register_model("ddpm", config=DDPMConfig, family="diffusion", presets={
    "tiny": {"widths": (8, 16), "timesteps": 50, "sample_steps": 5, "conditional": True,
             "ema": 0.0},
    "digits": {"widths": (16, 32), "blocks": 1, "conditional": True},
    "mnist": {"widths": (32, 64, 128), "blocks": 1, "conditional": True},
})
class DDPM(nn.Module):
    """A DDPM/DDIM diffusion model with a small U-Net and optional classifier-free guidance.

    Shapes:
        noisy images (B, C, S, S), timesteps (B,), labels (B,) -> predicted noise or v
        (B, C, S, S); ``sample(n)`` -> images (n, C, S, S) in [0, 1].
    """

    task = "diffusion"
    variational = True      # the contract tests expect its loss to fall, not to reach 0

    def __init__(self, config: DDPMConfig):
        super().__init__()
        validate(config)
        self.config = c = config
        self.schedule = NoiseSchedule(c.schedule, c.timesteps, c.beta_start, c.beta_end)
        self.unet = UNet(c)                    # PyTorch's default initialisation
        if c.ema > 0:
            self.unet_ema = copy.deepcopy(self.unet).requires_grad_(False)

    @property
    def conditional(self) -> bool:
        return self.config.conditional

    @property
    def drawer(self) -> nn.Module:
        """The network that samples and is evaluated: the averaged one when there is one."""
        return self._modules.get("unet_ema", self.unet)

    def to_unit(self, x: torch.Tensor) -> torch.Tensor:
        """Standardised images to [-1, 1]."""
        return (x * self.config.std + self.config.mean) * 2 - 1

    def null(self, n: int, device) -> torch.Tensor:
        return torch.full((n,), self.config.num_classes, dtype=torch.long, device=device)

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None):
        """The trained network's prediction at noisy ``x`` (B, C, S, S), timesteps ``t`` (B,)
        and labels ``y`` (B,) (None, or an unconditional model: the null label)."""
        return self.unet(x, t, y if self.conditional and y is not None else self.null(len(x), x.device))

    # -- training ---------------------------------------------------------------------------------
    def losses(self, batch, generator=None, net: nn.Module | None = None) -> torch.Tensor:
        """Per-example squared error (B,) of the prediction of eps (or v) at a random timestep,
        by ``net`` (default: the trained network); random draws from ``generator``."""
        c, x0 = self.config, self.to_unit(batch[0])
        n, dev = len(x0), x0.device
        t = torch.randint(0, c.timesteps, (n,), generator=generator, device=dev)
        noise = torch.randn(x0.shape, generator=generator, device=dev, dtype=x0.dtype)
        y = self.null(n, dev)
        if self.conditional:
            y = batch[1]
            if self.training and c.label_dropout > 0:     # classifier-free guidance's dropout
                drop = torch.rand(n, generator=generator, device=dev) < c.label_dropout
                y = torch.where(drop, self.null(n, dev), y)
        target = noise if c.prediction == "epsilon" else self.schedule.velocity(x0, noise, t)
        out = (net or self.unet)(self.schedule.add_noise(x0, noise, t), t, y)
        return (out.float() - target.float()).pow(2).flatten(1).mean(1)

    def configure_optimizers(self, tc) -> dict[str, torch.optim.Optimizer]:
        """AdamW on the trained network (``train.lr``, betas, weight decay); ``train.grad_clip``
        clips its gradient norm (Ho et al. clip at 1)."""
        if tc.optimizer != "adamw":
            raise AnnError("ddpm trains with AdamW; set train.optimizer=adamw")
        self.grad_clip = tc.grad_clip
        return {"unet": torch.optim.AdamW(self.unet.parameters(), tc.lr, (tc.beta1, tc.beta2),
                                          weight_decay=tc.weight_decay)}

    def training_step(self, batch, optimizers, step: int) -> dict[str, float]:
        """One AdamW step on the denoising loss (noise from the global RNG, checkpointed), then
        one step of the moving average."""
        opt = optimizers["unet"]
        loss = self.losses(batch).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if getattr(self, "grad_clip", 0) > 0:
            nn.utils.clip_grad_norm_(self.unet.parameters(), self.grad_clip)
        opt.step()
        self.update_average(step)
        return {"loss": loss.item()}

    @torch.no_grad()
    def update_average(self, step: int):
        """ema <- d ema + (1 - d) weights, d = min(ema, (1 + step) / (10 + step)) so that the
        first steps do not average in the random start."""
        if "unet_ema" not in self._modules:
            return
        d = min(self.config.ema, (1 + step) / (10 + step))
        for avg, now in zip(self.unet_ema.parameters(), self.unet.parameters()):
            avg.lerp_(now, 1 - d)

    @torch.no_grad()
    def evaluate_split(self, batches) -> dict[str, float]:
        """The mean denoising loss of the sampling network over a split, timesteps and noise
        drawn from a generator seeded with 0 (comparable from evaluation to evaluation)."""
        total, count, g = 0.0, 0, None
        for batch in batches:
            if g is None:
                g = torch.Generator(device=batch[0].device).manual_seed(0)
            total += self.losses(batch, g, self.drawer).sum().item()
            count += len(batch[0])
        return {"loss": total / max(count, 1)}

    def example_batch(self, batch_size: int, generator: torch.Generator):
        """A random batch ``(x, y)``: uniform pixels (standardised) and random labels."""
        c = self.config
        u = torch.rand(batch_size, c.in_channels, c.image_size, c.image_size, generator=generator)
        return (u - c.mean) / c.std, torch.randint(0, c.num_classes, (batch_size,),
                                                   generator=generator)

    def forward_inputs(self, batch) -> tuple:
        """Deterministic arguments of ``forward`` for a batch: its images noised halfway
        (t = T / 2, noise seeded with 0) and its labels."""
        x0 = self.to_unit(batch[0])
        g = torch.Generator(device=x0.device).manual_seed(0)
        noise = torch.randn(x0.shape, generator=g, device=x0.device, dtype=x0.dtype)
        t = torch.full((len(x0),), self.config.timesteps // 2, device=x0.device)
        return self.schedule.add_noise(x0, noise, t), t, batch[1]

    # -- sampling ---------------------------------------------------------------------------------
    def guided(self, x: torch.Tensor, t: int, y: torch.Tensor, guidance: float) -> torch.Tensor:
        """The sampling network's output at x_t for labels ``y``; conditional with guidance
        != 1: eps_null + guidance (eps_y - eps_null), both halves in one batch."""
        ts = torch.full((len(x),), t, device=x.device, dtype=torch.long)
        if not self.conditional:
            return self.drawer(x, ts, self.null(len(x), x.device))
        if guidance == 1:
            return self.drawer(x, ts, y)
        both = self.drawer(torch.cat([x, x]), torch.cat([ts, ts]),
                           torch.cat([y, self.null(len(x), x.device)]))    # (2B, C, S, S)
        cond, free = both.chunk(2)
        return free + guidance * (cond - free)

    @torch.no_grad()
    def denoise(self, n: int, generator=None, label: int | None = None, steps: int | None = None,
                guidance: float | None = None, keep: int = 0) -> list[torch.Tensor]:
        """Walk ``n`` images from x_T ~ N(0, I) to x_0 with the configured sampler in ``steps``
        steps; returns [x_0], or with ``keep`` > 1 that many states from x_T to x_0 evenly
        along the chain, each (n, C, S, S) in [0, 1]. A conditional model draws ``label`` or,
        without one, the classes in turn."""
        c, s = self.config, self.schedule
        steps = c.sample_steps if steps is None else steps
        if not 1 <= steps <= c.timesteps:
            raise AnnError(f"--steps must be between 1 and the model's {c.timesteps} timesteps, "
                           f"got {steps}")
        guidance = c.guidance if guidance is None else guidance
        dev = next(self.parameters()).device
        shape = (n, c.in_channels, c.image_size, c.image_size)
        x = torch.randn(shape, generator=generator, device=dev)
        y = (torch.full((n,), label, dtype=torch.long, device=dev) if label is not None
             else torch.arange(n, device=dev) % c.num_classes)
        kept = {round(i * steps / (keep - 1)) for i in range(keep)} if keep > 1 else {steps}
        states = [x] if 0 in kept else []                 # state i: after i steps (0: x_T)
        noisy = c.sampler == "ddpm" or c.eta > 0
        for i, t in enumerate(s.timesteps(steps), start=1):
            prev = t - c.timesteps // steps
            out = self.guided(x, t, y, guidance)
            z = torch.randn(shape, generator=generator, device=dev) if noisy else None
            if c.sampler == "ddpm":
                x = s.ddpm_step(out, x, t, prev, c.prediction, z, c.clip)
            else:
                x = s.ddim_step(out, x, t, prev, c.prediction, c.eta, z, c.clip)
            if i in kept:
                states.append(x)
        return [(v.clamp(-1, 1) + 1) / 2 for v in states]

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, label: int | None = None,
               steps: int | None = None, guidance: float | None = None) -> torch.Tensor:
        """``n`` images (n, C, S, S) in [0, 1] (see :meth:`denoise`)."""
        return self.denoise(n, generator, label, steps, guidance)[0]
