"""Figures for conservation laws and width-m DEQs: the finder's singular spectra (the rank
tolerance made visible), rates against the width, outcome fractions and conserved-matrix drift."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ..analysis.geometry import margin_on_grid
from .portraits import OUTCOME_COLORS

__all__ = ["spectrum_figure", "rate_vs_width_figure", "outcome_fractions_figure",
           "drift_figure", "shade_margin"]

_COLORS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"]


def spectrum_figure(searches: dict):
    """One panel per search (name → :class:`~flowdeq.analysis.conservation.LawSearch`): the
    singular values s_k/s₁ of each degree's matrix, the ε floor, the null_max line and the
    chosen split (dropped values filled).  Returns ``(fig, axes)``."""
    n = len(searches)
    cols = min(n, 4)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.9 * cols, 3.4 * rows), constrained_layout=True,
                             squeeze=False)
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    for ax, (name, r) in zip(axes.ravel(), searches.items()):
        for c, d in zip(_COLORS, r.by_degree):
            s = np.asarray(d["singular_values"])
            k = np.arange(1, s.size + 1)
            null = d["nullity"]
            ax.semilogy(k, np.maximum(s, 1e-300), "o-", ms=3, lw=0.8, color=c, mfc="white",
                        label=f"degree ≤ {d['degree']}: {null} null")
            if null:
                ax.semilogy(k[-null:], np.maximum(s[-null:], 1e-300), "o", ms=4, color=c)
        floor = max(d["floor"] for d in r.by_degree)
        ax.axhline(floor, color="k", ls=":", lw=1, label="ε·max(N, J) floor")
        ax.axhline(r.settings.get("null_max", 1e-8), color="#999999", ls="--", lw=1,
                   label="null_max (split allowed below)")
        ax.set_ylim(1e-18, 2)
        ax.set_xlabel("index k of singular value")
        ax.set_ylabel("s_k / s₁")
        ax.set_title(f"{name}: {r.count} law(s)", fontsize=9)
        ax.legend(fontsize=6, loc="lower left")
    return fig, axes


def rate_vs_width_figure(rows: list[dict], ax=None):
    """Fitted flow rates of R − R* (median, with the 25–75 % range as error bars) against the
    width m, one line per (model, data); predicted 2λ⁺ (open markers) where given.  ``rows``:
    dicts with keys model, data, m, rates (list), predicted (list or empty)."""
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.2, 4.2), constrained_layout=True)
    else:
        fig = ax.figure
    keys = sorted({(r["model"], r["data"]) for r in rows})
    for c, key in zip(_COLORS, keys):
        sel = sorted((r for r in rows if (r["model"], r["data"]) == key), key=lambda r: r["m"])
        ms, med, lo, hi = [], [], [], []
        for r in sel:
            q = np.asarray(r["rates"], float)
            q = q[np.isfinite(q)]
            if q.size:
                ms.append(r["m"])
                med.append(np.median(q))
                lo.append(np.median(q) - np.percentile(q, 25))
                hi.append(np.percentile(q, 75) - np.median(q))
        if ms:
            ax.errorbar(ms, med, yerr=[lo, hi], fmt="o-", color=c, capsize=3,
                        label=f"{key[0]}, {key[1]}: fitted")
        pm = [(r["m"], np.median(r["predicted"])) for r in sel if len(r.get("predicted", []))]
        if pm:
            ax.plot(*zip(*pm), "s--", color=c, mfc="white", label=f"{key[0]}, {key[1]}: 2λ⁺ at the limit")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("hidden width m")
    ax.set_ylabel("rate k of R − R* ≈ C e^{−kt} (flow)")
    ax.set_title("asymptotic flow rate against the width")
    ax.legend(fontsize=7)
    return fig, ax


def outcome_fractions_figure(rows: list[dict], ax=None):
    """Stacked bars: fraction of each outcome per (model, data, run, m).  ``rows``: dicts with
    keys label and counts (outcome → count)."""
    if ax is None:
        fig, ax = plt.subplots(figsize=(max(6.0, 0.45 * len(rows)), 4.4), constrained_layout=True)
    else:
        fig = ax.figure
    outcomes = sorted({o for r in rows for o in r["counts"]})
    x = np.arange(len(rows))
    bottom = np.zeros(len(rows))
    for o in outcomes:
        f = np.array([r["counts"].get(o, 0) / max(1, sum(r["counts"].values())) for r in rows])
        ax.bar(x, f, bottom=bottom, color=OUTCOME_COLORS.get(o, "#999999"), label=o, width=0.8)
        bottom += f
    ax.set_xticks(x)
    ax.set_xticklabels([r["label"] for r in rows], rotation=70, ha="right", fontsize=6)
    ax.set_ylabel("fraction of runs")
    ax.set_ylim(0, 1)
    ax.set_title("outcomes of flows and GD runs")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig, ax


def drift_figure(series: list[dict], ax=None):
    """‖C(t) − C(0)‖_F/‖C(0)‖_F against t, one line per entry (dicts: t, drift, label)."""
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.2, 4.2), constrained_layout=True)
    else:
        fig = ax.figure
    for c, s in zip(_COLORS * 4, series):
        ax.semilogy(s["t"], np.maximum(s["drift"], 1e-17), color=c, lw=1.2, label=s["label"])
    ax.set_xlabel("time t")
    ax.set_ylabel("‖C(t) − C(0)‖_F / ‖C(0)‖_F")
    ax.set_title("drift of C = (I − W)(I − W)ᵀ + UUᵀ along flows")
    ax.legend(fontsize=7)
    return fig, ax


def shade_margin(ax, problem, xlim, ylim, level: float, n: int = 241):
    """Shade where the model's margin is ≤ ``level`` on the axes' chart (the model's default).
    A margin that is a distance (σ_min(I − W) of the linear model) is ≥ 0 everywhere and 0
    only on a measure-zero set that a grid never hits, so the ill-posed set is drawn as this
    thin band around it."""
    S, T, M = margin_on_grid(problem, xlim, ylim, n)
    if np.nanmin(M) <= level:
        ax.contourf(S, T, M, levels=[np.nanmin(M) - 1.0, level], colors=["#D55E00"], alpha=0.35)
    band, = ax.plot([], [], color="#D55E00", lw=6, alpha=0.35)
    # keep the legend already there (its proxies are not axes artists), replacing the
    # "margin ≤ 0" entry, which this band draws
    leg = ax.get_legend()
    pairs = [] if leg is None else [(h, t.get_text()) for h, t in zip(leg.legend_handles, leg.get_texts())]
    pairs = [(h, t) for h, t in pairs if not t.startswith("ill-posed set (margin ≤ 0")]
    pairs.append((band, f"ill-posed set: margin ≤ {level:g}"))
    ax.legend([h for h, _ in pairs], [t for _, t in pairs], loc="best", fontsize=7, framealpha=0.9)
