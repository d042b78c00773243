"""Recipes of the gan family.

Generative adversarial networks: DCGAN, conditional, super-resolution, CycleGAN.
"""

from . import Recipe, TourStop, add

# GANs (task "adversarial"): the model steps its two players itself (engine hook
# `training_step`); samples are judged by ann's own classifier for the dataset (ann.tasks.images:
# confidence, classes present, a Fréchet distance on its features -- not the Inception FID).
GAN_TRAIN = dict(batch_size=64, lr=2e-4, beta1=0.5, beta2=0.999, schedule="constant",
                 log_every=50)
add(Recipe(
    "dcgan-digits", "dcgan", "digits", "confidence", 0.8,
    "DCGAN on scikit-learn's 8x8 digits; samples judged by mlp-digits (embedded; a minute)",
    preset="digits", train=dict(GAN_TRAIN, max_steps=3000, eval_every=500, lr=5e-4),
    tour=TourStop("gan", 25)))
add(Recipe(
    "dcgan-mnist", "dcgan", "mnist", "confidence", 0.9,
    "DCGAN (Radford et al. 2016) on MNIST with InfoGAN's fully connected layers (1024 units after "
    "the noise and before the score); samples judged by ann's LeNet-5: mean confidence, all ten "
    "classes present, Fréchet distance on its features",
    preset="mnist-fc", train=dict(GAN_TRAIN, epochs=10, batch_size=128)))
add(Recipe(
    "dcgan-mnist-hinge", "dcgan", "mnist", "confidence", 0.9,
    "dcgan-mnist with the stabilised switch: hinge loss and a spectrally normalised "
    "discriminator (Miyato et al. 2018), dcgan-mnist's fully connected layers; "
    "model.loss=wgan-gp is the other switch",
    preset="hinge-sn", model_overrides=dict(g_hidden=1024, d_hidden=1024),
    train=dict(GAN_TRAIN, epochs=5, batch_size=128, beta1=0.0, beta2=0.9)))
add(Recipe(
    "dcgan-fashion", "dcgan", "fashion-mnist", "confidence", 0.8,
    "DCGAN on Fashion-MNIST with dcgan-mnist's networks (mnist-fc); samples judged by ann's "
    "LeNet-5 trained on Fashion-MNIST",
    preset="mnist-fc", train=dict(GAN_TRAIN, epochs=5, batch_size=128)))
add(Recipe(
    "cgan-mnist", "cgan", "mnist", "label_accuracy", 0.9,
    "conditional DCGAN on MNIST (label embedding in G, projection in D): the class is chosen "
    "at sampling time; label accuracy = samples classified as the class asked for",
    preset="mnist", train=dict(GAN_TRAIN, epochs=5, batch_size=128)))


# Super-resolution: 7x7 (average-pooled) MNIST digits to 28x28, against bicubic upsampling.
SR_TRAIN = dict(batch_size=64, lr=1e-3, beta1=0.5, beta2=0.999, epochs=1, log_every=50,
                eval_every=430, eval_batch_size=500)
add(Recipe(
    "srgan-mnist", "srgan", "mnist", "psnr", 17.0,
    "SRGAN-style x4 super-resolution of MNIST (7x7 -> 28x28): pixel + 1e-3 adversarial loss; "
    "PSNR/SSIM against bicubic upsampling (psnr_bicubic) and srgan-mnist-pixel",
    preset="mnist", train=SR_TRAIN))
add(Recipe(
    "srgan-mnist-pixel", "srgan", "mnist", "psnr", 17.0,
    "the srgan-mnist generator trained with the pixel loss alone (SRResNet), for comparison",
    preset="mnist", model_overrides=dict(adv_weight=0.0), train=SR_TRAIN))


# Unpaired style transfer: strokes as written <-> thickened (ann.data.domains); the true
# translation is known, so PSNR against it (and against doing nothing) measures the transfer.
add(Recipe(
    "cyclegan-digits", "cyclegan", "digits-thick", "psnr", 20.0,
    "CycleGAN-style transfer between scikit-learn's digits as written and with thickened "
    "strokes, unpaired; before/after grids (embedded; minutes)",
    preset="digits", train=dict(GAN_TRAIN, lr=1e-3, max_steps=1500, eval_every=300)))
add(Recipe(
    "cyclegan-mnist", "cyclegan", "mnist-thick", "psnr", 20.0,
    "CycleGAN-style transfer between MNIST digits as written and with thickened strokes",
    preset="mnist", train=dict(GAN_TRAIN, max_steps=1200, eval_every=200)))
