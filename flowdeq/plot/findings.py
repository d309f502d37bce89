"""Figures of flowdeq's findings beyond the paper (docs/findings.md)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import TwoSlopeNorm

__all__ = ["strip_figure", "decay_figure", "slack_figure", "bias_figure"]


def strip_figure(panels, title=""):
    """F1: log₁₀ of −r′/r = 2(θ−θ*)ᵀ∇R/‖θ−θ*‖² over the contraction strip, one panel per
    (label, T1, T2, values, L) in ``panels``; θ* is marked, non-positive values (none
    expected) would show in black.  Returns (fig, axes)."""
    n = len(panels)
    fig, axes = plt.subplots(1, n, figsize=(4.6 * n, 3.9), squeeze=False)
    for ax, (label, T1, T2, v, L, ts) in zip(axes.flat, panels):
        lv = np.log10(np.where(v > 0, v, np.nan))
        m = ax.pcolormesh(T1, T2, lv, shading="auto", cmap="viridis")
        bad = np.isfinite(v) & (v <= 0)
        if bad.any():
            ax.plot(T1[bad], T2[bad], "k.", ms=2, label="−r′/r ≤ 0")
        ax.plot([ts[0]], [ts[-1]], "r*", ms=10, label="θ* = (ξ, 0)")
        a = np.linspace(0, 2 * np.pi, 200)
        ax.plot(ts[0] + np.cos(a) / L, np.sin(a) / L, "w--", lw=1, label="B(θ*, 1/L)")
        ax.set_xlabel("θ₁ (along ξ̂)")
        ax.set_ylabel("θ₂")
        ax.set_ylim(T2.min(), T2.max())
        ax.set_title(f"{label}: min {np.nanmin(v):.3g}", fontsize=9)
        fig.colorbar(m, ax=ax, label="log₁₀(−r′/r)")
        ax.legend(fontsize=7, loc="lower left")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig, axes


def decay_figure(runs, rate, title=""):
    """F2: r(t)/r(0) of each flow in ``runs`` [(t, r), …] against e^{−λ* t}.  Returns (fig, ax)."""
    fig, ax = plt.subplots(figsize=(5.6, 4.0))
    tmax = 0.0
    for i, (t, r) in enumerate(runs):
        ax.semilogy(t, r / r[0], lw=1.2, label="flows" if i == 0 else None, color="#0072B2",
                    alpha=0.7)
        tmax = max(tmax, float(t[-1]))
    tt = np.linspace(0, tmax, 200)
    ax.semilogy(tt, np.exp(-rate * tt), "k--", lw=2, label=f"e^(−λ* t), λ* = {rate:.3g}")
    ax.set_xlabel("time t")
    ax.set_ylabel("r(t)/r(0),  r = ‖θ − θ*‖²")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig, ax


def slack_figure(slack, max_ratio, at_step, title=""):
    """F3: per run, how many times faster than the corrected Thm 3.6 rate the slowest GD step
    contracts, and max_s R_s/bound_s with the step where it is attained.  Returns (fig, axes)."""
    fig, axes = plt.subplots(1, 2, figsize=(9.5, 3.8))
    axes[0].hist(np.log10(slack), bins=20, color="#009E73")
    axes[0].axvline(np.log10(3.2), color="k", ls="--", label="3.2 (proved lower bound)")
    axes[0].set_xlabel("log₁₀ min_s (1 − R_{s+1}/R_s)/(ηλ_min/(2w₀))")
    axes[0].set_ylabel("runs")
    axes[0].legend(fontsize=8)
    steps = sorted(set(int(s) for s in np.atleast_1d(at_step)))
    axes[1].hist(max_ratio, bins=20, color="#D55E00")
    axes[1].set_xlabel("max_s R_s/bound_s")
    axes[1].set_ylabel("runs")
    axes[1].set_title("attained at s = " + ", ".join(map(str, steps[:5]))
                      + (" …" if len(steps) > 5 else ""), fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig, axes


def bias_figure(curves, title=""):
    """F4: λ_min E[(X̃, y)(X̃, y)ᵀ] along θ₁'s input weight at fixed bias and θ₂, one curve
    per (label, a, λ_min) in ``curves``.  Returns (fig, ax)."""
    fig, ax = plt.subplots(figsize=(5.6, 4.0))
    for label, a, lam in curves:
        ax.semilogy(a, np.maximum(lam, 1e-18), lw=1.5, label=label)
    ax.axvline(0.0, color="k", lw=0.8, ls=":")
    ax.set_xlabel("input weight a of θ₁ = (a, b)   (b = 0.7, θ₂ = 0.3)")
    ax.set_ylabel("λ_min (clipped at 1e-18)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig, ax
