"""Quick figures for a single run: risk against time (log axis) and the θ path."""
from __future__ import annotations

import os
import warnings

import matplotlib.pyplot as plt
import numpy as np

from ..dynamics.trajectory import Trajectory

__all__ = ["quick_figure", "save_fig", "draw_figure", "FigureWarning", "figure_formats",
           "set_figure_formats"]

# PNG always; vector formats on request (`--pdf` on the command line): writing every figure
# twice, as PDF too, took about half of the main job's figure time (docs/performance.md)
_FORMATS_ENV = "FLOWDEQ_FIGURE_FORMATS"
_KNOWN = ("png", "pdf", "svg")


def set_figure_formats(*formats) -> tuple:
    """Write figures in these formats from now on (PNG is always among them), e.g.
    ``set_figure_formats("png", "pdf")``.  Kept in the environment variable
    ``FLOWDEQ_FIGURE_FORMATS`` (which the command line's ``--pdf`` sets), so it also reaches
    worker processes."""
    bad = [f for f in formats if f not in _KNOWN]
    if bad:
        raise ValueError(f"figure format {bad[0]!r} is not one of {_KNOWN}: use those.")
    fmts = tuple(dict.fromkeys(("png", *formats)))
    os.environ[_FORMATS_ENV] = ",".join(fmts)
    return fmts


def figure_formats() -> tuple:
    """The formats figures are written in (default: PNG only)."""
    fmts = [f for f in os.environ.get(_FORMATS_ENV, "png").split(",") if f in _KNOWN]
    return tuple(dict.fromkeys(("png", *fmts)))


class FigureWarning(UserWarning):
    """A figure could not be drawn; the data files it would show are written."""


def draw_figure(out, name, draw, exts=None, dpi=130) -> str | None:
    """Build a figure with ``draw()`` (→ a matplotlib Figure) and write ``name.<ext>`` into
    ``out`` (``exts`` default: :func:`figure_formats`); return the PNG path, or None with a
    :class:`FigureWarning` if it cannot be drawn.

    Callers write their data files first: a figure is a view of them, so one that fails
    (matplotlib overflows on extreme values such as a GD run with η = 1e308, ...) costs a
    warning, never the results or the exit status."""
    exts = figure_formats() if exts is None else exts
    fig, paths = None, [os.path.join(out, f"{name}.{ext}") for ext in exts]
    try:
        fig = draw()
        for path in paths:
            fig.savefig(path, dpi=dpi)
        return paths[0]
    except Exception as err:  # any failure of the view; the data is already on disk
        for path in paths:  # no half-written image left looking like a result
            if os.path.exists(path):
                os.remove(path)
        reason = (str(err).strip().splitlines() or [""])[0][:200]
        warnings.warn(f"{os.path.basename(paths[0])} was not drawn ({type(err).__name__}: "
                      f"{reason}); the data files are written.", FigureWarning, stacklevel=2)
        return None
    finally:
        if fig is not None:
            plt.close(fig)


def save_fig(fig, out, name, dpi=130):
    """Write ``name.<ext>`` into ``out`` for each of :func:`figure_formats` (PNG, plus PDF
    with ``--pdf``); close the figure; return the PNG path."""
    os.makedirs(out, exist_ok=True)
    for ext in figure_formats():
        fig.savefig(os.path.join(out, f"{name}.{ext}"), dpi=dpi)
    plt.close(fig)
    return os.path.join(out, f"{name}.png")


def quick_figure(traj: Trajectory, title: str | None = None):
    """Two panels: R against t (or step) on a log axis, and the path of the first two entries
    of flat θ (θ₁, θ₂ for the paper's d = 1 models).

    Returns ``(fig, axes)``; never shows.  For a batch, every member is drawn.
    """
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    members = list(traj.members())
    xlabel = "time t" if traj.kind == "flow" else "step s"
    for m in members:
        r = np.where(m.risk > 0, m.risk, np.nan)
        a1.semilogy(m.t, r, lw=1.2, color="#0072B2", alpha=1.0 if len(members) == 1 else 0.4)
        a2.plot(m.theta[:, 0], m.theta[:, 1], lw=1.2, color="#0072B2",
                alpha=1.0 if len(members) == 1 else 0.4)
        a2.plot(m.theta[0, 0], m.theta[0, 1], "o", color="#009E73", ms=4)
        a2.plot(m.theta[-1, 0], m.theta[-1, 1], "s", color="#D55E00", ms=4)
    a1.set_xlabel(xlabel)
    a1.set_ylabel("risk R(θ)")
    a1.set_title("risk")
    a1.grid(True, which="both", alpha=0.3)
    labels = _labels(traj.settings.get("layout"))
    if traj.settings.get("problem", {}).get("model", {}).get("kind") == "linear" \
            and labels[1] == "theta2":
        a2.axhline(1.0, color="k", ls="--", lw=1, label="singular line θ₂ = 1")
        a2.legend(loc="best", fontsize=8)
    a2.set_xlabel(labels[0])
    a2.set_ylabel(labels[1])
    a2.set_title("parameter path (start ●, end ■)")
    a2.grid(True, alpha=0.3)
    outcome = traj.outcome if isinstance(traj.outcome, str) else traj.outcome_counts()
    fig.suptitle(title or f"{traj.kind}: outcome {outcome}")
    return fig, (a1, a2)


def _labels(layout):
    """Names of flat θ's entries 0 and 1 from a trajectory's recorded layout."""
    if not layout:
        return ["θ[0]", "θ[1]"]
    names = []
    for name, (_, shape) in sorted(layout.items(), key=lambda kv: kv[1][0]):
        names += [name] if not shape else [f"{name}{list(i)}" for i in np.ndindex(*shape)]
    return (names + ["θ[1]"])[:2]
