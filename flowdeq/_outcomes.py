"""How a run ended: one vocabulary for gradient flow and gradient descent.

Each outcome is a ``str`` enumeration member (so it compares equal to its label and saves
as plain text) carrying a message, in the style of diffrax's ``RESULTS``.  Files written
before flowdeq 0.2 used ``singular`` (flow) and ``noncontractive`` (GD) for what is now
``ill_posed``, and sweeps ``ill-posed`` for ``ill_posed_start``; :func:`normalise` maps
them on load.
"""
from __future__ import annotations

import enum

import numpy as np

__all__ = ["Outcome", "FLOW_OUTCOMES", "DESCENT_OUTCOMES", "LEGACY_LABELS", "normalise",
           "refine_converged"]


class Outcome(str, enum.Enum):
    crossed = "crossed"
    ill_posed = "ill_posed"
    nonfinite = "nonfinite"
    converged = "converged"
    stationary = "stationary"
    diverged = "diverged"
    max_time = "max_time"
    max_steps = "max_steps"
    failed = "failed"
    ill_posed_start = "ill_posed_start"

    def __str__(self) -> str:
        return self.value

    @property
    def message(self) -> str:
        return _MESSAGES[self]


_MESSAGES = {
    Outcome.crossed: "GD jumped between components of the well-posed set (model.side changed "
                     "sign); the flow never does (Lemma 3.2)",
    Outcome.ill_posed: "the margin to ill-posedness fell to singular_eps",
    Outcome.nonfinite: "R or ∇R became NaN at a finite θ (stats['message'] names what: "
                       "the equilibrium, the readout, the risk or its gradient)",
    Outcome.converged: "‖∇R‖ fell to converged_tol at a minimiser: R − R* ≤ risk_tol·max(1, "
                       "E f²) where the model knows R*, else a certified event",
    Outcome.stationary: "‖∇R‖ fell to converged_tol where R − R* > risk_tol·max(1, E f²): a "
                        "stationary point that is not a minimiser (or a flat run to infinity)",
    Outcome.diverged: "R or θ became infinite or exceeded divergence_cap",
    Outcome.max_time: "no event before t1",
    Outcome.max_steps: "no event within the given number of GD steps",
    Outcome.failed: "the ODE solver gave up (see stats['message'])",
    Outcome.ill_posed_start: "a sweep member whose start was itself (within 10 singular_eps "
                             "of) ill-posed: not run",
}

# index = the integer code the compiled solves return
FLOW_OUTCOMES = (Outcome.nonfinite, Outcome.ill_posed, Outcome.converged, Outcome.diverged,
                 Outcome.max_time, Outcome.failed)
DESCENT_OUTCOMES = (Outcome.crossed, Outcome.ill_posed, Outcome.nonfinite, Outcome.diverged,
                    Outcome.converged, Outcome.max_steps, Outcome.failed)
LEGACY_LABELS = {"singular": Outcome.ill_posed.value, "noncontractive": Outcome.ill_posed.value,
                 "ill-posed": Outcome.ill_posed_start.value}


def normalise(labels):
    """Outcome labels (a str or an array of str) with the pre-0.2 names mapped."""
    if isinstance(labels, str):
        return LEGACY_LABELS.get(labels, labels)
    return np.array([LEGACY_LABELS.get(str(v), str(v)) for v in np.asarray(labels).ravel()]
                    ).reshape(np.shape(labels))


def labels(codes, table) -> np.ndarray:
    """Integer codes from a compiled solve → an array of labels."""
    return np.array([table[c].value for c in np.asarray(codes).ravel()]).reshape(np.shape(codes))


def refine_converged(outcome, risk, risk_min, scale, tol):
    """``converged`` members whose R − R* exceeds tol·scale become ``stationary``.

    ``risk_min`` is R* where the model knows it (NaN otherwise: those keep ``converged``,
    which the event certified); R ≥ 0 always, so R ≤ tol·scale is a minimiser for any model.
    Returns (outcome, gap) with gap = R − R* (NaN where unknown)."""
    outcome = np.asarray(outcome).astype(f"<U{max(len(o.value) for o in Outcome)}")
    risk = np.asarray(risk, float)
    # NumPy throughout: with R* a JAX scalar each eager op here compiled a program (~0.1 s)
    risk_min = float(np.asarray(risk_min))
    gap = risk - risk_min if np.isfinite(risk_min) else np.full_like(risk, np.nan)
    floor = tol * scale
    off = (outcome == Outcome.converged.value) & (gap > floor) & ~(risk <= floor)
    outcome[off] = Outcome.stationary.value
    return outcome, gap
