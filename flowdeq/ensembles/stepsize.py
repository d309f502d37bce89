r"""Step-size maps: GD over an (η, θ₀) grid beside the flow, with linear-stability predictions.

Runs on the resumable sweep engine (:func:`flowdeq.ensembles.sweep.run_sweep`): a GD sweep
over the starts × step sizes and a flow sweep over the starts (each in its own subfolder of
``out``, ``descent/`` and ``flow/``, so either resumes), then analyses the saved final θ's
post hoc — nothing beyond the sweeps' own files is needed, and an interrupted map resumes
with nothing recomputed.

Per member (η-major, like the GD sweep: member k = i·N + j is η_i, start j):

=====================  ==============================================================
outcome                GD's outcome (converged, crossed, ill_posed, diverged, max_steps, …)
theta_final            the last iterate (for ``crossed``: the one after the jump)
branch                 ``model.side`` at the last iterate (linear DEQ: +1 below θ₂ = 1,
                       the minimisers (αφ*, 1 − α) with α > 0; −1 above, α < 0)
same_branch            branch equals the start's
radius_final           linear DEQ: ‖θ − (0, 1)‖ at the last iterate (NaN otherwise)
radius_flow            linear DEQ: the flow's conserved radius ‖θ₀ − (0, 1)‖ (Thm 3.1)
sharpness_final        λ_max(∇²R) at the last iterate
eta_lambda_over_2      η·λ_max/2 there (< 1: linearly stable for GD)
first_cross_step       the step that jumped to another component (−1 if none)
dist_to_flow_limit     ‖θ_final − the flow's limit from the same start‖
=====================  ==============================================================

Per start: the flow's outcome and limit, λ_max at that limit and the **predicted** boundary
η_pred = 2/λ_max(flow limit) (GD can converge to the flow's limit only for η < η_pred), and
two **observed** thresholds on the η grid:

* ``eta_edge``: the smallest η at which GD does not end strictly inside the stable region —
  a hard failure (crossed, ill_posed, diverged, nonfinite) or a last iterate with
  ηλ_max/2 ≥ 1 − band (pinned at the edge of stability);
* ``eta_fail``: the smallest η at which GD fails hard (crossed, ill_posed, diverged,
  nonfinite).  ``max_steps`` is neither (slow runs and run-aways both end there; the
  figures show them).
"""
from __future__ import annotations

import os

import equinox as eqx
import jax
import numpy as np

from ..analysis.sharpness import sharpness
from ..dynamics.modified import padded_call
from ..models.paper import LinearDEQ
from ..problem import Problem
from .sweep import run_sweep

__all__ = ["step_size_map", "analyze_step_sizes", "HARD_FAILURES"]

HARD_FAILURES = ("crossed", "ill_posed", "diverged", "nonfinite")


def _radius(problem, theta):
    if problem.model.kind != "linear":
        return np.full(np.shape(theta)[:-1], np.nan)
    t1, t2 = LinearDEQ.split(np.asarray(theta, float))
    return np.sqrt(np.sum(t1 ** 2, axis=-1) + (t2 - 1.0) ** 2)


@eqx.filter_jit
def _sides(problem, theta):
    return jax.vmap(problem.side)(theta)


def _side(problem, theta):
    """model.side of each row of θ (n, p) (one compiled call; NaN for a non-finite row)."""
    th = np.atleast_2d(np.asarray(theta, float))
    ok = np.all(np.isfinite(th), axis=-1)
    s = np.asarray(padded_call(lambda x: _sides(problem, x), np.where(ok[:, None], th, 0.0)), float)
    return np.where(ok, s, np.nan)


def _first(mask, etas):
    """Per column, the smallest η whose row is True (NaN if none)."""
    any_ = mask.any(axis=0)
    return np.where(any_, etas[np.argmax(mask, axis=0)], np.nan)


def step_size_map(problem: Problem, starts, step_sizes, out: str | None = None, *, steps: int,
                  descent: dict | None = None, flow: dict | None = None, chunk_size: int = 64,
                  flow_chunk_size: int | None = None, resume: bool = False, progress=True,
                  executor=None, band: float = 0.05, sharpness_kw: dict | None = None) -> dict:
    """GD over starts (N, p) × step sizes (m,) and the flow over the starts, then
    :func:`analyze_step_sizes`.

    ``descent`` / ``flow``: extra sweep settings (descent: singular_eps, converged_tol,
    divergence_cap, risk_tol; flow: t1 — default 200 —, solver, rtol, …).  ``out``: a
    directory for the two resumable sweeps (``out/descent``, ``out/flow``); None keeps
    them in memory.  ``chunk_size`` is the GD sweep's, ``flow_chunk_size`` the flow sweep's
    (default the same; 1 runs each flow unbatched, reusing a single-start compiled solve).
    Returns the analysis dict (module docstring)."""
    steps = int(steps)
    starts = np.atleast_2d(np.asarray(starts, float))
    sub = (lambda name: None) if out is None else (lambda name: os.path.join(out, name))
    gd = run_sweep(problem, starts, sub("descent"), kind="descent", step_sizes=step_sizes,
                   settings={"steps": steps, **(descent or {})}, chunk_size=chunk_size,
                   resume=resume, progress=progress, executor=executor)
    fl = run_sweep(problem, starts, sub("flow"), kind="flow",
                   settings={"t1": 200.0, **(flow or {})},
                   chunk_size=chunk_size if flow_chunk_size is None else flow_chunk_size,
                   resume=resume, progress=progress, executor=executor)
    return analyze_step_sizes(problem, gd, fl, band=band, sharpness_kw=sharpness_kw)


def analyze_step_sizes(problem: Problem, gd: dict, flow: dict, band: float = 0.05,
                       sharpness_kw: dict | None = None) -> dict:
    """The per-member and per-start tables of a step-size map from a GD sweep and a flow
    sweep over the same starts (merged results of :func:`run_sweep`)."""
    if gd["kind"] != "descent" or flow["kind"] != "flow":
        raise ValueError("give a descent sweep and a flow sweep (run_sweep kind=\"descent\", "
                         "\"flow\").")
    starts = np.asarray(gd["starts"], float)
    if np.asarray(flow["starts"]).shape != starts.shape or not np.array_equal(flow["starts"], starts):
        raise ValueError("the descent and flow sweeps have different starts: run both over the "
                         "same θ₀ array.")
    etas = np.asarray(gd["step_sizes"], float)
    m, n = etas.size, len(starts)
    kw = dict(sharpness_kw or {})
    out = np.asarray(gd["outcome"]).astype(str)
    th = np.asarray(gd["theta_final"], float)
    eta_m = np.repeat(etas, n)
    start_m = np.tile(np.arange(n), m)
    lam = sharpness(problem, th, **kw)
    flow_lim = np.asarray(flow["theta_final"], float)
    lam_flow = sharpness(problem, flow_lim, **kw)
    branch = _side(problem, th)
    start_side = _side(problem, starts)
    cross = np.where(out == "crossed", np.asarray(gd["event_step"]), -1)
    members = {
        "outcome": out, "step_size": eta_m, "start": start_m, "theta_final": th,
        "risk_final": np.asarray(gd["risk_final"], float),
        "branch": branch, "same_branch": branch == start_side[start_m],
        "radius_final": _radius(problem, th), "radius_flow": _radius(problem, starts)[start_m],
        "sharpness_final": lam, "eta_lambda_over_2": eta_m * lam / 2.0,
        "first_cross_step": cross, "event_step": np.asarray(gd["event_step"]),
        "dist_to_flow_limit": np.linalg.norm(th - flow_lim[start_m], axis=1),
    }
    grid = lambda a: np.asarray(a).reshape((m, n) + np.shape(a)[1:])  # noqa: E731
    hard = np.isin(grid(out), HARD_FAILURES)
    edge = hard | (grid(members["eta_lambda_over_2"]) >= 1.0 - band)
    per_start = {
        "flow_outcome": np.asarray(flow["outcome"]).astype(str), "flow_limit": flow_lim,
        "sharpness_flow_limit": lam_flow, "eta_pred": 2.0 / lam_flow,
        "eta_edge": _first(edge, etas), "eta_fail": _first(hard, etas),
        "radius_flow": _radius(problem, starts), "side": start_side,
    }
    return {"members": members, "per_start": per_start, "starts": starts, "step_sizes": etas,
            "grid": {k: grid(v) for k, v in members.items() if np.ndim(v) >= 1},
            "band": band, "shape": (m, n)}
