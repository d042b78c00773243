"""GANs: DCGAN, the conditional DCGAN, SRGAN and CycleGAN; importing this package registers them."""

from . import cgan, cyclegan, dcgan, srgan

__all__ = ["cgan", "cyclegan", "dcgan", "srgan"]
