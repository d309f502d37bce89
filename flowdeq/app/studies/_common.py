"""Shared helpers for the studies: colours, figure saving, summaries, a small rate fit."""
from __future__ import annotations

import numpy as np

from ...io import jsonable, write_json, write_md  # noqa: F401  (the studies' helpers)
from ...plot.figures import save_fig  # noqa: F401

# Okabe–Ito colour-blind-safe palette
OI = {"black": "#000000", "orange": "#E69F00", "sky": "#56B4E9", "green": "#009E73",
      "yellow": "#F0E442", "blue": "#0072B2", "vermillion": "#D55E00", "purple": "#CC79A7"}


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
