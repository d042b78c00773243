"""Autoencoders: fully connected, convolutional, denoising and variational; importing this
package registers them."""

from . import ae, conv_ae, dae, vae

__all__ = ["ae", "conv_ae", "dae", "vae"]
