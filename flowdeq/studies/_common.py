"""Shared helpers for the studies: colours, figure saving, summaries, a small rate fit."""
from __future__ import annotations

import json
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ..trajectory import jsonable as _jsonable  # noqa: E402

# Okabe–Ito colour-blind-safe palette
OI = {"black": "#000000", "orange": "#E69F00", "sky": "#56B4E9", "green": "#009E73",
      "yellow": "#F0E442", "blue": "#0072B2", "vermillion": "#D55E00", "purple": "#CC79A7"}


def jsonable(obj):
    """JSON-ready ``obj`` for summaries: non-finite numbers become null."""
    return _jsonable(obj, nonfinite=lambda v: None)


def save_fig(fig, out, name, dpi=130):
    """Write ``name.png`` and ``name.pdf`` into ``out``; close the figure; return the PNG path."""
    os.makedirs(out, exist_ok=True)
    png = os.path.join(out, f"{name}.png")
    fig.savefig(png, dpi=dpi)
    fig.savefig(os.path.join(out, f"{name}.pdf"))
    plt.close(fig)
    return png


def write_json(out, name, obj):
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, name)
    with open(path, "w") as fh:
        json.dump(jsonable(obj), fh, indent=2)
    return path


def write_md(out, lines, name="summary.md"):
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, name)
    with open(path, "w") as fh:
        fh.write("\n".join(lines).rstrip() + "\n")
    return path


def loglinear_rate(t, y, lo=None, hi=None):
    """Least-squares fit log y ≈ c − k t on the points with lo ≤ y ≤ hi; returns k (NaN if < 3 points).

    A deliberately small stand-in for the theory/rates modules (kept local on purpose).
    """
    t = np.asarray(t, float)
    y = np.asarray(y, float)
    m = np.isfinite(y) & (y > 0)
    if lo is not None:
        m &= y >= lo
    if hi is not None:
        m &= y <= hi
    if m.sum() < 3:
        return float("nan")
    A = np.vstack([np.ones(m.sum()), t[m]]).T
    coef, *_ = np.linalg.lstsq(A, np.log(y[m]), rcond=None)
    return float(-coef[1])


def fmt(x, spec=".4g"):
    try:
        return format(float(x), spec)
    except (TypeError, ValueError):
        return str(x)
