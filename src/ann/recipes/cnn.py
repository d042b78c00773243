"""Recipes of the cnn family.

Feed-forward and convolutional networks: classification, segmentation and detection.
"""

from . import Recipe, TourStop, add

add(Recipe(
    "mlp-digits", "mlp", "digits", "accuracy", 0.96,
    "feed-forward network on scikit-learn's 8x8 digits (embedded, seconds)",
    train=dict(epochs=40, batch_size=32, lr=2e-3, weight_decay=1e-4),
    tour=TourStop("mlp", 4, dict(epochs=20))))
add(Recipe(
    "cnn-digits", "cnn", "digits", "accuracy", 0.98,
    "small residual CNN on scikit-learn's 8x8 digits (embedded; the demo)",
    data=dict(augment_shift=1),
    train=dict(epochs=40, batch_size=32, lr=3e-3, weight_decay=5e-4, warmup_steps=50),
    tour=TourStop("cnn", 4, dict(epochs=12))))
add(Recipe(
    "mlp-mnist", "mlp", "mnist", "accuracy", 0.98,
    "feed-forward network 784-512-256-10 with dropout on MNIST",
    preset="mnist",
    train=dict(epochs=15, batch_size=128, lr=1e-3, weight_decay=1e-4)))
add(Recipe(
    "lenet-mnist", "lenet", "mnist", "accuracy", 0.99,
    "LeNet-5 (LeCun et al. 1998) on MNIST",
    data=dict(augment_shift=1),
    train=dict(epochs=20, batch_size=128, lr=2e-3, weight_decay=1e-4),
    reference="LeCun et al. 1998: LeNet-5 0.95% test error (0.8% with distortions)"))
add(Recipe(
    "cnn-mnist", "cnn", "mnist", "accuracy", 0.994,
    "small residual CNN on MNIST",
    preset="mnist", data=dict(augment_shift=2),
    train=dict(epochs=10, batch_size=128, lr=3e-3, weight_decay=5e-4, warmup_steps=200),
    reference="Keras mnist_convnet: 99.22% test"))
add(Recipe(
    "cnn-fashion", "cnn", "fashion-mnist", "accuracy", 0.93,
    "small residual CNN on Fashion-MNIST",
    preset="fashion", data=dict(augment_shift=2, augment_flip=True),
    train=dict(epochs=20, batch_size=128, lr=3e-3, weight_decay=5e-4, warmup_steps=200,
               label_smoothing=0.1),
    reference="Fashion-MNIST benchmark, small 2-conv nets: 92.5-93.4% test"))

# Segmentation (issue 9): U-Net (Ronneberger et al. 2015) against a plain FCN (Long et al. 2015)
# on the same generated shapes scenes, steps and optimiser; and U-Net on MNIST digit scenes.
SEG_TRAIN = dict(epochs=8, batch_size=32, lr=3e-3, warmup_steps=50, weight_decay=1e-4,
                 log_every=20, eval_batch_size=100)
add(Recipe(
    "unet-shapes", "unet", "shapes-seg", "mean_iou", 0.90,
    "U-Net segmenting generated scenes of circles, squares and triangles, 64x64 (embedded; "
    "minutes); overlays.png in the run directory",
    preset="shapes", model_overrides=dict(loss="ce+dice"), train=SEG_TRAIN))
add(Recipe(
    "unet-shapes-quick", "unet", "shapes-seg", "mean_iou", 0.60,
    "unet-shapes' network on a short budget: 120 steps of 16 scenes (embedded; ~30 s, the tour's)",
    preset="shapes", model_overrides=dict(loss="ce+dice"),
    train=dict(SEG_TRAIN, epochs=0, max_steps=120, batch_size=16, eval_every=60, lr=6e-3,
               warmup_steps=10),
    tour=TourStop("unet", 17)))
add(Recipe(
    "fcn-shapes", "fcn", "shapes-seg", "mean_iou", 0.70,
    "plain FCN (FCN-32s style, no skips) on the shapes scenes with unet-shapes' budget (embedded; "
    "its mask edges are only as sharp as its coarsest grid)",
    preset="shapes", model_overrides=dict(loss="ce+dice"), train=SEG_TRAIN))
add(Recipe(
    "unet-mnist-scenes", "unet", "mnist-scenes-seg", "mean_iou", 0.80,
    "U-Net segmenting 96x96 scenes of 1-4 MNIST digits into background and the ten digits",
    preset="mnist-scenes", model_overrides=dict(loss="ce+dice"),
    train=dict(SEG_TRAIN, epochs=4, eval_batch_size=50)))

# Object detection (issue 9): a CenterNet-style detector (ann.models.cnn.detector) on generated
# scenes; mAP as COCO computes it (ann.metrics_detection, checked against pycocotools).
DET_TRAIN = dict(batch_size=32, lr=4e-3, weight_decay=1e-4, warmup_steps=100, grad_clip=5.0,
                 log_every=25, eval_batch_size=100)
add(Recipe(
    "detector-shapes", "detector", "shapes-det", "map50", 0.90,
    "CenterNet-style detector finding circles, squares and triangles in 64x64 generated scenes "
    "(embedded; boxes.png; about two minutes)",
    preset="shapes", train=dict(DET_TRAIN, epochs=8)))
add(Recipe(
    "detector-shapes-quick", "detector", "shapes-det", "map50", 0.70,
    "detector-shapes on a short budget, two epochs (embedded; ~30 s; the tour's)",
    preset="shapes", train=dict(DET_TRAIN, epochs=2, lr=5e-3),
    tour=TourStop("detector", 11)))
add(Recipe(
    "detector-mnist-scenes", "detector", "mnist-scenes-det", "map50", 0.90,
    "CenterNet-style detector finding and reading the 1-4 MNIST digits of 96x96 scenes",
    preset="mnist-scenes", train=dict(DET_TRAIN, epochs=6, eval_every=375)))
