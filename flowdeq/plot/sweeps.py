r"""Figures and files of a singularity analysis (:func:`flowdeq.ensembles.singularity.analyze_sweep`):
outcome and time-to-event maps (grid sweeps), the closest-approach histogram and the η × θ₀
crossing map (GD sweeps), with members.csv and analysis.json beside them."""
from __future__ import annotations

import csv
import os

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.patches import Patch

from ..analysis.geometry import chart
from ..io import write_json
from .figures import draw_figure
from .portraits import OUTCOME_COLORS, add_landmarks, outcome_map_figure

__all__ = ["write_analysis", "closest_approach_histogram", "crossing_map"]


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
    ax.set_xlabel(f"closest approach  min over t of {an['summary']['margin']}")
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
        order = np.argsort(an["start_margin"], kind="stable")
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
    ax.set_xlabel("start θ₀ (sorted by its margin)")
    ax.legend(handles=[Patch(color=OUTCOME_COLORS.get(k, "#999999"), label=k) for k in labs],
              fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_title("GD outcome over η × θ₀ (crossed = jumped between well-posed components)")
    return fig, ax


def _overlay_landmarks(ax, problem):
    old = list(ax.get_legend().legend_handles)
    n0 = len(ax.lines)
    add_landmarks(ax, problem, (), ax.get_xlim(), ax.get_ylim())
    new = [ln for ln in ax.lines[n0:] if not (ln.get_label() or "_").startswith("_")]
    ax.legend(handles=old + new, loc="best", fontsize=7, framealpha=0.9)


def write_analysis(an, out, problem=None, prefix=""):
    """Write members.csv, analysis.json and the figures (PNG; PDF too with ``--pdf``) into ``out``."""
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
    # the data above first; a figure that cannot be drawn is a FigureWarning (draw_figure)
    files = []

    def figure(name, draw):
        path = draw_figure(out, f"{prefix}{name}", draw)
        if path is not None:
            files.append(path)

    figure("closest_approach", lambda: closest_approach_histogram(an)[0])
    grid = an["grid"]
    labels = chart(problem).labels if problem is not None else ("s", "t")
    if grid is not None:
        xs, ys = grid
        m = 1 if an["kind"] == "flow" else len(res["step_sizes"])
        for j in range(m):
            sl = slice(j * len(res["starts"]), (j + 1) * len(res["starts"]))
            oc = an["outcome"][sl].reshape(len(ys), len(xs))
            ev = an["event"][sl].reshape(len(ys), len(xs))
            tag = "" if m == 1 else f"_eta{j}"
            what = "flow" if an["kind"] == "flow" else f"GD η = {res['step_sizes'][j]:g}"
            xl = f"{labels[0]}(0)"

            def outcome_map(oc=oc, ev=ev, what=what, xl=xl):
                fig, ax = outcome_map_figure(
                    xs, ys, oc, ev, xlabel=xl, title=f"outcome map ({what})",
                    time_label="event time" if an["kind"] == "flow" else "event step")
                if problem is not None:
                    _overlay_landmarks(ax, problem)
                return fig

            def time_to_event(ev=ev, what=what, xl=xl):
                fig, ax = plt.subplots(figsize=(6, 4.8), constrained_layout=True)
                im = ax.pcolormesh(xs, ys, np.log10(np.where(ev > 0, ev, np.nan)), cmap="viridis",
                                   shading="nearest")
                fig.colorbar(im, ax=ax,
                             label="log₁₀ event " + ("time" if an["kind"] == "flow" else "step"))
                ax.set_xlabel(xl)
                ax.set_ylabel(f"{labels[1]}(0)")
                ax.set_title(f"time to event ({what}); blank = no event")
                return fig

            figure(f"outcome_map{tag}", outcome_map)
            figure(f"time_to_event{tag}", time_to_event)
    if an["kind"] == "descent":
        figure("crossing_map", lambda: crossing_map(an)[0])
    an["files"] = files
    return files
