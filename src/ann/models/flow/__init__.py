"""Normalizing flows: invertible networks with an exact log-likelihood."""

from .realnvp import RealNVP, RealNVPConfig

__all__ = ["RealNVP", "RealNVPConfig"]
