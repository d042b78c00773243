"""Spiking networks: leaky integrate-and-fire neurons trained through time with surrogate gradients."""

from .snn import SNNConfig, SpikingNet

__all__ = ["SNNConfig", "SpikingNet"]
