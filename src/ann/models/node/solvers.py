"""ODE solvers for neural ODEs, written to be read (Chen, Rubanova, Bettencourt & Duvenaud 2018,
"Neural ordinary differential equations", NeurIPS, https://arxiv.org/abs/1806.07366).

``odeint(func, y0, t)`` solves ``dy/dt = func(t, y)`` from ``y(t[0]) = y0`` and returns ``y`` at
every time of ``t`` (increasing or decreasing), stacked: (len(t), *y0.shape).

* ``euler`` and ``rk4`` (Kutta's classic fourth-order rule) take fixed steps: each interval
  between output times is cut into ``ceil(|dt| / step_size)`` equal steps (one step per
  interval when ``step_size`` is None), so every output time is hit exactly.
* ``dopri5``: the Dormand-Prince 5(4) pair (Dormand & Prince 1980, "A family of embedded
  Runge-Kutta formulae", J. Comp. Appl. Math. 6(1)), adaptive. Each step takes the fifth-order
  solution and estimates its error by the difference to the embedded fourth-order one; a step is
  accepted when the RMS of ``error / (atol + rtol * max(|y_old|, |y_new|))`` is at most 1, and
  the next step is scaled by ``0.9 * err^(-1/5)`` (clamped to [0.2, 10]). The first step is
  chosen as in Hairer, Norsett & Wanner, "Solving ODEs I", sec. II.4. The last stage of a step
  is the first of the next (FSAL), so an accepted step costs six evaluations. The steps do not
  stop at the output times: those inside a step are read off a quartic interpolant through the
  step's ends, slopes and midpoint (dense output), so many output times cost no more steps.

Gradients: through ``odeint`` they are ordinary backpropagation through every solver
operation (memory grows with the steps). ``odeint_adjoint`` instead solves the adjoint system
backwards in time (Pontryagin; Chen et al. 2018, sec. 2 and appendix B): with
``a(t) = dL/dy(t)``,

    dy/dt = f(t, y, theta),   da/dt = -a^T df/dy,   d(dL/dtheta)/dt = -a^T df/dtheta,

integrated from the last output time to the first, ``a`` jumping by ``dL/dy(t_i)`` at each
output time. Only the states at the output times are kept, so memory does not grow with steps.
"""

from __future__ import annotations

import math

import torch

from ...errors import AnnError

METHODS = ("euler", "rk4", "dopri5")

# Dormand-Prince 5(4): nodes c, stage weights a, fifth-order weights b, and b - b* (the
# difference to the embedded fourth-order weights), which is the error estimate.
DOPRI_C = (0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0)
DOPRI_A = (
    (),
    (1 / 5,),
    (3 / 40, 9 / 40),
    (44 / 45, -56 / 15, 32 / 9),
    (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
    (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656),
    (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84),
)
DOPRI_B = (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0.0)
DOPRI_E = (35 / 384 - 5179 / 57600, 0.0, 500 / 1113 - 7571 / 16695, 125 / 192 - 393 / 640,
           -2187 / 6784 + 92097 / 339200, 11 / 84 - 187 / 2100, -1 / 40)
# The midpoint weights of Shampine's continuous extension (Shampine 1986, "Some practical
# Runge-Kutta formulas", Math. Comp. 46(173)): y(t + h/2) ~ y + h * sum(mid_i k_i).
DOPRI_MID = (6025192743 / 60171106304, 0.0, 51252292925 / 130801643196,
             -2691868925 / 90256659456, 187940372067 / 3189068634112,
             -1776094331 / 39487288512, 11237099 / 470086768)
SAFETY, MIN_FACTOR, MAX_FACTOR = 0.9, 0.2, 10.0


# --- fixed steps ---------------------------------------------------------------------------
def euler_step(func, t, y, h):
    return y + h * func(t, y)


def rk4_step(func, t, y, h):
    k1 = func(t, y)
    k2 = func(t + h / 2, y + h / 2 * k1)
    k3 = func(t + h / 2, y + h / 2 * k2)
    k4 = func(t + h, y + h * k3)
    return y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)


def _fixed(step, func, y0, t, step_size):
    out, y = [y0], y0
    for t0, t1 in zip(t[:-1], t[1:]):
        span = t1 - t0
        n = 1 if step_size is None else max(1, math.ceil(abs(float(span)) / step_size - 1e-9))
        h = span / n
        for i in range(n):
            y = step(func, t0 + i * h, y, h)
        out.append(y)
    return torch.stack(out)


# --- Dormand-Prince 5(4) -------------------------------------------------------------------
@torch.no_grad()
def _error_ratio(err, y0, y1, rtol, atol) -> float:
    """RMS of the error over its tolerance: a step is accepted when this is at most 1 (step
    control is not differentiated)."""
    scale = atol + rtol * torch.maximum(y0.abs(), y1.abs())
    return float((err / scale).pow(2).mean().sqrt())


@torch.no_grad()
def _first_step(func, t0, y0, f0, direction, rtol, atol) -> float:
    """Hairer-Norsett-Wanner's starting step (order 5): one Euler trial step of size h0."""
    scale = atol + rtol * y0.abs()
    d0, d1 = (y0 / scale).pow(2).mean().sqrt(), (f0 / scale).pow(2).mean().sqrt()
    h0 = 1e-6 if d0 < 1e-5 or d1 < 1e-5 else float(0.01 * d0 / d1)
    f1 = func(t0 + direction * h0, y0 + direction * h0 * f0)
    d2 = ((f1 - f0) / scale).pow(2).mean().sqrt() / h0
    h1 = (max(1e-6, h0 * 1e-3) if max(d1, d2) <= 1e-15
          else float((0.01 / max(d1, d2)) ** (1 / 5)))
    return min(100 * h0, h1)


def dopri5_step(func, t, y, f0, h):
    """One Dormand-Prince step from (t, y) with func(t, y) = f0: the fifth-order solution,
    its error estimate, func at the new point (the next step's f0) and the solution at the
    step's midpoint (for the interpolant)."""
    k = [f0]
    for i in range(1, 7):
        dy = sum(a * kj for a, kj in zip(DOPRI_A[i], k) if a != 0.0)
        k.append(func(t + DOPRI_C[i] * h, y + h * dy))
    y1 = y + h * sum(b * kj for b, kj in zip(DOPRI_B, k) if b != 0.0)
    err = h * sum(e * kj for e, kj in zip(DOPRI_E, k) if e != 0.0)
    mid = y + h * sum(m * kj for m, kj in zip(DOPRI_MID, k) if m != 0.0)
    return y1, err, k[6], mid


def quartic(y0, y1, mid, f0, f1, h, x):
    """The quartic p on [0, 1] with p(0) = y0, p(1) = y1, p(1/2) = mid, p'(0) = h f0 and
    p'(1) = h f1, at x: the solution at t + x h inside an accepted step (fourth order, as the
    step's solution is fifth)."""
    rise = y1 - y0 - h * f0                  # a + b + c of p = a x^4 + b x^3 + c x^2 + h f0 x + y0
    slope = h * (f1 - f0)                    # 4a + 3b + 2c
    half = 16 * (mid - y0 - h * f0 / 2)      # a + 2b + 4c
    a = half - 8 * rise + 2 * slope
    b = 14 * rise - 3 * slope - 2 * half
    c = -5 * rise + slope + half
    return y0 + x * (h * f0 + x * (c + x * (b + x * a)))


def _dopri5(func, y0, t, rtol, atol, max_steps):
    """Adaptive steps from t[0] towards t[-1] (only the last is cut short to land on it); each
    output time inside an accepted step is read off the step's quartic interpolant."""
    direction = 1.0 if float(t[-1]) >= float(t[0]) else -1.0
    y, tc = y0, t[0]
    f = func(tc, y)
    h = _first_step(func, tc, y, f, direction, rtol, atol)
    out, i, steps = [y0], 1, 0
    while i < len(t):
        if steps >= max_steps:
            raise AnnError(f"dopri5 took more than {max_steps} steps; loosen rtol/atol or "
                           "raise max_steps (the dynamics may be stiff)")
        steps += 1
        step = direction * min(h, abs(float(t[-1] - tc)))
        y1, err, f1, mid = dopri5_step(func, tc, y, f, step)
        ratio = _error_ratio(err, y, y1, rtol, atol)
        if ratio <= 1:                                       # accepted
            t1 = t[-1] if abs(step) >= abs(float(t[-1] - tc)) else tc + step
            while i < len(t) and direction * float(t[i] - t1) <= 0:
                out.append(quartic(y, y1, mid, f, f1, step, (t[i] - tc) / step))
                i += 1
            tc, y, f = t1, y1, f1
        factor = MAX_FACTOR if ratio == 0 else min(MAX_FACTOR, max(MIN_FACTOR,
                                                                  SAFETY * ratio ** -0.2))
        h = abs(step) * factor
    return torch.stack(out)


# --- the solver's front door ---------------------------------------------------------------
def odeint(func, y0: torch.Tensor, t: torch.Tensor, method: str = "dopri5", rtol: float = 1e-3,
           atol: float = 1e-4, step_size: float | None = None, max_steps: int = 10_000):
    """``y`` at every time of ``t`` (T,) for ``dy/dt = func(t, y)``, ``y(t[0]) = y0``;
    gradients by backpropagation through the solver. Returns (T, *y0.shape)."""
    if method not in METHODS:
        raise AnnError(f"unknown ODE solver {method!r}; choose one of {', '.join(METHODS)}")
    t = t.to(y0)
    if method == "dopri5":
        return _dopri5(func, y0, t, rtol, atol, max_steps)
    return _fixed(euler_step if method == "euler" else rk4_step, func, y0, t, step_size)


class _Adjoint(torch.autograd.Function):
    """Forward: solve without building a graph. Backward: solve the augmented adjoint system
    [y, a, dL/dtheta] from each output time back to the one before it."""

    @staticmethod
    def forward(ctx, y0, t, options, func, *params):
        with torch.no_grad():
            ys = odeint(func, y0, t, **options)
        ctx.func, ctx.options = func, options
        ctx.save_for_backward(t, ys, *params)
        return ys

    @staticmethod
    def backward(ctx, grad_ys):
        t, ys, *params = ctx.saved_tensors
        func, options = ctx.func, ctx.options
        shape, n = ys.shape[1:], ys[0].numel()
        sizes = [p.numel() for p in params]

        def augmented(s, state):                 # state: [y, a, dL/dtheta] flattened, (2n + P,)
            y, a = state[:n].view(shape), state[n:2 * n].view(shape)
            with torch.enable_grad():
                y = y.detach().requires_grad_(True)
                f = func(s, y)
                grads = torch.autograd.grad(f, (y, *params), -a, allow_unused=True)
            grads = [torch.zeros_like(x) if g is None else g for g, x in zip(grads, (y, *params))]
            return torch.cat([f.reshape(-1), *(g.reshape(-1) for g in grads)])

        a = grad_ys[-1].reshape(-1)
        g_params = ys.new_zeros(sum(sizes))
        for i in range(len(t) - 1, 0, -1):
            state = torch.cat([ys[i].reshape(-1), a, g_params])
            back = odeint(augmented, state, t[i - 1:i + 1].flip(0), **options)[-1]
            a = back[n:2 * n] + grad_ys[i - 1].reshape(-1)
            g_params = back[2 * n:]
        pieces = torch.split(g_params, sizes) if params else ()
        return (a.view(shape), None, None, None,
                *(g.view_as(p) for g, p in zip(pieces, params)))


def odeint_adjoint(func: torch.nn.Module, y0: torch.Tensor, t: torch.Tensor, **options):
    """As :func:`odeint`, but gradients (for ``y0`` and ``func``'s parameters, not ``t``) come
    from the adjoint system solved backwards with the same solver and tolerances."""
    params = tuple(p for p in func.parameters() if p.requires_grad)
    return _Adjoint.apply(y0, t.to(y0), options, func, *params)


def solve(func, y0, t, adjoint: bool = False, **options):
    """:func:`odeint_adjoint` when ``adjoint``, else :func:`odeint`."""
    return (odeint_adjoint if adjoint else odeint)(func, y0, t, **options)
