"""Spiking networks (ann.models.spiking): LIF neurons trained through time with surrogate gradients."""

from . import Recipe, Term, TourStop, add, explain

add(Recipe(
    "snn-digits", "snn", "digits", "accuracy", 0.95,
    "spiking MLP 64-128-10 of LIF neurons (beta 0.9), rate-coded over 16 steps, fast-sigmoid "
    "surrogate gradients, spike-count readout, on scikit-learn's 8x8 digits (seconds)",
    train=dict(epochs=15, batch_size=32, lr=5e-3),
    reference="mlp-digits (non-spiking MLP, same split): 97.77% (BENCHMARKS.md)",
    tour=TourStop("snn", 14.0, dict(epochs=14)),
))
add(Recipe(
    "snn-mnist", "snn", "mnist", "accuracy", 0.97,
    "spiking MLP 784-500-10 of LIF neurons, rate-coded over 16 steps, fast-sigmoid surrogate "
    "gradients, spike-count readout, on MNIST",
    preset="mnist", train=dict(epochs=5, batch_size=128, lr=1e-3, eval_batch_size=1000),
    reference="snnTorch tutorials: 784-1000-10 LIF MLP ~93-94% after 1 epoch; fully connected "
    "SNNs with surrogate gradients 97-98.5% (Neftci et al. 2019); benchmarks/snn_peer.py",
))


explain(Term(
    "spiking neural network",
    "A network whose neurons communicate by all-or-nothing spikes in time rather than by real "
    "numbers. A leaky integrate-and-fire neuron adds its input current to a membrane potential "
    "that leaks a little every time step, fires when the potential crosses a threshold and is "
    "then reset; an input image is presented for T steps as spike trains (rate or latency "
    "coding), and the class is read from the output neurons' spike counts.",
    ("ann.models.spiking.snn.SpikingNet", "ann.models.spiking.snn.Leaky",
     "ann.tasks.spiking.SpikeClassification"),
    ("snn", "spiking network", "leaky integrate-and-fire", "lif neuron", "rate coding",
     "latency coding"),
))
explain(Term(
    "surrogate gradient",
    "A spike is a step function of the membrane potential, whose derivative is zero almost "
    "everywhere, so backpropagation through time learns nothing through it. Surrogate-gradient "
    "training keeps the step in the forward pass and uses a smooth stand-in for its derivative "
    "in the backward pass: the fast sigmoid 1/(k|x|+1)^2 of SuperSpike (Zenke & Ganguli 2018) "
    "or an arctan (Neftci, Mostafa & Zenke 2019).",
    ("ann.models.spiking.snn.FastSigmoidSpike", "ann.models.spiking.snn.ArctanSpike"),
    ("surrogate gradients", "superspike"),
))
