r"""Singularity event analysis of a sweep (see :mod:`flowdeq.sweep`).

Per member: outcome, event time (flow) or step (GD), closest approach to ill-posedness
min_t |1 − θ₂(t)| (linear) or min_t 1 − L|θ₂(t)| (single-index), over the saved points /
iterates including the event point; for GD also whether the iterates jumped the
hyperplane θ₂ = 1 (outcome ``crossed``) and θ₂ just before/after the jump.

Summary: outcome counts and fractions, event-time quantiles per outcome, closest-approach
quantiles, and for GD per start the smallest step size that crosses.
Figures (``write_analysis``): outcome map and time-to-event map (grid sweeps),
closest-approach histogram, η × θ₀ crossing map (GD sweeps).
"""
from __future__ import annotations

import csv
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import ListedColormap  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from .portraits import OUTCOME_COLORS, outcome_map_figure  # noqa: E402

__all__ = ["analyze_sweep", "write_analysis", "crossing_step_sizes", "closest_approach_histogram",
           "crossing_map"]


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
               "margin": "|1 - theta2|" if problem.is_linear else "1 - L|theta2|"}
    ev = res["event_time"] if kind == "flow" else res["event_step"].astype(float)
    ev = np.where((kind == "flow") | (res["event_step"] >= 0), ev, np.nan)
    summary["event_" + ("time" if kind == "flow" else "step")] = {
        str(k): _quantiles(ev[out == k]) for k in labels}
    an = {"summary": summary, "kind": kind, "outcome": out, "event": ev,
          "min_margin": res["min_margin"], "starts": res["starts"], "grid": grid, "res": res}
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


def closest_approach_histogram(an, ax=None, title=None):
    """Histogram of the closest approach (log x axis), stacked by outcome; returns (fig, ax)."""
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 4), constrained_layout=True)
    else:
        fig = ax.figure
    mm = np.asarray(an["min_margin"], float)
    ok = np.isfinite(mm) & (mm > 0)
    if ok.any():
        lo, hi = np.log10(mm[ok].min()), np.log10(mm[ok].max())
        bins = np.logspace(lo - 0.05, hi + 0.05, 30)
        labs = [k for k in np.unique(an["outcome"][ok])]
        ax.hist([mm[ok & (an["outcome"] == k)] for k in labs], bins=bins, stacked=True,
                color=[OUTCOME_COLORS.get(k, "#999999") for k in labs], label=list(labs))
        ax.set_xscale("log")
        ax.legend(fontsize=8)
    ax.set_xlabel("closest approach  " + ("min |1 − θ₂(t)|" if an["summary"]["margin"].startswith("|")
                                          else "min 1 − L|θ₂(t)|"))
    ax.set_ylabel("members")
    ax.set_title(title or f"closest approach to ill-posedness ({an['kind']})")
    return fig, ax


def crossing_map(an, ax=None, order=None):
    """Image of outcomes over (start index, η) for a GD sweep; returns (fig, ax)."""
    res = an["res"]
    etas = np.asarray(res["step_sizes"], float)
    n = len(res["starts"])
    out = np.asarray(an["outcome"]).reshape(len(etas), n)
    if order is None:
        order = np.argsort(res["starts"][:, -1], kind="stable")
    out = out[:, order]
    labs = sorted(np.unique(out))
    code = np.searchsorted(labs, out)
    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 4), constrained_layout=True)
    else:
        fig = ax.figure
    cmap = ListedColormap([OUTCOME_COLORS.get(k, "#999999") for k in labs])
    ax.imshow(code, aspect="auto", origin="lower", cmap=cmap, vmin=-0.5, vmax=len(labs) - 0.5,
              interpolation="nearest", gid="crossing_map")
    ax.set_yticks(range(len(etas)))
    ax.set_yticklabels([f"{e:.3g}" for e in etas])
    ax.set_ylabel("step size η")
    ax.set_xlabel("start θ₀ (sorted by θ₂(0))")
    ax.legend(handles=[Patch(color=OUTCOME_COLORS.get(k, "#999999"), label=k) for k in labs],
              fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_title("GD outcome over η × θ₀ (crossed = jumped θ₂ = 1)")
    return fig, ax


def _overlay_landmarks(ax, problem):
    from .portraits import add_landmarks

    old = list(ax.get_legend().legend_handles)
    n0 = len(ax.lines)
    add_landmarks(ax, problem, (), ax.get_xlim(), ax.get_ylim())
    new = [ln for ln in ax.lines[n0:] if not (ln.get_label() or "_").startswith("_")]
    ax.legend(handles=old + new, loc="best", fontsize=7, framealpha=0.9)


def write_analysis(an, out, problem=None, prefix=""):
    """Write members.csv, analysis.json and the figures (PNG + PDF) into ``out``."""
    from .studies._common import save_fig, write_json

    os.makedirs(out, exist_ok=True)
    res = an["res"]
    with open(os.path.join(out, f"{prefix}members.csv"), "w", newline="") as fh:
        w = csv.writer(fh)
        p = res["starts"].shape[1]
        w.writerow(["member", "start"] + [f"theta0_{i}" for i in range(p)] +
                   ["step_size", "outcome", "event", "min_margin", "risk_final"])
        for i in range(len(res["outcome"])):
            s = int(res["start"][i])
            w.writerow([i, s] + [f"{v:.10g}" for v in res["starts"][s]] +
                       [f"{res['step_size'][i]:.6g}", res["outcome"][i], f"{an['event'][i]:.10g}",
                        f"{res['min_margin'][i]:.6g}", f"{res['risk_final'][i]:.6g}"])
    write_json(out, f"{prefix}analysis.json", an["summary"])
    files = []
    fig, _ = closest_approach_histogram(an)
    files.append(save_fig(fig, out, f"{prefix}closest_approach"))
    grid = an["grid"]
    if grid is not None:
        xs, ys = grid
        m = 1 if an["kind"] == "flow" else len(res["step_sizes"])
        for j in range(m):
            sl = slice(j * len(res["starts"]), (j + 1) * len(res["starts"]))
            oc = an["outcome"][sl].reshape(len(ys), len(xs))
            ev = an["event"][sl].reshape(len(ys), len(xs))
            tag = "" if m == 1 else f"_eta{j}"
            what = "flow" if an["kind"] == "flow" else f"GD η = {res['step_sizes'][j]:g}"
            xl = "θ₁(0)" if res["starts"].shape[1] == 2 else "θ₁(0)ᵀξ/‖ξ‖"
            fig, ax = outcome_map_figure(xs, ys, oc, ev, xlabel=xl, title=f"outcome map ({what})",
                                         time_label="event time" if an["kind"] == "flow" else "event step")
            if problem is not None:
                _overlay_landmarks(ax, problem)
            files.append(save_fig(fig, out, f"{prefix}outcome_map{tag}"))
            fig, ax = plt.subplots(figsize=(6, 4.8), constrained_layout=True)
            im = ax.pcolormesh(xs, ys, np.log10(np.where(ev > 0, ev, np.nan)), cmap="viridis",
                               shading="nearest")
            fig.colorbar(im, ax=ax, label="log₁₀ event " + ("time" if an["kind"] == "flow" else "step"))
            ax.set_xlabel(xl)
            ax.set_ylabel("θ₂(0)")
            ax.set_title(f"time to event ({what}); blank = no event")
            files.append(save_fig(fig, out, f"{prefix}time_to_event{tag}"))
    if an["kind"] == "descent":
        fig, _ = crossing_map(an)
        files.append(save_fig(fig, out, f"{prefix}crossing_map"))
    an["files"] = files
    return files
