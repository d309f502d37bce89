"""Figures of the diagnostics and theorem checks (:mod:`flowdeq.analysis`)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

__all__ = ["report_figure", "theory_figure"]


def report_figure(report):
    """One panel per time series of a :class:`~flowdeq.analysis.diagnostics.Report` (log
    scale of |value|); returns (fig, axes)."""
    series = [(c, k, v) for c in report.checks for k, v in c.series.items() if k != "t"]
    n = len(series)
    cols = min(3, n)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False)
    colors = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9"]
    xlabel = "time t" if report.kind == "flow" else "step s"
    for i, (c, k, v) in enumerate(series):
        ax = axes.flat[i]
        v = np.abs(np.asarray(v, float))
        tt = np.asarray(c.series["t"])
        m = np.isfinite(v) & (v > 0)
        ax.semilogy(tt[m], v[m], color=colors[i % len(colors)],
                    label=f"{k} ({'pass' if c.passed else 'FAIL'})")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(f"|{k}|")
        ax.set_title(c.name, fontsize=9)
        ax.legend(fontsize=8)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig, axes


def theory_figure(entries, title: str = ""):
    """Observed quantity vs bound on a log axis, one panel per (theorem, quantity, start);
    printed bounds dashed, corrected dotted.  Returns (fig, axes)."""
    groups = {}
    for e in entries:
        if e.bound is None:
            continue
        groups.setdefault((e.theorem, e.quantity, e.start), []).append(e)
    n = max(len(groups), 1)
    cols = min(3, n)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.6 * rows), squeeze=False)
    style = {"printed": ("#D55E00", "--"), "corrected": ("#009E73", ":")}
    for ax, ((thm, qn, st), es) in zip(axes.flat, groups.items()):
        e0 = es[0]
        m = e0.observed > 0
        ax.semilogy(e0.t[m], e0.observed[m], color="#0072B2", lw=2, label=f"observed {qn}")
        for e in es:
            col, ls = style[e.form]
            mb = e.bound > 0
            ax.semilogy(e.t[mb], e.bound[mb], color=col, ls=ls, lw=1.8,
                        label=f"{e.form} bound ({'holds' if e.holds else 'VIOLATED'})")
        ax.set_xlabel("time t" if e0.kind == "flow" else "step s")
        ax.set_ylabel(qn)
        ax.set_title(f"Thm {thm} ({e0.kind}, {st} start)", fontsize=10)
        ax.legend(fontsize=8)
    for ax in list(axes.flat)[len(groups):]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig, axes
