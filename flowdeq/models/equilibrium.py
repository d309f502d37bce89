r"""Fixed-point solve of the single-index DEQ and its implicit-function gradient.

For an input with pre-activation a = θ₁ᵀx the output y solves

    F(y) := y − σ(a + θ₂ y) = 0.                                             (paper eq. 10)

While L|θ₂| < 1, F′(y) = 1 − θ₂σ′(ω) ≥ 1 − L|θ₂| > 0, so F is strictly increasing
and the root is unique; by (13) it lies in the bracket |y| ≤ B,

    B = (|σ(0)| + L|a|) / (1 − L|θ₂|).

Solve: a safeguarded Newton iteration, vectorised over samples in one
``lax.while_loop``.  Each iteration shrinks the bracket with the sign of F (F is
increasing), takes the Newton step y − F/F′, and falls back to bisection of the
bracket when the Newton step leaves it (Numerical Recipes' ``rtsafe``).  It converges
quadratically near the root (5–8 iterations at float64 precision on the paper's
problems) and can never leave the bracket, so it cannot diverge.  A sample whose
residual is still above tolerance after the budget, or any sample of a
non-contractive θ (L|θ₂| ≥ 1), is returned as NaN: non-convergence is reported, never
a plausible-looking number.

Why not ``optimistix.Newton``: it needs a separate bracketed fallback and a per-sample
``lineax`` solve for a scalar equation; this loop is both in one piece, and measured
faster to compile (docs/performance.md, "Not done").

Gradient (implicit function theorem, paper eq. 1 and the display after (14)):

    ∇_θ y = σ′(ω) / (1 − θ₂σ′(ω)) · (x, y),     ω = a + θ₂y,

implemented as the ``custom_jvp`` of the solve, so ``jax.grad``/``jacfwd`` of any
function of y are exact and never differentiate through solver iterations.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from .activations import Activation

__all__ = ["solve_equilibrium", "solve_equilibrium_from", "residual", "MAX_ITERATIONS"]

MAX_ITERATIONS = 100


def residual(activation: Activation, a, theta2, y):
    """F(y) = y − σ(a + θ₂y)."""
    return y - activation.fn(a + theta2 * y)


def _bracket(activation: Activation, a, theta2):
    L = activation.lipschitz
    contraction = 1.0 - L * jnp.abs(theta2)
    s0 = jnp.abs(activation.fn(jnp.zeros((), a.dtype)))
    B = (s0 + L * jnp.abs(a)) / jnp.where(contraction > 0, contraction, 1.0)
    B = B * (1.0 + 1e-12) + 1e-300
    return -B, B, contraction > 0


def _tolerance(y):
    return 1e-10 * (1.0 + jnp.abs(y))


def _safeguarded_newton(activation, a, theta2, lo, hi, y0=None, unroll=0):
    eps = jnp.finfo(a.dtype).eps

    def cond(state):
        it, y, lo, hi, done = state
        return (it < MAX_ITERATIONS) & jnp.any(~done)

    def body(state):
        it, y, lo, hi, done = state
        w = a + theta2 * y
        F = y - activation.fn(w)
        dF = 1.0 - theta2 * activation.deriv(w)
        hi = jnp.where(F > 0, y, hi)
        lo = jnp.where(F <= 0, y, lo)
        newton = y - F / dF
        outside = ~((newton >= lo) & (newton <= hi))  # also catches NaN
        y_new = jnp.where(F == 0, y, jnp.where(outside, 0.5 * (lo + hi), newton))
        small = (jnp.abs(y_new - y) <= 4 * eps * (1.0 + jnp.abs(y))) | (F == 0) \
            | (hi - lo <= 4 * eps * (1.0 + jnp.abs(y)))
        return it + 1, jnp.where(done, y, y_new), lo, hi, done | small

    start = activation.fn(a)
    if y0 is not None:  # warm start; a non-finite guess falls back to σ(a)
        start = jnp.where(jnp.isfinite(y0), y0, start)
    y0 = jnp.clip(start, lo, hi)
    state = (jnp.asarray(0), y0, lo, hi, jnp.zeros(a.shape, bool))
    # The first ``unroll`` iterations run outside the loop: a done sample keeps its y,
    # so the result is the same bit for bit, minus the loop's per-iteration test.
    for _ in range(unroll):
        state = body(state)
    return jax.lax.while_loop(cond, body, state)[1]


def _solve(activation, a, theta2, y0, unroll=0):
    a = jnp.asarray(a)
    theta2 = jnp.asarray(theta2, a.dtype)
    lo, hi, contractive = _bracket(activation, a, theta2)
    y = _safeguarded_newton(activation, a, theta2, lo, hi, y0, unroll)
    good = contractive & jnp.isfinite(y) & (
        jnp.abs(residual(activation, a, theta2, y)) <= _tolerance(y))
    return jnp.where(good, y, jnp.nan)


@functools.partial(jax.custom_jvp, nondiff_argnums=(0,))
def solve_equilibrium(activation: Activation, a, theta2):
    """y with y = σ(a + θ₂y) for each entry of ``a`` (1-D); NaN where not solved."""
    return _solve(activation, a, theta2, None)


def solve_equilibrium_from(activation: Activation, a, theta2, y0):
    """Like :func:`solve_equilibrium`, with Newton started from the guess ``y0`` (clipped
    into the bracket; non-finite entries start from σ(a)).  Same certificate, so the
    same root to rounding.  No derivative rule: for callers that form the IFT gradient
    themselves (the GD map carries y from the previous step: θ moves by O(η‖∇R‖), so
    the previous equilibrium is a close start).

    From a warm start Newton needs about 3 iterations (the third confirms convergence),
    so those run unrolled ahead of the loop, which then only checks: the same iterates bit
    for bit.  The Sec. 4.2 GD map (4000 steps) took 0.120 s with none unrolled, 0.090 s
    with 2 and 0.086 s with 3; 20 members × 1000 steps 0.51 → 0.47 s from 2 to 3
    (docs/performance.md)."""
    return _solve(activation, a, theta2, jnp.asarray(y0), unroll=3)


@solve_equilibrium.defjvp
def _solve_equilibrium_jvp(activation, primals, tangents):
    a, theta2 = primals
    da, dtheta2 = tangents
    y = solve_equilibrium(activation, a, theta2)
    s = activation.deriv(a + theta2 * y)
    k = s / (1.0 - theta2 * s)
    return y, k * (da + y * dtheta2)
