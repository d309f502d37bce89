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


_VERDICT_COLOR = {"holds": "#009E73", "violated": "#D55E00", "inconclusive": "#E69F00",
                  "hypothesis fails": "#999999", "not applicable": "#CCCCCC"}


def theory_figure(entries, title: str = ""):
    """Observed quantity vs each bound on a log axis, one panel per (statement, start,
    run, observed quantity): printed bounds dashed, corrected dotted, flowdeq's dash-dot;
    the worst point of each bound is marked; the last panel counts the verdicts.  Returns
    (fig, axes)."""
    groups = {}
    for e in entries:
        if e.bound is None or e.observed is None or e.t is None:
            continue
        key = (e.theorem, e.start, e.kind, hash(np.asarray(e.observed, float).tobytes()))
        groups.setdefault(key, []).append(e)
    n = len(groups) + 1
    cols = min(3, n)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.8 * cols, 3.7 * rows), squeeze=False)
    style = {"printed": "--", "corrected": ":", "flowdeq": "-."}
    for ax, ((thm, st, kind, _), es) in zip(axes.flat, groups.items()):
        e0 = es[0]
        t, obs = np.asarray(e0.t, float), np.asarray(e0.observed, float)
        m = obs > 0
        ax.semilogy(t[m], obs[m], color="#0072B2", lw=2, label="observed")
        for e in es:
            b = np.asarray(e.bound, float)
            mb = b > 0
            col = _VERDICT_COLOR.get(e.verdict, "k")
            ax.semilogy(t[mb], b[mb], color=col, ls=style.get(e.form, "-"), lw=1.6,
                        label=f"{e.form}: {e.verdict}"
                              + ("" if e.worst is None else f" (worst {e.worst:.3g})"))
            if e.at is not None and e.worst is not None and np.isfinite(e.worst):
                j = int(np.argmin(np.abs(t - e.at)))
                if obs[j] > 0:
                    ax.plot([e.at], [obs[j]], "o", color=col, ms=5)
        ax.set_xlabel("time t" if kind == "flow" else "GD step s")
        ax.set_ylabel(e0.quantity.split("≤")[0].strip() or "quantity")
        ax.set_title(f"{thm} ({kind}, {st} start)", fontsize=9)
        ax.legend(fontsize=7)
    ax = list(axes.flat)[len(groups)]
    counts = {}
    for e in entries:
        counts[e.verdict] = counts.get(e.verdict, 0) + 1
    names = list(counts)
    ax.barh(names, [counts[k] for k in names], color=[_VERDICT_COLOR.get(k, "k") for k in names])
    ax.set_xlabel("number of checked statements")
    ax.set_title("verdicts", fontsize=9)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig, axes
