"""Classification by a spiking network: the classify objective, and pictures of the spikes.

Training and evaluation are classification's (cross-entropy of the class scores, accuracy); the
class scores of a spiking network are its output spike counts or membrane potentials
(:mod:`ann.models.spiking`). A finished run adds ``raster.png``: the input, its encoded spike
train and the first hidden layer's spikes over time for one test image, and ``firing.json``,
each layer's mean spikes per neuron and time step over the first test images.
"""

from __future__ import annotations

from pathlib import Path

import torch

from .. import fileio
from ..registry import register_task
from ..train.distributed import unwrap
from .classify import Classification


@register_task
class SpikeClassification(Classification):
    """Classification by a spiking network (cross-entropy of its spike counts or membrane,
    accuracy); the report adds a spike raster of a hidden layer."""

    name = "spike_classify"

    def report(self, run, test_data, folder) -> None:
        """The classification pictures, ``raster.png`` and ``firing.json``."""
        super().report(run, test_data, folder)
        model = unwrap(run.model).eval()
        device = next(model.parameters()).device
        x, y = (t.to(device) for t in test_data.batch(slice(0, min(256, len(test_data))))[:2])
        with torch.no_grad():
            layers = model.run(x)
            encoded = model.encode(x[:1])[0]                                  # (T, D)
        rates = {f"layer{i + 1}": float(s.mean()) for i, (s, _) in enumerate(layers)}
        fileio.write_json(Path(folder) / "firing.json",
                          {"spikes_per_neuron_and_step": rates, "images": len(x)})
        hidden = layers[0][0][0]                                              # (T, H)
        plot_raster(x[0], int(y[0]), encoded, hidden, int(model(x[:1]).argmax()),
                    model.config, Path(folder) / "raster.png")


def plot_raster(image, label: int, encoded, hidden, predicted: int, config, path) -> None:
    """The standardized input image, its input spikes (T, D) and hidden spikes (T, H) as
    rasters: a dot per spike, neuron against time step."""
    from ..report.plots import save, subplots

    fig, (a0, a1, a2) = subplots(1, 3, figsize=(12, 3.6),
                                 gridspec_kw={"width_ratios": [1, 2.2, 2.2]})
    a0.imshow(image[0].cpu().float().numpy(), cmap="gray")
    a0.set(xticks=[], yticks=[], title=f"label {label}, predicted {predicted}")
    for ax, spikes, what in ((a1, encoded, f"input ({config.encoding} coding)"),
                             (a2, hidden, f"hidden layer 1 ({hidden.shape[1]} LIF neurons)")):
        t, n = spikes.cpu().nonzero(as_tuple=True)
        ax.scatter(t.numpy(), n.numpy(), s=1.5, c="black", marker="|")
        ax.set(xlim=(-0.5, config.steps - 0.5), ylim=(-0.5, spikes.shape[1] - 0.5),
               xlabel="time step", ylabel="neuron",
               title=f"{what}: {int(spikes.sum())} spikes")
    save(fig, path)
