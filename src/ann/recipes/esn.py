"""Echo state networks (ann.models.esn): random reservoirs with ridge readouts, fitted in closed
form, forecasting in closed loop."""

from . import Recipe, Term, TourStop, add, explain

FITTED = dict(epochs=1)        # the readout is one ridge regression over the training states

# Mackey-Glass (tau 17): the series `ann.data.series` generates (Euler, 10 steps per unit of
# time from x = 1.2, sampled once per unit, the first 500 samples dropped; 3,000 samples, 70%
# train). The reservoir reads 200 values of the test span (its washout), then runs free for 84
# steps; `nrmse` is the error of the 84th step over the train std (Jaeger 2001's NRMSE84).
# Measured (seed 0, 500 units): 0.0023; 400 units at ridge 1e-7: 0.0096. Jaeger & Haas 2004
# report 10^-4.2 with 1,000 units and a noise-regularised readout.
add(Recipe(
    "esn-mackey-glass", "esn", "mackey-glass", "nrmse", 0.01,
    "Echo state network, 500 units, free-running 84 steps of Mackey-Glass (tau 17) after a "
    "200-step washout: the 84-step-ahead NRMSE",
    model_overrides=dict(n_reservoir=500, ridge=1e-8), data=dict(window=200, horizon=84),
    train=FITTED, reference="Jaeger & Haas 2004 (Science): NRMSE84 10^-4.2 with 1,000 units",
))

# Sunspots, one year ahead from a 30-year washout (the linear AR(30) baseline: 19.53; AR(11),
# the lstm-sunspots target: 17.73). Measured: rmse 17.09 (seed 0), 17.50 (seed 1).
add(Recipe(
    "esn-sunspots", "esn", "sunspots", "rmse", 17.73,
    "Echo state network, 100 units, forecasting next year's sunspot number (embedded series)",
    model_overrides=dict(n_reservoir=100, spectral_radius=0.9, leak=0.5, ridge=0.1, washout=20),
    data=dict(window=30), train=FITTED, tour=TourStop("esn", 1.0),
    reference="the linear AR(11) baseline of lstm-sunspots (17.73); AR(30) on the same windows 19.53"))


def _echo() -> str:
    """How fast two different starts of a 100-unit reservoir forget each other."""
    import torch

    from ..registry import create_model

    torch.manual_seed(0)
    net = create_model("esn", n_reservoir=100, spectral_radius=0.9, leak=1.0)
    drive = torch.sin(0.3 * torch.arange(60.0))[None]                   # (1, 60)
    a = net.states(drive, torch.ones(1, 100))
    b = net.states(drive, -torch.ones(1, 100))
    gap = (a - b).norm(dim=-1)[0]                                       # (60,)
    return (f"a 100-unit reservoir of spectral radius 0.9 driven by one signal from two opposite "
            f"starts: their states differ by {gap[0]:.2f} after 1 step, {gap[19]:.2g} after 20, "
            f"{gap[59]:.1g} after 60 (the echo state property)")


explain(Term(
    "echo state network",
    "A recurrent network whose recurrent weights are random and fixed: a large 'reservoir' of "
    "tanh units, scaled so that its spectral radius is near 1, echoes the recent input, and only "
    "a linear readout is trained, by ridge regression, in one step (Jaeger 2001). Fed its own "
    "predictions it runs free as a generator; on the chaotic Mackey-Glass series it follows the "
    "truth for hundreds of steps. It is the best-known form of reservoir computing.",
    ("ann.models.esn.esn.EchoStateNetwork", "ann.tasks.freerun.FreeRunForecasting"),
    ("esn", "reservoir computing", "echo state property"), _echo))
