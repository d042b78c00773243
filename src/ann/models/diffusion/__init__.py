"""Diffusion models: DDPM with DDIM sampling and classifier-free guidance; importing this package
registers them."""

from . import ddpm, schedule

__all__ = ["ddpm", "schedule"]
