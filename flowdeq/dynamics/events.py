r"""The flow's terminating event: one function for every condition, located by bisection.

The flow stops at the first time τ at which any condition holds:

=============  ======================================================  ================
condition      test                                                   scaled value v
=============  ======================================================  ================
nonfinite      R or ∇R is NaN at a finite θ (equilibrium, target or   −1 / +1
               activation undefined there)
ill_posed      min of the model's margins ≤ ε (its ``margins``:        min margin − ε
               named, possibly data-dependent; the one that fired is
               the run's ``ill_posed_kind``)
converged      ‖∇R(θ)‖ ≤ ``converged_tol``                            log‖∇R‖ − log tol
diverged       R = ±∞, or R or ‖θ‖ above ``divergence_cap``           log cap − log size
=============  ======================================================  ================

diffrax is given the single function v(θ) = min of the scaled values, so the event is the
first in *time*, whatever the order of the conditions (two diffrax events firing in one
step are ordered by pytree key, not by time), and the condition that fired is read off at
the located state afterwards (:func:`classify`).

The crossing is located inside the last step [t_a, t_b] (v(t_a) > 0 ≥ v(t_b)) by
:class:`BracketBisection`, which never leaves that bracket and stops once it is narrower
than ``rtol·|t| + atol``: the event is then *certified* to lie inside it.  diffrax's
default for events, Newton, could leave the bracket (clipped to its end) on the steep,
kinked v near ill-posedness, and reported ``converged`` at t = 0 with θ = θ₀
(docs/performance.md, "events").
"""
from __future__ import annotations

from typing import Any, ClassVar

import equinox as eqx
import jax.numpy as jnp
import numpy as np
import optimistix as optx

from .._outcomes import Outcome, refine_converged

__all__ = ["BracketBisection", "event_values", "event_function", "classify", "settle", "NONFINITE",
           "ILL_POSED", "CONVERGED", "DIVERGED", "min_margin", "ill_posed_kinds"]

# indices of event_values' entries (and the codes classify returns)
NONFINITE, ILL_POSED, CONVERGED, DIVERGED = range(4)


class _Bracket(eqx.Module):
    lower: Any
    upper: Any
    flip: Any


class BracketBisection(optx.AbstractRootFinder):
    """Bisection on the bracket diffrax passes as ``options["lower"/"upper"]``.

    Terminates on the bracket width alone (|upper − lower| < atol + rtol·|t|); unlike
    ``optx.Bisection`` it does not also ask |f| < atol, which cannot be met where f is
    steep or jumps (the ``nonfinite`` indicator).  The root is always inside the bracket.
    """

    rtol: float
    atol: float
    norm: ClassVar = jnp.abs

    def init(self, fn, y, args, options, f_struct, aux_struct, tags):
        lower = jnp.asarray(options["lower"], f_struct.dtype)
        upper = jnp.asarray(options["upper"], f_struct.dtype)
        # v falls through zero (v(lower) > 0 ≥ v(upper)); detect it anyway, for safety
        f_lower, _ = fn(lower, args)
        return _Bracket(lower, upper, ~(f_lower < 0))

    def step(self, fn, y, args, options, state, tags):
        f, aux = fn(y, args)
        # NaN counts as "past the root", so a bracket never closes on an undefined point
        past = jnp.where(state.flip, ~(f > 0), f >= 0)
        lower = jnp.where(past, state.lower, y)
        upper = jnp.where(past, y, state.upper)
        return lower + 0.5 * (upper - lower), _Bracket(lower, upper, state.flip), aux

    def terminate(self, fn, y, args, options, state, tags):
        width = jnp.abs(state.upper - state.lower)
        return width < self.atol + self.rtol * jnp.abs(y), optx.RESULTS.successful

    def postprocess(self, fn, y, aux, args, options, state, tags, result):
        # the upper end: the side where the condition already holds
        return state.upper, aux, {}


def min_margin(margins):
    """The smallest of a model's margins (:meth:`Problem.margins`); a NaN margin (one that
    reads an equilibrium that is NaN) counts as +∞: the ``nonfinite`` condition reports it."""
    return jnp.min(jnp.where(jnp.isnan(margins), jnp.inf, margins), axis=-1)


def ill_posed_kinds(problem, outcome, kind_index) -> np.ndarray:
    """Per member, the name of the margin that fired (``model.margin_names``) where the
    outcome is ``ill_posed``, "" elsewhere."""
    names = np.asarray(list(problem.model.margin_names) + [""])
    idx = np.where(np.asarray(outcome) == Outcome.ill_posed.value, np.asarray(kind_index), -1)
    return names[idx]


def event_values(problem, y, eps, gtol, cap, evaluate):
    """The scaled value of each condition at θ = y (≤ 0: the condition holds); order
    NONFINITE, ILL_POSED, CONVERGED, DIVERGED.  ``evaluate(y)`` gives (R, ∇R, margins)
    (:meth:`Problem.evaluate`)."""
    risk, grad, margins = evaluate(y)
    nan = jnp.isnan(risk) | jnp.any(jnp.isnan(grad))
    v_nan = jnp.where(nan & jnp.all(jnp.isfinite(y)), -1.0, 1.0)
    v_ill = min_margin(margins) - eps
    gn = jnp.linalg.norm(grad)
    # log scale: ‖∇R‖ decays exponentially, so its log is near-linear in t
    v_conv = jnp.where(jnp.isnan(gn), jnp.inf, jnp.log(gn + 1e-300) - jnp.log(gtol))
    size = jnp.maximum(jnp.abs(risk), jnp.linalg.norm(y))
    room = jnp.log(cap) - jnp.log(size + 1e-300)
    v_div = jnp.where(jnp.isnan(room), jnp.inf, jnp.where(jnp.isfinite(room), room, -1.0))
    return jnp.stack([v_nan, v_ill, v_conv, v_div])


def event_function(problem, eps, gtol, cap, evaluate):
    """The diffrax event function v = min of :func:`event_values`."""

    def v(t, y, args, **kw):
        return jnp.min(event_values(problem, y, eps, gtol, cap, evaluate))

    return v


def classify(values):
    """Which condition holds at a located event state.

    ``nonfinite`` first (it makes the others meaningless); then ``ill_posed`` and
    ``diverged``, whose values (margin, size) are well-conditioned in θ, each within a
    rounding allowance of zero; otherwise ``converged``, the only condition left that can
    have fired.  ‖∇R‖ itself is not re-tested: near ill-posedness (Hessian ~1e10) one ulp
    of θ moves it by more than converged_tol, so a re-test would be rounding noise, and
    the truth of ``converged`` is decided by R − R* afterwards (:func:`settle`)."""
    return jnp.where(values[NONFINITE] < 0, NONFINITE,
                     jnp.where(values[ILL_POSED] <= 1e-12, ILL_POSED,
                               jnp.where(values[DIVERGED] <= 1e-9, DIVERGED, CONVERGED)))


def settle(problem, outcome, theta_last, risk_last, risk_tol, message):
    """Make the labels true after a run (NumPy, on the last state of each member).

    * ``converged`` where R − R* > risk_tol·max(1, E f²) becomes ``stationary``;
    * ``nonfinite`` members get a message naming what went undefined (the equilibrium, the
      readout, the risk or its gradient).
    Returns (outcome, gap = R − R*, message)."""
    scale = max(1.0, float(problem.c))
    outcome, gap = refine_converged(outcome, risk_last, problem.risk_min, scale, risk_tol)
    message = np.asarray(message, dtype=object).copy()
    for i in np.flatnonzero(outcome == Outcome.stationary.value):
        message[i] = (f"‖∇R‖ ≤ converged_tol but R − R* = {gap[i]:.3g} > risk_tol·scale = "
                      f"{risk_tol * scale:.3g}: not a minimiser (‖θ‖ = "
                      f"{np.linalg.norm(theta_last[i]):.3g})")
    for i in np.flatnonzero(outcome == Outcome.nonfinite.value):
        message[i] = problem.explain_nonfinite(theta_last[i])
    return outcome, gap, message.astype(str)
