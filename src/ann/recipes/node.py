"""Neural ODEs (ann.models.node): ODE-Net classifiers and the latent ODE, solved by ann's own
Euler, RK4 and Dormand-Prince solvers, with adjoint gradients."""

from . import Recipe, Term, TourStop, add, explain

add(Recipe(
    "node-digits", "odenet", "digits", "accuracy", 0.95,
    "ODE-Net (Chen et al. 2018): a conv stage, one ODE block solved by dopri5, a pooled linear "
    "head, on scikit-learn's 8x8 digits (embedded, seconds)",
    preset="digits",
    train=dict(epochs=6, batch_size=32, lr=3e-3, weight_decay=1e-4, warmup_steps=20),
    tour=TourStop("node", 20.0, dict(epochs=4))))
add(Recipe(
    "node-mnist", "odenet", "mnist", "accuracy", 0.99,
    "ODE-Net, 64 maps, two stride-2 stages, one ODE block solved by dopri5 (rtol/atol 1e-3), on "
    "MNIST",
    preset="mnist", data=dict(augment_shift=1),
    train=dict(epochs=8, batch_size=128, lr=3e-3, weight_decay=1e-4, warmup_steps=200),
    reference="Chen et al. 2018, Table 1: ODE-Net 0.42% test error (0.22 M parameters)"))
# Measured (seed 0, 20 epochs, shared cores): extrapolation MSE 0.0083 (interpolation 0.023);
# the held last observation scores 1.44 and the mean trajectory of the train split 0.43.
add(Recipe(
    "node-spiral", "latent-ode", "spirals", "extrap_mse", 0.02,
    "latent ODE (Chen et al. 2018): a backwards GRU reads noisy spirals observed at irregular "
    "times, a 4-d latent ODE (dopri5) carries them on; the squared error of the extrapolation",
    preset="spiral",
    train=dict(epochs=20, batch_size=50, lr=1e-2, warmup_steps=20),
    reference="baselines on the same test spirals: the held last observation 1.44, the mean "
              "train trajectory 0.43"))


explain(Term(
    "neural ODE",
    "A network whose hidden state follows an ordinary differential equation dh/dt = f(h, t) "
    "with f a small network, solved by a numerical ODE solver from t = 0 to t = 1 (Chen et al. "
    "2018). A residual network's blocks h + f(h) are the Euler steps of such an equation; an "
    "adaptive solver instead chooses how many evaluations of f the input needs, trading "
    "accuracy for time through its tolerance. The same machinery models time series whose "
    "observations come at irregular times (the latent ODE).",
    ("ann.models.node.odenet.ODENet", "ann.models.node.latent_ode.LatentODE",
     "ann.models.node.solvers.odeint"),
    ("node", "ode-net", "odenet", "latent ode", "continuous-depth network")))
explain(Term(
    "adjoint method",
    "A way to get the gradients of a loss through an ODE solution without storing the solver's "
    "steps: the adjoint a(t) = dL/dh(t) obeys its own ODE, da/dt = -a df/dh, which is solved "
    "backwards in time beside h and the parameter gradient, whose rate is -a df/dtheta "
    "(Pontryagin 1962; Chen et al. 2018). Memory stays constant in the number of steps, at the "
    "price of a second solve and of small errors where the backward h drifts from the forward one.",
    ("ann.models.node.solvers.odeint_adjoint",),
    ("adjoint", "adjoint sensitivity", "adjoint sensitivity method")))
