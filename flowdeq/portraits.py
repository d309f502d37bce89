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

import os

import matplotlib

matplotlib.use("Agg")
import equinox as eqx  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import to_rgb  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from .problem import Problem  # noqa: E402

__all__ = ["OKABE_ITO", "OUTCOME_COLORS", "direction", "project", "lift", "field_on_grid",
           "add_landmarks", "add_trajectory", "phase_portrait", "outcome_map_figure",
           "cli_portrait"]

OKABE_ITO = ["#000000", "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00",
             "#CC79A7"]
OUTCOME_COLORS = {"converged": "#009E73", "singular": "#D55E00", "crossed": "#D55E00",
                  "noncontractive": "#CC79A7", "diverged": "#E69F00", "max_time": "#56B4E9",
                  "max_steps": "#56B4E9", "failed": "#000000", "ill-posed": "#BBBBBB",
                  "reached": "#009E73", "other minimiser": "#0072B2", "stuck (R > 0)": "#F0E442"}
OUTCOME_MARKERS = {"converged": "*", "singular": "X", "crossed": "X", "noncontractive": "P",
                   "diverged": "^", "max_time": "s", "max_steps": "s", "failed": "x"}


def direction(problem: Problem) -> np.ndarray:
    """ξ̂ = ξ/‖ξ‖ padded to the θ₁ block (bias entry 0); e₁ if ξ = 0."""
    xi = np.asarray(problem.target.xi, float).ravel()
    p1 = problem.n_params - 1
    v = np.zeros(p1)
    v[: xi.size] = xi
    n = np.linalg.norm(v)
    if n == 0:
        v[0] = 1.0
        return v
    return v / n


def _xi_norm(problem):
    return float(np.linalg.norm(np.asarray(problem.target.xi, float)))


def project(problem: Problem, theta) -> tuple[np.ndarray, np.ndarray]:
    """(s, θ₂) plane coordinates of θ (..., p): s = θ₁ for d = 1, θ₁ᵀξ̂ otherwise."""
    th = np.asarray(theta, float)
    if problem.n_params == 2:
        return th[..., 0], th[..., -1]
    return th[..., :-1] @ direction(problem), th[..., -1]


def lift(problem: Problem, s, t2) -> np.ndarray:
    """θ (…, p) on the slice θ₁ = s·ξ̂, θ₂ = t2."""
    s, t2 = np.broadcast_arrays(np.asarray(s, float), np.asarray(t2, float))
    return np.concatenate([s[..., None] * direction(problem), t2[..., None]], axis=-1)


@eqx.filter_jit
def _grads(problem, thetas):
    return jax.vmap(problem.grad)(thetas)


def field_on_grid(problem: Problem, xlim, ylim, n: int = 41, mask_eps: float = 1e-3):
    """−∇R projected onto the slice, on an n×n grid.

    Returns ``(S, T2, U, V)`` (each (n, n)); U, V are NaN where the field is not finite
    or the model is ill-posed (margin ≤ ``mask_eps``).
    """
    xlim, ylim = _lim("xlim", xlim), _lim("ylim", ylim)
    if int(n) < 3:
        raise ValueError(f"n is {n!r}: use a grid of at least 3 points per axis.")
    S, T2 = np.meshgrid(np.linspace(*xlim, int(n)), np.linspace(*ylim, int(n)))
    th = lift(problem, S.ravel(), T2.ravel())
    g = np.asarray(_grads(problem, jnp.asarray(th)))
    margin = np.asarray(problem.margin(jnp.asarray(th)))
    dirv = direction(problem)
    U = -(g[:, :-1] @ dirv)
    V = -g[:, -1]
    bad = ~np.isfinite(U) | ~np.isfinite(V) | (margin <= mask_eps)
    U[bad] = np.nan
    V[bad] = np.nan
    return S, T2, U.reshape(S.shape), V.reshape(S.shape)


def _lim(name, lim):
    try:
        lo, hi = (float(v) for v in lim)
    except (TypeError, ValueError):
        raise ValueError(f"{name} is {lim!r}: give two numbers (low, high).") from None
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise ValueError(f"{name} is {lim!r}: give finite low < high.")
    return lo, hi


def add_landmarks(ax, problem: Problem, circles=(), xlim=None, ylim=None):
    """Draw the singular line / contraction boundary, minimisers or target, and circles."""
    xlim = ax.get_xlim() if xlim is None else xlim
    ylim = ax.get_ylim() if ylim is None else ylim
    xin = _xi_norm(problem)
    if problem.is_linear:
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
    else:
        L = float(problem.model.lipschitz)
        for sgn in (1, -1):
            ax.axhline(sgn / L, color="#CC79A7", ls="--", lw=1.5,
                       label=(f"contraction boundary |θ₂| = 1/L = {1 / L:g}"
                              + ("" if ylim[0] <= 1 / L <= ylim[1] else " (off-frame)"))
                       if sgn == 1 else None,
                       gid="contraction_boundary")
        ax.plot([xin], [0.0], "*", color="#009E73", ms=14, mec="k",
                label=f"target (ξ, 0) = ({xin:g}, 0)", gid="target")
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)


def add_trajectory(ax, problem: Problem, traj, color="#0072B2", label=None, style="-",
                   marker_every=None, **kw):
    """Draw each member of ``traj`` projected on the plane, start ○ and an event marker."""
    for i, m in enumerate(traj.members()):
        s, t2 = project(problem, m.theta)
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
                   descents=(), circles=None, ax=None, title=None, density=1.2):
    """Streamlines of −∇R with landmarks and trajectories; returns ``(fig, ax)``.

    ``flows`` / ``descents``: Trajectory objects (single or batch) to overlay.
    ``circles``: radii of conserved circles (linear); default: the radii of the flows' starts.
    """
    xlim, ylim = _lim("xlim", xlim), _lim("ylim", ylim)
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.4, 5.2), constrained_layout=True)
    else:
        fig = ax.figure
    S, T2, U, V = field_on_grid(problem, xlim, ylim, n)
    speed = np.hypot(U, V)
    # log speed for colour: the field spans orders of magnitude near θ₂ = 1
    lw = 0.4 + 1.2 * np.nan_to_num(np.log1p(speed) / np.nanmax(np.log1p(speed) + 1e-300))
    ax.streamplot(S, T2, U, V, color="#8C8C8C", linewidth=lw, density=density, arrowsize=0.8)
    flows = [flows] if hasattr(flows, "kind") else list(flows)
    descents = [descents] if hasattr(descents, "kind") else list(descents)
    if circles is None and problem.is_linear:
        circles = []
        for tr in flows + descents:
            th0 = tr.theta[..., 0, :] if tr.is_batch else tr.theta[0]
            th0 = np.atleast_2d(th0)
            circles += list(np.sqrt(np.sum(th0[:, :-1] ** 2, 1) + (th0[:, -1] - 1) ** 2))
    circles = sorted(set(np.round(np.asarray(circles or (), float), 12).tolist()))
    add_landmarks(ax, problem, circles, xlim, ylim)
    for k, tr in enumerate(flows):
        add_trajectory(ax, problem, tr, color="#0072B2", label="gradient flow" if k == 0 else None,
                       zorder=4)  # on top of the GD iterates, which follow it closely
    for k, tr in enumerate(descents):
        add_trajectory(ax, problem, tr, color="#E69F00",
                       label="gradient descent" if k == 0 else None)
    d1 = problem.n_params == 2
    ax.set_xlabel("θ₁" if d1 else "θ₁ᵀξ/‖ξ‖")
    ax.set_ylabel("θ₂")
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


# ---------------------------------------------------------------- CLI verb
_PORTRAIT_KEYS = {"xlim", "ylim", "grid", "basin_grid", "t1", "density", "solver", "max_steps"}


def cli_portrait(config_path, out):
    """``flowdeq portrait CONFIG --out DIR``: portrait + basin map, PNG/PDF + npz/json."""
    from .config import load_config
    from .descent import gradient_descent
    from .flow import gradient_flow
    from .jobs import write_summary
    from .sweep import run_flow_grid

    cfg = load_config(config_path)
    pt = cfg.table("portrait", _PORTRAIT_KEYS)
    problem = cfg.problem
    xin = _xi_norm(problem)
    default_y = (-1.5, 3.0) if problem.is_linear else (-0.95 / problem.model.lipschitz,
                                                      0.95 / problem.model.lipschitz)
    xlim = _lim("[portrait] xlim", pt.get("xlim", (-1.5 * xin - 0.5, 1.5 * xin + 0.5)))
    ylim = _lim("[portrait] ylim", pt.get("ylim", default_y))
    t1 = float(pt.get("t1", cfg.flow.get("t1", 10.0)))
    flows, descents = [], []
    th0 = np.atleast_2d(cfg.theta0)
    solve = {"solver": pt.get("solver", cfg.flow.get("solver", "kvaerno5")),
             "max_steps": int(pt.get("max_steps", cfg.flow.get("max_steps", 20_000)))}
    flows.append(gradient_flow(problem, th0, t1, rtol=1e-8, atol=1e-10, n_save=401, **solve))
    if "step_size" in cfg.descent and "steps" in cfg.descent:
        descents.append(gradient_descent(problem, th0, cfg.descent["step_size"],
                                         int(cfg.descent["steps"])))
    fig, ax = phase_portrait(problem, xlim, ylim, int(pt.get("grid", 41)), flows=flows,
                             descents=descents, density=float(pt.get("density", 1.2)))
    os.makedirs(out, exist_ok=True)
    for ext in ("png", "pdf"):
        fig.savefig(os.path.join(out, f"portrait.{ext}"), dpi=130)
    plt.close(fig)
    S, T2, U, V = field_on_grid(problem, xlim, ylim, int(pt.get("grid", 41)))
    np.savez(os.path.join(out, "field.npz"), s=S, theta2=T2, u=U, v=V)
    nb = int(pt.get("basin_grid", 24))
    xs = np.linspace(*xlim, nb)
    ys = np.linspace(*ylim, nb)
    res = run_flow_grid(problem, xs, ys, t1, **solve)
    fig, ax = outcome_map_figure(xs, ys, res["outcome"], res["event_time"],
                                 xlabel="θ₁(0)" if problem.n_params == 2 else "θ₁(0)ᵀξ/‖ξ‖",
                                 title=f"gradient-flow outcome map (t ≤ {t1:g})")
    for ext in ("png", "pdf"):
        fig.savefig(os.path.join(out, f"outcome_map.{ext}"), dpi=130)
    plt.close(fig)
    np.savez(os.path.join(out, "outcome_map.npz"), xs=xs, ys=ys, **res)
    labels, counts = np.unique(res["outcome"], return_counts=True)
    summary = {"config": str(config_path), "xlim": xlim, "ylim": ylim, "t1": t1,
               "outcome_counts": {str(k): int(v) for k, v in zip(labels, counts)},
               "flow_outcomes": flows[0].outcome_counts(),
               "descent_outcomes": descents[0].outcome_counts() if descents else None}
    write_summary(out, summary)
    return summary
