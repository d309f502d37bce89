r"""Singularity event analysis of a sweep (see :mod:`flowdeq.sweep`).

Per member: outcome, event time (flow) or step (GD), closest approach to ill-posedness
min_t margin(θ(t)) (linear: |1 − θ₂|, single-index: 1 − L|θ₂|), over the saved points /
iterates including the event point; for GD also whether the iterates jumped the
hyperplane θ₂ = 1 (outcome ``crossed``) and θ₂ just before/after the jump.

Summary: outcome counts and fractions, event-time quantiles per outcome, closest-approach
quantiles, and for GD per start the smallest step size that crosses.
Figures and files: :func:`flowdeq.plot.sweeps.write_analysis`.
"""
from __future__ import annotations

import numpy as np

from .sweep import margin_np

__all__ = ["analyze_sweep", "crossing_step_sizes"]


def _quantiles(a):
    a = np.asarray(a, float)
    a = a[np.isfinite(a)]
    if a.size == 0:
        return None
    q = np.quantile(a, [0.0, 0.25, 0.5, 0.75, 1.0])
    return {"min": q[0], "q25": q[1], "median": q[2], "q75": q[3], "max": q[4], "mean": a.mean(),
            "count": int(a.size)}


def crossing_step_sizes(res) -> dict:
    """GD sweep: for each start, the sorted step sizes whose iterates crossed θ₂ = 1, and the smallest."""
    if res["kind"] != "descent":
        raise ValueError("res is a flow sweep: crossing step sizes need a descent sweep.")
    etas = np.asarray(res["step_sizes"], float)
    n = len(res["starts"])
    crossed = (res["outcome"] == "crossed").reshape(len(etas), n)
    per = [sorted(etas[crossed[:, j]].tolist()) for j in range(n)]
    smallest = np.array([p[0] if p else np.nan for p in per])
    return {"per_start": per, "smallest": smallest, "crossed": crossed}


def analyze_sweep(problem, res, grid=None) -> dict:
    """Per-member table and summary statistics of a merged sweep result (``run_sweep``)."""
    out = np.asarray(res["outcome"])
    kind = res["kind"]
    labels, counts = np.unique(out, return_counts=True)
    summary = {"kind": kind, "members": int(out.size),
               "outcome_counts": {str(k): int(v) for k, v in zip(labels, counts)},
               "outcome_fractions": {str(k): float(v) / out.size for k, v in zip(labels, counts)},
               "closest_approach": _quantiles(res["min_margin"]),
               "margin": problem.model.margin_label}
    ev = res["event_time"] if kind == "flow" else res["event_step"].astype(float)
    ev = np.where((kind == "flow") | (res["event_step"] >= 0), ev, np.nan)
    summary["event_" + ("time" if kind == "flow" else "step")] = {
        str(k): _quantiles(ev[out == k]) for k in labels}
    an = {"summary": summary, "kind": kind, "outcome": out, "event": ev,
          "min_margin": res["min_margin"], "starts": res["starts"], "grid": grid, "res": res,
          "start_margin": margin_np(problem, res["starts"])}
    if kind == "descent":
        cs = crossing_step_sizes(res)
        an["crossing"] = cs
        etas = np.asarray(res["step_sizes"], float)
        summary["step_sizes"] = etas.tolist()
        summary["crossed_fraction_by_step_size"] = {
            f"{e:g}": float(cs["crossed"][i].mean()) for i, e in enumerate(etas)}
        summary["smallest_crossing_step_size"] = _quantiles(cs["smallest"])
        summary["starts_never_crossing"] = int(np.sum(~np.isfinite(cs["smallest"])))
    return an


