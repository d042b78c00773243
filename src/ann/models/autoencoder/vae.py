"""A variational autoencoder (Kingma & Welling 2014, "Auto-encoding variational Bayes",
https://arxiv.org/abs/1312.6114), with the beta weight of Higgins et al. 2017 (beta-VAE).

The encoder gives a diagonal Gaussian q(z|x) = N(mu, diag(exp(logvar))); a code is drawn by
reparameterisation, z = mu + exp(logvar / 2) * eps with eps ~ N(0, I); the decoder gives
p(x|z): Bernoulli logits for pixels in [0, 1] (the binary cross-entropy against grey levels, as
pytorch/examples' VAE does) or a unit-variance Gaussian mean. The loss per example is
-log p(x|z) + beta KL(q(z|x) || N(0, I)) in nats; with beta = 1 it is the negative ELBO, an upper
bound on -log p(x), which evaluation reports as ``nelbo`` whatever beta is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ...config import field, validate
from ...errors import AnnError
from ...layers import MLP, Linear
from ...registry import register_model
from .common import Autoencoder, AutoencoderInput, conv_decoder, conv_encoder, init_weights, smallest_side


@dataclass
class VAEConfig(AutoencoderInput):
    arch: str = field("conv", "encoder and decoder: convolutional or fully connected",
                      choices=("conv", "mlp"))
    widths: tuple[int, ...] = field((16, 32), "conv: channels of each stride-2 stage",
                                    positive=True)
    hidden: tuple[int, ...] = field((400,), "mlp: widths of the hidden layers (conv: one hidden "
                                    "layer of hidden[0] after the convolutions)", positive=True)
    latent: int = field(20, "size of the latent code z", positive=True)
    beta: float = field(1.0, "weight of the KL term (1: the ELBO; beta-VAE uses more)",
                        range=(0.0, 100.0))
    likelihood: str = field("bernoulli", "decoder distribution: bernoulli (pixels in [0, 1]) "
                            "or gaussian (unit variance)", choices=("bernoulli", "gaussian"))
    activation: str = field("relu", "activation of the hidden layers",
                            choices=("relu", "gelu", "silu"))

    def __post_check__(self):
        if self.arch == "conv" and self.in_features:
            raise AnnError("vae arch=conv reads images; set model.arch=mlp for tabular data")
        if self.likelihood == "bernoulli" and self.in_features:
            raise AnnError("a Bernoulli decoder models values in [0, 1]; set "
                           "model.likelihood=gaussian for tabular data")


@register_model("vae", config=VAEConfig, family="autoencoder", presets={
    "tiny": {"arch": "conv", "widths": (4, 8), "hidden": (16,), "latent": 2},
    "mlp": {"arch": "mlp", "hidden": (400,), "latent": 20},     # pytorch/examples' 784-400-20
    "mnist": {"arch": "conv", "widths": (32, 64), "hidden": (256,), "latent": 20},
})
class VAE(Autoencoder):
    """Variational autoencoder with a Gaussian encoder and a Bernoulli or Gaussian decoder.

    Shapes:
        input (B, C, S, S) or (B, D) -> (mu, logvar) each (B, latent) -> reconstruction like the
        input; ``sample(n)`` -> (n, C, S, S).
    """

    variational = True      # the contract tests expect the loss to fall, not to reach 0

    def __init__(self, config: VAEConfig):
        super().__init__()
        validate(config)
        self.config = c = config
        d, h = math.prod(c.shape), c.hidden[0]
        if c.arch == "conv":
            side = smallest_side(c, c.widths)
            self.encoder = torch.nn.Sequential(
                conv_encoder(c, c.widths, c.activation),
                MLP((c.widths[-1] * side * side, h, 2 * c.latent), activation=c.activation))
            self.decoder = torch.nn.Sequential(
                Linear(c.latent, h), torch.nn.ReLU(), conv_decoder(c, c.widths, c.activation, h))
        else:
            self.encoder = MLP((d, *c.hidden, 2 * c.latent), activation=c.activation)
            self.decoder = MLP((c.latent, *reversed(c.hidden), d), activation=c.activation)
        self.apply(init_weights)

    def output(self, h):
        return torch.sigmoid(h) if self.config.likelihood == "bernoulli" else h

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu, logvar) of q(z|x), each (B, latent)."""
        h = self.encoder(x if self.config.arch == "conv" else x.flatten(1))
        mu, logvar = h.chunk(2, dim=-1)
        return mu, logvar.clamp(-30.0, 20.0)

    def encode(self, x):
        return self.posterior(x)[0]                          # the posterior mean, (B, latent)

    def losses(self, x, generator=None):
        """Per-example terms in nats, (B,): ``loss`` (reconstruction + beta KL), ``nelbo``
        (reconstruction + KL), ``recon``, ``kl`` and ``mse`` (of the mean, data space)."""
        mu, logvar = self.posterior(x)
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        z = mu + torch.exp(0.5 * logvar) * eps               # reparameterisation, (B, latent)
        h = self.decode(z).float()
        target = self.to_data(x).float()
        if self.config.likelihood == "bernoulli":
            recon = F.binary_cross_entropy_with_logits(h, target, reduction="none")
        else:  # -log N(target; h, 1)
            recon = 0.5 * (h - target).pow(2) + 0.5 * math.log(2 * math.pi)
        recon = recon.flatten(1).sum(1)
        kl = 0.5 * (mu.float().pow(2) + logvar.float().exp() - 1 - logvar.float()).sum(1)
        mse = (self.output(h) - target).pow(2).flatten(1).mean(1)
        return {"loss": recon + self.config.beta * kl, "nelbo": (recon + kl).detach(),
                "recon": recon.detach(), "kl": kl.detach(), "mse": mse.detach()}

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` images decoded from z ~ N(0, I), in data space."""
        device = next(self.parameters()).device
        z = torch.randn(n, self.config.latent, generator=generator, device=device)
        return self.output(self.decode(z))
