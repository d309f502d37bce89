r"""Phase portraits of the gradient flow θ′ = −∇R(θ) in the (θ₁, θ₂) plane.

For d = 1 the plane is (θ₁, θ₂) itself.  For d > 1 the portrait is the slice
θ₁ = s·ξ̂ (ξ̂ = ξ/‖ξ‖), θ₂ free, drawn in the coordinates (s, θ₂) = (θ₁ᵀξ̂, θ₂); the
field drawn there is the projection (−∇_{θ₁}Rᵀξ̂, −∂_{θ₂}R) and trajectories are
projected the same way.  This slice contains the minimiser line and the target.

Landmarks (``add_landmarks``):

* linear: the singular line θ₂ = 1, the minimiser manifold {(αξ, 1−α)} (drawn as
  s = α‖ξ‖, θ₂ = 1 − α), the trivial point (0, 1) and the conserved circles
  ‖θ₁‖² + (θ₂−1)² = r² centred at (0, 1) (Thm 3.1; exact in the slice);
* single-index: the target (ξ, 0) and the contraction boundary |θ₂| = 1/L.

``phase_portrait`` returns ``(fig, ax)``; ``outcome_map_figure`` draws an outcome
(basin) map coloured by outcome with the event time as shading.  ``cli_portrait`` is
the ``flowdeq portrait CONFIG --out DIR`` verb.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import to_rgb
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ..analysis.geometry import (Chart, check_lim, field_on_grid, lift, margin_on_grid,
                                 project)
from ..analysis.geometry import chart as _chart
from ..problem import Problem

__all__ = ["OKABE_ITO", "OUTCOME_COLORS", "direction", "project", "lift", "field_on_grid",
           "add_landmarks", "add_trajectory", "phase_portrait", "outcome_map_figure",
           "Chart", "default_limits"]

OKABE_ITO = ["#000000", "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00",
             "#CC79A7"]
OUTCOME_COLORS = {"converged": "#009E73", "ill_posed": "#D55E00", "crossed": "#CC79A7",
                  "diverged": "#E69F00", "max_time": "#56B4E9",
                  "max_steps": "#56B4E9", "failed": "#000000", "ill_posed_start": "#BBBBBB",
                  "reached": "#009E73", "other minimiser": "#0072B2", "stuck (R > 0)": "#F0E442"}
OUTCOME_MARKERS = {"converged": "*", "ill_posed": "X", "crossed": "P",
                   "diverged": "^", "max_time": "s", "max_steps": "s", "failed": "x"}


def direction(problem: Problem) -> np.ndarray:
    """The chart's first direction restricted to θ₁ (the paper models' ξ̂, bias entry 0)."""
    return _chart(problem).u[:-1]


def _xi_norm(problem):
    return float(np.linalg.norm(np.asarray(problem.target.xi, float)))


_lim = check_lim


def _linear_landmarks(ax, problem, circles, xlim, ylim):
    xin = _xi_norm(problem)
    ax.axhline(1.0, color="#D55E00", ls="--", lw=1.5, label="singular line θ₂ = 1",
               gid="singular_line")
    # minimisers (αξ, 1−α): s = α‖ξ‖, θ₂ = 1 − α  →  θ₂ = 1 − s/‖ξ‖
    s = np.linspace(*xlim, 200)
    ax.plot(s, 1 - s / max(xin, 1e-300), color="#009E73", lw=1.5,
            label="minimisers (αξ, 1−α)", gid="minimiser_manifold")
    ax.plot([0], [1], "o", color="#000000", ms=6, mfc="white", label="trivial point (0, 1)",
            gid="trivial_point")
    ph = np.linspace(0, 2 * np.pi, 300)
    for i, r in enumerate(circles):
        ax.plot(r * np.cos(ph), 1 + r * np.sin(ph), color="#999999", lw=0.8, ls=":",
                label="conserved circles about (0, 1)" if i == 0 else None,
                gid="conserved_circle")


def _single_index_landmarks(ax, problem, circles, xlim, ylim):
    L = float(problem.model.lipschitz)
    for sgn in (1, -1):
        ax.axhline(sgn / L, color="#CC79A7", ls="--", lw=1.5,
                   label=(f"contraction boundary |θ₂| = 1/L = {1 / L:g}"
                          + ("" if ylim[0] <= 1 / L <= ylim[1] else " (off-frame)"))
                   if sgn == 1 else None,
                   gid="contraction_boundary")
    xin = _xi_norm(problem)
    ax.plot([xin], [0.0], "*", color="#009E73", ms=14, mec="k",
            label=f"target (ξ, 0) = ({xin:g}, 0)", gid="target")


def _generic_landmarks(ax, problem, circles, xlim, ylim, c=None):
    S, T, M = margin_on_grid(problem, xlim, ylim, 121, c)
    if np.nanmin(M) <= 0:
        ax.contourf(S, T, M, levels=[np.nanmin(M) - 1.0, 0.0], colors=["#D55E00"], alpha=0.12)
        ax.contour(S, T, M, levels=[0.0], colors=["#D55E00"], linestyles="--", linewidths=1.5)
    # a proxy line carries the legend entry and a gid tests can find
    ax.plot([], [], color="#D55E00", ls="--", lw=1.5, label="ill-posed set (margin ≤ 0, shaded)",
            gid="ill_posed_set")


# the paper's models draw their own landmarks (keyed on the model's declared ``kind``);
# every other model gets the generic ill-posed set {margin ≤ 0} of its chart
_LANDMARKS = {"linear": _linear_landmarks, "single-index": _single_index_landmarks}


def add_landmarks(ax, problem: Problem, circles=(), xlim=None, ylim=None, c: Chart | None = None):
    """Draw the ill-posed set and, for the paper's models, their landmarks: the singular line,
    minimisers, trivial point and conserved circles (linear) or the contraction boundary and
    target (single-index)."""
    xlim = ax.get_xlim() if xlim is None else xlim
    ylim = ax.get_ylim() if ylim is None else ylim
    draw = _LANDMARKS.get(problem.model.kind) if c is None else None
    if draw is None:
        _generic_landmarks(ax, problem, circles, xlim, ylim, c)
    else:
        draw(ax, problem, circles, xlim, ylim)
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)


def default_limits(problem: Problem):
    """Portrait limits that show the paper models' landmarks; (−3, 3)² otherwise."""
    if problem.model.kind is None:
        return (-3.0, 3.0), (-3.0, 3.0)
    xin = _xi_norm(problem)
    xlim = (-1.5 * xin - 0.5, 1.5 * xin + 0.5)
    if problem.model.kind == "linear":
        return xlim, (-1.5, 3.0)
    L = float(problem.model.lipschitz)
    return xlim, (-0.95 / L, 0.95 / L)


def _conserved_radii(problem, trajs):
    """Radii ‖θ₀ − (0, 1)‖ of the linear DEQ's conserved circles through the starts (Thm 3.1)."""
    radii = []
    for tr in trajs:
        th0 = np.atleast_2d(tr.theta[..., 0, :] if tr.is_batch else tr.theta[0])
        t1, t2 = problem.model.split(th0)
        radii += list(np.sqrt(np.sum(t1 ** 2, 1) + (t2 - 1) ** 2))
    return radii


def add_trajectory(ax, problem: Problem, traj, color="#0072B2", label=None, style="-",
                   marker_every=None, c: Chart | None = None, **kw):
    """Draw each member of ``traj`` projected on the chart, start ○ and an event marker."""
    for i, m in enumerate(traj.members()):
        s, t2 = project(problem, m.theta, c)
        lab = label if i == 0 else None
        if traj.kind == "descent":
            ax.plot(s, t2, style, color=color, lw=0.8, ms=2.0, marker=".", label=lab, **kw)
        else:
            ax.plot(s, t2, style, color=color, lw=1.8, label=lab, **kw)
        ax.plot(s[0], t2[0], "o", color=color, mfc="white", ms=6)
        out = str(m.outcome)
        if out in OUTCOME_MARKERS and out not in ("max_time", "max_steps"):
            ax.plot(s[-1], t2[-1], OUTCOME_MARKERS[out], color=OUTCOME_COLORS.get(out, color),
                    mec="k", ms=9, gid=f"event_{out}")


def phase_portrait(problem: Problem, xlim=(-3, 3), ylim=(-2, 3), n: int = 41, *, flows=(),
                   descents=(), circles=None, ax=None, title=None, density=1.2,
                   chart: Chart | None = None, field=None):
    """Streamlines of −∇R on a chart with landmarks and trajectories; returns ``(fig, ax)``.

    ``flows`` / ``descents``: Trajectory objects (single or batch) to overlay.
    ``circles``: radii of conserved circles (linear); default: the radii of the flows' starts.
    ``chart``: the 2-D slice (default: the model's, see :mod:`flowdeq.analysis.geometry`).
    ``field``: a precomputed ``field_on_grid`` result (S, T, U, V) to draw instead of
    computing it (``flowdeq show`` re-draws a saved portrait this way).
    """
    c = chart
    xlim, ylim = _lim("xlim", xlim), _lim("ylim", ylim)
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.4, 5.2), constrained_layout=True)
    else:
        fig = ax.figure
    S, T2, U, V = field_on_grid(problem, xlim, ylim, n, c=c) if field is None else field
    speed = np.hypot(U, V)
    # log speed for colour: the field spans orders of magnitude near θ₂ = 1
    lw = 0.4 + 1.2 * np.nan_to_num(np.log1p(speed) / np.nanmax(np.log1p(speed) + 1e-300))
    ax.streamplot(S, T2, U, V, color="#8C8C8C", linewidth=lw, density=density, arrowsize=0.8)
    flows = [flows] if hasattr(flows, "kind") else list(flows)
    descents = [descents] if hasattr(descents, "kind") else list(descents)
    if circles is None and problem.model.kind == "linear" and c is None:
        circles = _conserved_radii(problem, flows + descents)
    circles = sorted(set(np.round(np.asarray(circles or (), float), 12).tolist()))
    add_landmarks(ax, problem, circles, xlim, ylim, c)
    for k, tr in enumerate(flows):
        add_trajectory(ax, problem, tr, color="#0072B2", label="gradient flow" if k == 0 else None,
                       c=c, zorder=4)  # on top of the GD iterates, which follow it closely
    for k, tr in enumerate(descents):
        add_trajectory(ax, problem, tr, color="#E69F00",
                       label="gradient descent" if k == 0 else None, c=c)
    xl, yl = _chart(problem, c).labels
    ax.set_xlabel(xl)
    ax.set_ylabel(yl)
    handles, labels = ax.get_legend_handles_labels()
    extra = [Line2D([], [], color="#8C8C8C", lw=1, label="streamlines of −∇R")]
    events = {g.get_gid()[6:] for g in ax.lines if (g.get_gid() or "").startswith("event_")}
    for ev in sorted(events):
        extra.append(Line2D([], [], ls="", marker=OUTCOME_MARKERS[ev], mec="k",
                            color=OUTCOME_COLORS[ev], ms=8, label=f"event: {ev}"))
    ax.legend(handles=handles + extra, loc="best", fontsize=7, framealpha=0.9)
    ax.set_title(title or f"phase portrait: {problem.model.describe().get('kind')} DEQ")
    return fig, ax


def outcome_map_figure(xs, ys, outcome, time=None, ax=None, xlabel="θ₁(0)", ylabel="θ₂(0)",
                       title="outcome map", time_label="event time"):
    """Image of a grid of outcomes (shape (ny, nx) labels) with shading by ``time``.

    Colour = outcome (Okabe–Ito); lightness = log event time within each outcome
    (darker = later; members with no event get the full colour).  Returns ``(fig, ax)``.
    """
    outcome = np.asarray(outcome)
    if outcome.shape != (len(ys), len(xs)):
        raise ValueError(f"outcome has shape {outcome.shape}: give (len(ys), len(xs)) = "
                         f"({len(ys)}, {len(xs)}).")
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.2, 5.0), constrained_layout=True)
    else:
        fig = ax.figure
    rgb = np.ones(outcome.shape + (3,))
    shade = np.full(outcome.shape, 0.0)
    if time is not None:
        tt = np.asarray(time, float)
        lt = np.log10(np.where(np.isfinite(tt) & (tt > 0), tt, np.nan))
        if np.any(np.isfinite(lt)):
            lo, hi = np.nanmin(lt), np.nanmax(lt)
            # no event (NaN) → full colour, like the latest events
            shade = np.nan_to_num((lt - lo) / (hi - lo + 1e-12), nan=1.0)
    present = []
    for lab in np.unique(outcome):
        col = np.array(to_rgb(OUTCOME_COLORS.get(str(lab), "#999999")))
        m = outcome == lab
        # early events: light tint, late events: full colour
        k = 0.45 + 0.55 * shade[m][:, None]
        rgb[m] = 1 - k * (1 - col)
        present.append(str(lab))
    ext = [xs[0] - (xs[1] - xs[0]) / 2, xs[-1] + (xs[1] - xs[0]) / 2,
           ys[0] - (ys[1] - ys[0]) / 2, ys[-1] + (ys[1] - ys[0]) / 2] if len(xs) > 1 and len(ys) > 1 \
        else None
    ax.imshow(rgb, origin="lower", extent=ext, aspect="auto", interpolation="nearest", gid="outcome_map")
    handles = [Patch(color=OUTCOME_COLORS.get(p, "#999999"), label=p) for p in present]
    if time is not None:
        handles.append(Patch(color="#FFFFFF", ec="k", label=f"pale = early {time_label}; full = late or none"))
    ax.legend(handles=handles, loc="best", fontsize=7, framealpha=0.9)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    return fig, ax


