r"""Figures of GD beside the flow: error orders of the modified flows, sharpness traces beside
2/η, step-size maps with the predicted and observed stability boundaries, and bifurcation
diagrams of GD's limit against η (see :mod:`flowdeq.dynamics.modified`,
:mod:`flowdeq.analysis.sharpness`, :mod:`flowdeq.ensembles.stepsize`)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import LogNorm, to_rgb
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import NullFormatter

from .portraits import OUTCOME_COLORS

__all__ = ["error_order_figure", "sharpness_figure", "step_size_map_figure",
           "bifurcation_figure", "radius_growth_figure"]

_ORDER_STYLE = {0: ("#0072B2", "o", "plain flow (order 0)"),
                1: ("#E69F00", "s", "modified flow, order 1 (R̃ = R + η/4‖∇R‖²)"),
                2: ("#009E73", "^", "modified flow, order 2")}
EDGE_COLOR = "#F0E442"   # GD's last iterate pinned at the edge of stability


def _panels(n, width, height, ncols=3):
    """A figure with n panels on rows of at most ``ncols``; returns (fig, the n axes)."""
    cols = min(n, ncols)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False,
                             constrained_layout=True)
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    return fig, axes.ravel()[:n]


def _edges(x, log=False):
    x = np.asarray(x, float)
    if x.size == 1:
        return np.array([x[0] * 0.9, x[0] * 1.1]) if log else np.array([x[0] - 0.5, x[0] + 0.5])
    v = np.log(x) if log else x
    mid = 0.5 * (v[1:] + v[:-1])
    e = np.r_[v[0] - (mid[0] - v[0]), mid, v[-1] + (v[-1] - mid[-1])]
    return np.exp(e) if log else e


def error_order_figure(panels):
    """Log–log GD-minus-flow error against η at a fixed time T.

    ``panels``: list of dicts with ``title``, ``T``, ``etas`` (m,), ``errors`` {order: (m,)}
    and ``slopes`` {order: fitted slope}.  Reference lines of slopes 1, 2, 3 are dashed."""
    fig, axes = _panels(len(panels), 5.4, 4.4)
    for ax, pan in zip(axes, panels):
        etas = np.asarray(pan["etas"], float)
        for order, err in sorted(pan["errors"].items()):
            col, mk, lab = _ORDER_STYLE[int(order)]
            err = np.asarray(err, float)
            ax.loglog(etas, err, mk + "-", color=col, ms=5,
                      label=f"{lab}: slope {pan['slopes'][order]:.2f}")
            # reference η^{order+1} through the smallest-η point
            ax.loglog(etas, err[-1] * (etas / etas[-1]) ** (int(order) + 1), ":", color=col, lw=1)
        ax.xaxis.set_minor_formatter(NullFormatter())  # labelled minor ticks overlap
        ax.set_xlabel("step size η")
        ax.set_ylabel(f"‖θ_GD(T/η) − θ_flow(T)‖,  T = {pan['T']:g}")
        ax.set_title(pan["title"], fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, loc="lower right",
                  title="dotted: η^(order+1) reference", title_fontsize=7)
    fig.suptitle("GD against its modified flows: error orders 1, 2, 3 (fitted log–log slopes)")
    return fig, axes


def sharpness_figure(panels):
    """ηλ_max/2 along GD (dots, step s at t = sη) and the flow(s) (lines) beside the GD
    stability line ηλ_max/2 = 1 (i.e. λ_max = 2/η).

    ``panels``: dicts with ``title``, ``eta``, ``gd`` (t, λ), ``flows`` list of
    (label, t, λ) and optional ``note`` (the edge-of-stability verdict)."""
    fig, axes = _panels(len(panels), 5.6, 4.6)
    cols = ["#0072B2", "#009E73", "#CC79A7"]
    for ax, pan in zip(axes, panels):
        eta = float(pan["eta"])
        t, lam = pan["gd"]
        ax.semilogy(np.asarray(t) * eta, eta * np.asarray(lam) / 2, ".", ms=3, color="#E69F00",
                    label=f"GD, η = {eta:g} (at t = sη)")
        for k, (lab, tf, lf) in enumerate(pan.get("flows", ())):
            ax.semilogy(tf, eta * np.asarray(lf) / 2, "-", lw=1.4, color=cols[k % 3], label=lab)
        ax.axhline(1.0, color="#D55E00", ls="--", lw=1.2, label="λ_max = 2/η (GD stability)")
        ax.set_xlabel("time t (GD: t = s·η)")
        ax.set_ylabel("η·λ_max(∇²R)/2")
        ax.set_title(pan["title"] + (f"\n{pan['note']}" if pan.get("note") else ""), fontsize=9)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, loc="best")
    fig.suptitle("Sharpness along GD and the flow, beside GD's stability limit 2/η")
    return fig, axes


def step_size_map_figure(an, coord, coord_label, title):
    """Two panels over (θ₀ coordinate, η): GD's outcome, with the members whose last iterate
    sits at the edge of stability (|ηλ_max/2 − 1| ≤ band, converged or still oscillating)
    drawn yellow; and ηλ_max/2 at GD's last iterate (log colour scale centred on 1: blue
    stable, red unstable).  On both: the predicted boundary η_pred = 2/λ_max(flow limit)
    (line) and the observed thresholds η_edge (○) and η_fail (×) of
    :func:`flowdeq.ensembles.stepsize.analyze_step_sizes`."""
    g, ps = an["grid"], an["per_start"]
    etas = np.asarray(an["step_sizes"], float)
    x = np.asarray(coord, float)
    order = np.argsort(x)
    x = x[order]
    out = g["outcome"][:, order]
    ratio = g["eta_lambda_over_2"][:, order]
    band = an["band"]
    xe, ye = _edges(x), _edges(etas, log=True)
    fig, (a, b) = plt.subplots(1, 2, figsize=(12.5, 5.6), constrained_layout=True)
    edge = f"at the edge (|ηλ/2 − 1| ≤ {band:g})"
    labels = np.where(np.isin(out, ("converged", "max_steps")) & (np.abs(ratio - 1.0) <= band),
                      edge, out)
    present = [str(v) for v in np.unique(labels)]
    colors = {**OUTCOME_COLORS, edge: EDGE_COLOR}
    rgb = np.ones(labels.shape + (3,))
    for lab in present:
        rgb[labels == lab] = to_rgb(colors.get(lab, "#999999"))
    a.pcolormesh(xe, ye, rgb, shading="flat")
    handles = [Patch(color=colors.get(p, "#999999"), label=f"GD {p}") for p in present]
    rr = np.where(np.isfinite(ratio) & (ratio > 0), ratio, np.nan)
    im = b.pcolormesh(xe, ye, np.clip(rr, 1e-2, 1e2), shading="flat", cmap="RdBu_r",
                      norm=LogNorm(vmin=1e-2, vmax=1e2))
    fig.colorbar(im, ax=b, extend="both",
                 label="η·λ_max/2 at GD's last iterate (< 1: linearly stable)")
    for ax in (a, b):
        ax.plot(x, ps["eta_pred"][order], "-", color="k", lw=2)
        ax.plot(x, ps["eta_edge"][order], "o", mfc="none", mec="#D55E00", mew=1.5, ms=6)
        ax.plot(x, ps["eta_fail"][order], "x", color="k", mew=1.5, ms=6)
        ax.set_yscale("log")
        ax.set_ylim(ye[0], ye[-1])
        ax.set_xlim(xe[0], xe[-1])
        ax.set_xlabel(coord_label)
        ax.set_ylabel("step size η")
    lines = [Line2D([], [], color="k", lw=2, label="predicted boundary η = 2/λ_max(flow's limit)"),
             Line2D([], [], ls="", marker="o", mfc="none", mec="#D55E00", mew=1.5,
                    label=f"observed: first η with ηλ/2 ≥ {1 - band:g} at GD's end, or failing"),
             Line2D([], [], ls="", marker="x", color="k", mew=1.5,
                    label="observed: first η that crossed / left the well-posed set / diverged")]
    fig.legend(handles=handles + lines, loc="outside lower center", ncol=3, fontsize=8)
    a.set_title("GD outcome over (θ₀, η)", fontsize=10)
    b.set_title("η·λ_max/2 at GD's last iterate", fontsize=10)
    fig.suptitle(title)
    return fig, (a, b)


def bifurcation_figure(panels):
    """Bifurcation-style diagrams: for each η, the last K GD iterates' value (a limit point,
    a period-2 pair, a spread for chaos); a vertical line at the predicted η_pred.

    ``panels``: dicts with ``title``, ``etas`` (m,), ``values`` (m, K) (NaN where the run
    stopped), ``ylabel``, ``eta_pred`` and optional ``outcome`` (m,) and
    ``eta_lambda_over_2`` (m,) for the colours (yellow: GD's last iterate at the edge,
    |ηλ_max/2 − 1| ≤ ``band``, default 0.05) and ``logy``."""
    fig, axes = _panels(len(panels), 5.8, 4.4)
    for ax, pan in zip(axes, panels):
        etas = np.asarray(pan["etas"], float)
        vals = np.asarray(pan["values"], float)
        outc = np.asarray(pan.get("outcome", np.full(etas.size, "converged"))).astype(object)
        band = pan.get("band", 0.05)
        if "eta_lambda_over_2" in pan:
            at_edge = np.isin(outc, ("converged", "max_steps")) & (
                np.abs(np.asarray(pan["eta_lambda_over_2"], float) - 1.0) <= band)
            outc[at_edge] = f"at the edge (|ηλ/2 − 1| ≤ {band:g})"
        outc = outc.astype(str)
        colors = {**OUTCOME_COLORS, f"at the edge (|ηλ/2 − 1| ≤ {band:g})": EDGE_COLOR}
        for lab in np.unique(outc):
            m = outc == lab
            xx = np.repeat(etas[m], vals.shape[1])
            yy = vals[m].ravel()
            ax.plot(xx, yy, ".", ms=2.5, color=colors.get(str(lab), "#999999"), label=f"GD {lab}")
        ax.axvline(pan["eta_pred"], color="k", ls="--", lw=1.2,
                   label=f"η_pred = 2/λ_max = {pan['eta_pred']:.4g}")
        ax.set_xscale("log")
        if pan.get("logy"):
            ax.set_yscale("log")
        ax.set_xlabel("step size η")
        ax.set_ylabel(pan["ylabel"])
        ax.set_title(pan["title"], fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, loc="best", markerscale=4)
    fig.suptitle(f"GD's limit against η: the last {vals.shape[1]} iterates per η")
    return fig, axes


def radius_growth_figure(panels):
    """The linear DEQ's w = ‖θ − (0, 1)‖² along GD (dots, t = sη), the modified flows and the
    plain flow (which conserves it, Thm 3.1).

    ``panels``: dicts with ``title``, ``gd`` (t, w), ``curves`` list of (label, t, w) and
    optional ``eta`` (then the time axis is symlog, linear up to t = η)."""
    fig, axes = _panels(len(panels), 5.6, 4.4)
    cols = ["#0072B2", "#009E73", "#CC79A7", "#56B4E9"]
    for ax, pan in zip(axes, panels):
        t, w = pan["gd"]
        ax.plot(t, w, ".", ms=3, color="#E69F00", label="GD (at t = sη)")
        for k, (lab, tc, wc) in enumerate(pan["curves"]):
            ax.plot(tc, wc, "-", lw=1.5, color=cols[k % 4], label=lab)
        if pan.get("eta"):  # the growth happens within a few steps: linear up to t = η
            ax.set_xscale("symlog", linthresh=pan["eta"])
        ax.set_xlabel("time t" + (" (linear up to t = η, logarithmic beyond)" if pan.get("eta") else ""))
        ax.set_ylabel("w = ‖θ − (0, 1)‖²")
        ax.set_title(pan["title"], fontsize=10)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7, loc="best")
    fig.suptitle("Linear DEQ: GD's w grows by η²‖∇R‖² per step (identity (8)); the order-1 "
                 "modified flow's by w′ = η‖∇R‖²")
    return fig, axes
