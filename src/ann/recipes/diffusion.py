"""Recipes of the diffusion family (ann.models.diffusion): DDPM trained on the simple loss,
sampled with DDIM in few steps, class-conditional with classifier-free guidance."""

from . import Recipe, Term, TourStop, add, explain

# The model steps itself (training_step: AdamW and the moving average of its weights); samples
# are judged as the GANs' are, by ann's own classifier of the dataset (ann.tasks.images:
# fd_classifier, a Fréchet distance on its features, not the Inception FID).
DIFFUSION_TRAIN = dict(batch_size=64, lr=2e-3, schedule="cosine", warmup_steps=200,
                       grad_clip=1.0, log_every=100)
add(Recipe(
    "ddpm-digits", "ddpm", "digits", "fd_classifier", 4.5,
    "conditional DDPM (Ho et al. 2020) with a small U-Net on scikit-learn's 8x8 digits, "
    "classifier-free guidance 1.5, sampled by DDIM in 50 steps; samples judged by mlp-digits "
    "(embedded; minutes)",
    preset="digits", train=dict(DIFFUSION_TRAIN, max_steps=1500, eval_every=500),
    reference="dcgan-digits: fd_classifier 5.61 (real validation against test images: 4.19)",
    # the stop, measured on 2 idle cores: 550 steps reach fd_classifier 3.35 in 35 s wall (400
    # steps gave 4.53, just short of the target)
    tour=TourStop("diffusion", 35, dict(max_steps=550, eval_every=550))))
add(Recipe(
    "ddpm-mnist", "ddpm", "mnist", "fd_classifier", 1.0,
    "conditional DDPM with a three-level U-Net on MNIST, classifier-free guidance 1.5, DDIM in 50 "
    "steps; samples judged by ann's LeNet-5: Fréchet distance on its features, confidence, "
    "label accuracy",
    preset="mnist", train=dict(DIFFUSION_TRAIN, epochs=10, batch_size=128, lr=1e-3),
    reference="dcgan-mnist: fd_classifier 0.38 (real validation against test images: 0.09)"))


explain(Term(
    "diffusion model",
    "A generative model that learns to undo noise: training adds Gaussian noise to an image at a "
    "random level t of a fixed schedule and teaches a network (here a small U-Net) to predict "
    "that noise, a reweighted variational bound (Ho et al. 2020, DDPM). Sampling starts from "
    "pure noise and removes the predicted noise step by step, from x_T to a clean x_0. It trains "
    "stably, unlike a GAN, at the price of many network evaluations per sample.",
    ("ann.models.diffusion.ddpm.DDPM", "ann.models.diffusion.schedule.NoiseSchedule",
     "ann.tasks.diffusion.Diffusion"),
    ("ddpm", "denoising diffusion", "diffusion", "score-based model", "noise schedule"),
))
explain(Term(
    "DDIM",
    "Denoising diffusion implicit models (Song et al. 2021): a sampler for a trained DDPM that "
    "jumps between a few of its timesteps, predicting the clean image at each and moving to the "
    "next noise level along the predicted noise. With eta = 0 it is deterministic, so the same "
    "starting noise gives the same image; 20-50 steps replace DDPM's 1,000 with little loss.",
    ("ann.models.diffusion.schedule.NoiseSchedule.ddim_step",),
    ("denoising diffusion implicit models", "ddim sampling"),
))
explain(Term(
    "classifier-free guidance",
    "A way to make a conditional diffusion model's samples follow their class more closely "
    "without a separate classifier (Ho & Salimans 2022): training sometimes replaces the label "
    "by a null label, so one network predicts the noise with and without the class; sampling "
    "extrapolates from the unconditional prediction past the conditional one by a guidance "
    "scale, trading variety for fidelity.",
    ("ann.models.diffusion.ddpm.DDPM.guided",),
    ("cfg", "guidance scale", "guidance"),
))
