"""Neural ODEs (Chen et al. 2018): readable ODE solvers with adjoint gradients, ODE-Net for
images and the latent ODE for irregularly sampled series."""

from .latent_ode import LatentODE, LatentODEConfig
from .odenet import ODENet, ODENetConfig
from .solvers import odeint, odeint_adjoint

__all__ = ["LatentODE", "LatentODEConfig", "ODENet", "ODENetConfig", "odeint", "odeint_adjoint"]
