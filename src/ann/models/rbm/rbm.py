"""The restricted Boltzmann machine trained by contrastive divergence (Hinton 2002, "Training
products of experts by minimizing contrastive divergence", Neural Computation 14(8),
https://doi.org/10.1162/089976602760128018), and by persistent contrastive divergence
(Tieleman 2008, "Training restricted Boltzmann machines using approximations to the likelihood
gradient", ICML, https://doi.org/10.1145/1390156.1390290).

V binary visible units (the pixels, read as probabilities in [0, 1]) and H binary hidden units
with weights W (H, V), visible biases b and hidden biases c define ``p(v, h) ~ exp(-E)``,
``E(v, h) = -b.v - c.h - h.W v``. Given one layer the other's units are independent:
``p(h_j = 1 | v) = sigmoid(c_j + W_j. v)`` and ``p(v_i = 1 | h) = sigmoid(b_i + W_.i . h)``, so
Gibbs sampling alternates whole layers. Summing h out gives the free energy
``F(v) = -b.v - sum_j softplus(c_j + W_j. v)``.

The log-likelihood gradient is the data's expectation of ``v h^T`` less the model's; CD-k
estimates the model's from k Gibbs steps started at the data, PCD from chains kept running
across updates (``persistent``). Both updates are the gradient of ``mean F(v_data) - mean
F(v_neg)`` with the negative samples held fixed, which is how :meth:`RBMLayer.cd_loss` hands
them to autograd: any optimizer of the loop then takes CD steps (plain SGD: exactly the update
of Hinton's guide and of scikit-learn's ``BernoulliRBM``).

The pseudo-likelihood of :meth:`RBMLayer.pseudo_likelihood` is the stochastic one
scikit-learn reports: ``V log sigmoid(F(v~) - F(v))`` with one random unit of each v flipped.

Shapes:
    images (B, C, H, W), normalised as the dataset gives them -> hidden probabilities (B, n_hidden).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ...config import field
from ...registry import register_model
from ..inputs import ImageInput


class RBMLayer(nn.Module):
    """One Bernoulli-Bernoulli RBM: the energy, conditionals, Gibbs steps and the CD loss.

    Shapes:
        v (B, V) in [0, 1] <-> h (B, H) in [0, 1].
    """

    def __init__(self, n_visible: int, n_hidden: int, init_std: float = 0.01):
        super().__init__()
        # Small random weights and zero biases (Hinton 2010, "A practical guide to training
        # restricted Boltzmann machines", section 8).
        self.weight = nn.Parameter(torch.randn(n_hidden, n_visible) * init_std)   # (H, V)
        self.v_bias = nn.Parameter(torch.zeros(n_visible))                         # (V,)
        self.h_bias = nn.Parameter(torch.zeros(n_hidden))                          # (H,)

    def hidden_probs(self, v: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(v @ self.weight.T + self.h_bias)                      # (B, H)

    def visible_probs(self, h: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(h @ self.weight + self.v_bias)                        # (B, V)

    @staticmethod
    def sample(p: torch.Tensor, generator=None, uniform: torch.Tensor | None = None):
        """Bernoulli samples of probabilities ``p``: 1 where a uniform draw falls below p."""
        u = torch.rand(p.shape, generator=generator, device=p.device) if uniform is None else uniform
        return (u < p).to(p.dtype)

    def free_energy(self, v: torch.Tensor) -> torch.Tensor:
        """``F(v) = -b.v - sum_j softplus(c_j + W_j. v)`` of each row (B,)."""
        return -(v @ self.v_bias) - F.softplus(v @ self.weight.T + self.h_bias).sum(-1)

    @torch.no_grad()
    def gibbs(self, v: torch.Tensor, k: int, generator=None) -> torch.Tensor:
        """k steps v -> h (sampled) -> v (sampled) from ``v`` (B, V); binary states (B, V)."""
        for _ in range(k):
            h = self.sample(self.hidden_probs(v), generator)
            v = self.sample(self.visible_probs(h), generator)
        return v

    def cd_loss(self, v_pos: torch.Tensor, v_neg: torch.Tensor) -> torch.Tensor:
        """``mean F(v_pos) - mean F(v_neg)``, negatives held fixed: its gradient is minus the
        CD update ``<v h>_data - <v h>_model`` (with ``h`` the hidden probabilities)."""
        return self.free_energy(v_pos).mean() - self.free_energy(v_neg.detach()).mean()

    @torch.no_grad()
    def pseudo_likelihood(self, v: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """``V log sigmoid(F(v~) - F(v))`` per row (B,), ``v~`` = v with unit ``index[b]`` of
        row b flipped to 1 - v (scikit-learn's ``BernoulliRBM.score_samples``)."""
        rows = torch.arange(len(v), device=v.device)
        flipped = v.clone()
        flipped[rows, index] = 1 - flipped[rows, index]
        return v.shape[1] * F.logsigmoid(self.free_energy(flipped) - self.free_energy(v))


@dataclass
class RBMConfig(ImageInput):
    n_hidden: int = field(100, "hidden units", positive=True)
    k: int = field(1, "Gibbs steps per update (CD-k; PCD: steps of the chains per update)",
                   positive=True)
    persistent: bool = field(False, "persistent CD (Tieleman 2008): negatives from chains kept "
                             "across updates, not restarted at the data")
    n_chains: int = field(100, "persistent chains (fantasy particles)", positive=True)
    init_std: float = field(0.01, "std of the initial weights", positive=True)
    mean: float = field(0.0, "the dataset's pixel mean, undone to read pixels in [0, 1] (filled)")
    std: float = field(1.0, "the dataset's pixel std, undone likewise (filled)", positive=True)


@register_model("rbm", config=RBMConfig, family="rbm", presets={
    "tiny": {"n_hidden": 16, "n_chains": 8, "image_size": 4},
    "pcd": {"persistent": True},
    "mnist": {"image_size": 28, "n_hidden": 500, "persistent": True},
})
class RBM(nn.Module):
    """A Bernoulli RBM over an image's pixels, trained by CD-k or PCD through the loop.

    Shapes:
        input (B, C, H, W) -> hidden probabilities (B, n_hidden).
    """

    task = "boltzmann"

    def __init__(self, config: RBMConfig):
        super().__init__()
        self.config = c = config
        n_visible = c.in_channels * c.image_size * c.image_size
        self.layer = RBMLayer(n_visible, c.n_hidden, c.init_std)
        # PCD's fantasy particles, started at random binary states; part of the state_dict, so a
        # resumed run continues the same chains.
        self.register_buffer("chains", (torch.rand(c.n_chains, n_visible) < 0.5).float())

    def visible(self, x: torch.Tensor) -> torch.Tensor:
        """Pixels in [0, 1] (B, V) from images as the dataset normalised them (B, C, H, W)."""
        return (x.flatten(1).float() * self.config.std + self.config.mean).clamp(0, 1)

    def negatives(self, v: torch.Tensor) -> torch.Tensor:
        """The negative samples of one update: k Gibbs steps from the data (CD-k), or from the
        persistent chains, which keep the result (PCD)."""
        if not self.config.persistent:
            return self.layer.gibbs(v, self.config.k)
        with torch.no_grad():
            self.chains = self.layer.gibbs(self.chains, self.config.k)
        return self.chains

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer.hidden_probs(self.visible(x))                   # (B, n_hidden)

    def example_batch(self, batch_size: int, generator: torch.Generator | None):
        """``(x, y)``: random binary images (B, C, H, W) (a third of the pixels on), labels 0."""
        c = self.config
        x = (torch.rand(batch_size, c.in_channels, c.image_size, c.image_size,
                        generator=generator) < 0.3).float()
        return x, torch.zeros(batch_size, dtype=torch.int64)
