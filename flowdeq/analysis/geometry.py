r"""Charts: 2-D affine slices of parameter space, θ = origin + s·u + t·v.

Portraits, grid sweeps and basin maps live on a chart.  ``chart(problem)`` is the model's
default (:meth:`AbstractDEQ.default_chart`): the paper's (θ₁ᵀξ̂, θ₂) plane for the two
paper models, the plane of the first two parameters otherwise; any other slice is a
``Chart(origin, u, v)``.  On the chart the field drawn is −∇R in chart coordinates,
(U, V) = −P∇R with P the pseudo-inverse of [u v] (the orthogonal projection for
orthonormal u, v), and trajectories are projected the same way.
"""
from __future__ import annotations

from dataclasses import dataclass

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..problem import Problem

__all__ = ["Chart", "chart", "project", "lift", "field_on_grid", "margin_on_grid", "check_lim"]


@dataclass(frozen=True)
class Chart:
    """θ = origin + s·u + t·v; ``labels`` name the s and t axes."""

    origin: np.ndarray
    u: np.ndarray
    v: np.ndarray
    labels: tuple = ("s", "t")

    def __post_init__(self):
        o, u, v = (np.asarray(a, float).ravel() for a in (self.origin, self.u, self.v))
        if not (o.shape == u.shape == v.shape) or not np.all(np.isfinite(np.r_[o, u, v])):
            raise ValueError("chart origin, u and v must be finite vectors of one length p.")
        if np.linalg.matrix_rank(np.stack([u, v])) < 2:
            raise ValueError("chart directions u and v are parallel: give two independent vectors.")
        object.__setattr__(self, "origin", o)
        object.__setattr__(self, "u", u)
        object.__setattr__(self, "v", v)

    @property
    def basis(self) -> np.ndarray:
        return np.stack([self.u, self.v], axis=1)  # (p, 2)


def chart(problem: Problem, c: Chart | None = None) -> Chart:
    """``c``, or the model's default chart; checks its length against the model."""
    if c is None:
        o, u, v, labels = problem.model.default_chart(problem.target)
        c = Chart(o, u, v, labels)
    if c.origin.size != problem.n_params:
        raise ValueError(f"chart has length {c.origin.size} but the model has "
                         f"{problem.n_params} parameters: give origin, u, v of that length.")
    return c


def project(problem: Problem, theta, c: Chart | None = None):
    """Chart coordinates (s, t) of θ (..., p)."""
    c = chart(problem, c)
    st = (np.asarray(theta, float) - c.origin) @ np.linalg.pinv(c.basis).T
    return st[..., 0], st[..., 1]


def lift(problem: Problem, s, t, c: Chart | None = None) -> np.ndarray:
    """θ (…, p) at chart coordinates (s, t)."""
    c = chart(problem, c)
    s, t = np.broadcast_arrays(np.asarray(s, float), np.asarray(t, float))
    return c.origin + s[..., None] * c.u + t[..., None] * c.v


@eqx.filter_jit
def _grads_margins(problem, thetas):
    return jax.vmap(problem.grad)(thetas), jax.vmap(problem.margin)(thetas)


def check_lim(name, lim):
    try:
        lo, hi = (float(v) for v in lim)
    except (TypeError, ValueError):
        raise ValueError(f"{name} is {lim!r}: give two numbers (low, high).") from None
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise ValueError(f"{name} is {lim!r}: give finite low < high.")
    return lo, hi


def _grid(xlim, ylim, n):
    xlim, ylim = check_lim("xlim", xlim), check_lim("ylim", ylim)
    if int(n) < 3:
        raise ValueError(f"n is {n!r}: use a grid of at least 3 points per axis.")
    return np.meshgrid(np.linspace(*xlim, int(n)), np.linspace(*ylim, int(n)))


def field_on_grid(problem: Problem, xlim, ylim, n: int = 41, mask_eps: float = 1e-3,
                  c: Chart | None = None):
    """−∇R in chart coordinates on an n×n grid: ``(S, T, U, V)``, each (n, n); U, V are NaN
    where the field is not finite or the model is ill-posed (margin ≤ ``mask_eps``)."""
    S, T = _grid(xlim, ylim, n)
    th = lift(problem, S.ravel(), T.ravel(), c)
    g, margin = (np.asarray(a) for a in _grads_margins(problem, jnp.asarray(th)))
    UV = -g @ np.linalg.pinv(chart(problem, c).basis).T
    U, V = UV[:, 0].copy(), UV[:, 1].copy()
    bad = ~np.isfinite(U) | ~np.isfinite(V) | (margin <= mask_eps)
    U[bad] = np.nan
    V[bad] = np.nan
    return S, T, U.reshape(S.shape), V.reshape(S.shape)


def margin_on_grid(problem: Problem, xlim, ylim, n: int = 101, c: Chart | None = None):
    """The model's margin on an n×n chart grid: ``(S, T, M)``; the ill-posed set is M ≤ 0."""
    S, T = _grid(xlim, ylim, n)
    th = lift(problem, S.ravel(), T.ravel(), c)
    m = np.asarray(jax.vmap(problem.margin)(jnp.asarray(th)))
    return S, T, m.reshape(S.shape)
