"""Labels that are true: what a run's outcome becomes once its last state is known, and
which of a model's margins an ``ill_posed`` run crossed.

Kept apart from ``events.py`` (which imports optimistix for the flow's root finder) so a
GD-only process never imports optimistix or lineax (issue 16's import budget).
"""
from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from .._outcomes import Outcome, refine_converged

__all__ = ["settle", "min_margin", "ill_posed_kinds"]


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
