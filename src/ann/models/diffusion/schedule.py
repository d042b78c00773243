"""The noise schedule of a diffusion model and the two samplers that walk it back.

Forward process (Ho et al. 2020, eq. 4): x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps with
eps ~ N(0, I) and abar_t = prod_{s<=t} (1 - beta_s), t = 0 .. T-1 (0-based, as code counts).

Schedules of beta_t:

* ``linear``: beta from ``beta_start`` to ``beta_end`` evenly (Ho et al.: 1e-4 to 0.02, T = 1000);
* ``cosine``: abar(t) = f(t) / f(0), f(t) = cos(((t / T) + s) / (1 + s) * pi / 2)^2, s = 0.008,
  beta_t = min(1 - abar((t + 1) / T) / abar(t / T), 0.999) (Nichol & Dhariwal 2021, "Improved
  denoising diffusion probabilistic models", eq. 17), which destroys information more evenly.

What the network predicts (``parameterization``): ``epsilon``, the noise (Ho et al.), or ``v`` =
sqrt(abar) eps - sqrt(1 - abar) x_0 (Salimans & Ho 2022, "Progressive distillation", eq. 31);
both convert to a prediction of x_0 and of eps.

Samplers walk a descending list of timesteps t -> prev (prev = t - T / steps, "leading"
spacing: 0, k, 2k, ... reversed; prev < 0 means abar_prev = 1, the clean image):

* :meth:`NoiseSchedule.ddpm_step`: ancestral sampling from the posterior q(x_prev | x_t, x_0)
  with x_0 predicted (Ho et al., eq. 6-7; variance beta_tilde, "fixed small"); with fewer steps
  than T the betas are those of the strided chain, 1 - abar_t / abar_prev;
* :meth:`NoiseSchedule.ddim_step`: DDIM (Song, Meng & Ermon 2021, "Denoising diffusion implicit
  models", eq. 12): x_prev = sqrt(abar_prev) x0 + sqrt(1 - abar_prev - sigma^2) eps + sigma z,
  sigma = eta sqrt((1 - abar_prev) / (1 - abar_t)) sqrt(1 - abar_t / abar_prev); eta = 0 is
  deterministic, eta = 1 is the strided DDPM chain.

Shapes: x, model outputs and noise (B, C, H, W); timesteps (B,) int64 or one int per step.
"""

from __future__ import annotations

import math

import torch


def linear_betas(steps: int, start: float, end: float) -> torch.Tensor:
    """(T,) betas evenly spaced from ``start`` to ``end`` (Ho et al. 2020)."""
    return torch.linspace(start, end, steps, dtype=torch.float64)


def cosine_betas(steps: int, offset: float = 0.008, max_beta: float = 0.999) -> torch.Tensor:
    """(T,) betas of Nichol & Dhariwal's cosine schedule, clipped at ``max_beta`` near t = T."""
    f = lambda t: math.cos((t / steps + offset) / (1 + offset) * math.pi / 2) ** 2  # noqa: E731
    return torch.tensor([min(1 - f(i + 1) / f(i), max_beta) for i in range(steps)],
                        dtype=torch.float64)


class NoiseSchedule:
    """abar_t of a schedule (float64 on the CPU; gathered per example onto x's device) and the
    formulas that use it."""

    def __init__(self, kind: str, steps: int, beta_start: float = 1e-4, beta_end: float = 0.02):
        betas = (linear_betas(steps, beta_start, beta_end) if kind == "linear"
                 else cosine_betas(steps))
        self.steps = steps
        self.betas = betas                                     # (T,)
        self.alphas_cumprod = torch.cumprod(1 - betas, 0)      # (T,) abar_t

    def abar(self, t, like: torch.Tensor) -> torch.Tensor:
        """abar at timesteps ``t`` (an int or (B,) tensor; negative: 1, the clean image),
        shaped to broadcast against ``like`` (B, 1, 1, 1) in its dtype and device."""
        t = torch.as_tensor(t).cpu().reshape(-1)
        a = torch.where(t >= 0, self.alphas_cumprod[t.clamp_min(0)], torch.ones((), dtype=torch.float64))
        return a.to(like.device, like.dtype).reshape(-1, *([1] * (like.dim() - 1)))

    # -- the forward process and the parameterisations ---------------------------------------
    def add_noise(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """x_t from clean images, noise and timesteps (Ho et al., eq. 4)."""
        a = self.abar(t, x0)
        return a.sqrt() * x0 + (1 - a).sqrt() * noise

    def velocity(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """The v target, sqrt(abar) eps - sqrt(1 - abar) x_0 (Salimans & Ho 2022)."""
        a = self.abar(t, x0)
        return a.sqrt() * noise - (1 - a).sqrt() * x0

    def predictions(self, out: torch.Tensor, x: torch.Tensor, t, kind: str):
        """(x_0, eps) predicted from the network's output at x_t: ``kind`` is ``epsilon`` or
        ``v``."""
        a = self.abar(t, x)
        if kind == "epsilon":
            return (x - (1 - a).sqrt() * out) / a.sqrt(), out
        return a.sqrt() * x - (1 - a).sqrt() * out, a.sqrt() * out + (1 - a).sqrt() * x

    # -- sampling ------------------------------------------------------------------------------
    def timesteps(self, n: int) -> list[int]:
        """``n`` timesteps from high to low with "leading" spacing: k (n-1), ..., k, 0 where
        k = T // n (Song et al.'s uniform skip)."""
        k = self.steps // n
        return [i * k for i in reversed(range(n))]

    def ddpm_step(self, out, x, t: int, prev: int, kind: str, noise: torch.Tensor,
                  clip: bool = True) -> torch.Tensor:
        """One ancestral step x_t -> x_prev: the mean of q(x_prev | x_t, x_0) plus
        sqrt(beta_tilde) times ``noise`` (none at t = 0)."""
        a_t, a_prev = self.abar(t, x), self.abar(prev, x)
        x0, _ = self.predictions(out, x, t, kind)
        if clip:
            x0 = x0.clamp(-1, 1)
        beta = 1 - a_t / a_prev                                       # the strided chain's beta_t
        mean = (a_prev.sqrt() * beta * x0 + (1 - beta).sqrt() * (1 - a_prev) * x) / (1 - a_t)
        if t == 0:
            return mean
        var = ((1 - a_prev) / (1 - a_t) * beta).clamp_min(1e-20)      # beta_tilde, eq. 7
        return mean + var.sqrt() * noise

    def ddim_step(self, out, x, t: int, prev: int, kind: str, eta: float = 0.0,
                  noise: torch.Tensor | None = None, clip: bool = True) -> torch.Tensor:
        """One DDIM step x_t -> x_prev (Song et al., eq. 12); ``noise`` is needed when eta > 0.
        With ``clip`` the predicted x_0 is clipped to [-1, 1] and eps recomputed from it, so
        that the step's two terms agree (diffusers' ``use_clipped_model_output``)."""
        a_t, a_prev = self.abar(t, x), self.abar(prev, x)
        x0, eps = self.predictions(out, x, t, kind)
        if clip:
            x0 = x0.clamp(-1, 1)
            eps = (x - a_t.sqrt() * x0) / (1 - a_t).sqrt()
        sigma = eta * ((1 - a_prev) / (1 - a_t) * (1 - a_t / a_prev)).sqrt()
        x_prev = a_prev.sqrt() * x0 + (1 - a_prev - sigma ** 2).clamp_min(0).sqrt() * eps
        return x_prev + sigma * noise if eta > 0 else x_prev
