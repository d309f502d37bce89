"""Starting points of an ensemble: a grid on a chart, a Gaussian sample."""
from __future__ import annotations

import numpy as np

from ..analysis.geometry import lift
from ..problem import Problem

__all__ = ["grid_starts", "sample_starts", "axis"]


def grid_starts(problem: Problem, theta1, theta2, chart=None) -> np.ndarray:
    """Grid of starts on the model's chart (the paper models: θ₁ = s·ξ̂, θ₂ = t):
    ``theta1``, ``theta2`` = (low, high, n) each, the chart's s and t axes.

    Row-major over (t, s): start k = i·n_s + j has t = t-grid[i], s = s-grid[j].
    """
    xs, ys = axis("theta1", theta1), axis("theta2", theta2)
    S, T2 = np.meshgrid(xs, ys)
    return lift(problem, S.ravel(), T2.ravel(), chart)


def axis(name, spec):
    try:
        lo, hi, n = spec
        lo, hi, n = float(lo), float(hi), int(n)
    except (TypeError, ValueError):
        raise ValueError(f"{name} is {spec!r}: give [low, high, count].") from None
    if not (np.isfinite(lo) and np.isfinite(hi) and lo <= hi and n >= 1):
        raise ValueError(f"{name} is {spec!r}: give finite low ≤ high and count ≥ 1.")
    return np.linspace(lo, hi, n)


def sample_starts(problem: Problem, mean, std, count, seed=0) -> np.ndarray:
    """count starts θ₀ ~ N(mean, std² I)."""
    p = problem.n_params
    mean = np.broadcast_to(np.asarray(mean, float), (p,))
    if int(count) < 1 or not np.isfinite(std) or std < 0:
        raise ValueError("count must be ≥ 1 and std a finite number ≥ 0.")
    return mean + float(std) * np.random.default_rng(int(seed)).standard_normal((int(count), p))


