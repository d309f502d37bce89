"""Baselines for measurement only (never imported by flowdeq).

* ``sec42_gd_brentq``: the paper's stated method for Sec. 4.2 — a Python loop over
  epochs and samples, ``scipy.optimize.brentq`` per sample for the equilibrium
  y = σ(θ₁x + θ₂y), and the implicit-function gradient
  ∇R = 2/n Σ (y − f) σ′(ω)/(1 − θ₂σ′(ω)) (x, y).
* ``scipy_flow``: θ′ = −∇R with ``scipy.integrate.solve_ivp`` and a NumPy right-hand
  side (closed form for the linear DEQ; a vectorised NumPy Newton over the quadrature
  nodes for the single-index DEQ), the singular event terminal.
* ``mean_newton_iterations``: a NumPy replica of flowdeq's safeguarded-Newton loop
  count (the lax.while_loop runs until its slowest sample is done).
"""
from __future__ import annotations

import math

import numpy as np
from scipy.integrate import solve_ivp
from scipy.optimize import brentq


def _sig(z):
    return 1.0 / (1.0 + math.exp(-z))


def sec42_gd_brentq(X, f, theta0, eta, epochs):
    th1, th2 = float(theta0[0]), float(theta0[1])
    n = len(X)
    out = [(th1, th2)]
    for _ in range(epochs):
        g1 = g2 = 0.0
        B = (0.5 + 0.25 * 0.0) / (1.0 - 0.25 * abs(th2))  # |y| ≤ B (σ ∈ (0,1) anyway)
        for x, fx in zip(X, f):
            a = th1 * x
            y = brentq(lambda y: y - _sig(a + th2 * y), -1.0 - B, 1.0 + B,
                       xtol=1e-15, rtol=8.9e-16)
            s = _sig(a + th2 * y)
            s = s * (1.0 - s)
            k = 2.0 * (y - fx) * s / (1.0 - th2 * s) / n
            g1 += k * x
            g2 += k * y
        th1, th2 = th1 - eta * g1, th2 - eta * g2
        out.append((th1, th2))
    return np.array(out)


def _sigmoid_np(z):
    return 1.0 / (1.0 + np.exp(-z))


def _rhs(P, kind):
    if kind == "linear":
        S = np.asarray(P.sigma)
        ps = np.asarray(P.phi_star)

        def rhs(t, th):
            u = 1.0 - th[-1]
            phi = th[:-1] / u
            g = S @ (phi - ps)
            return -(2.0 / u) * np.concatenate([g, [phi @ g]])
        return rhs
    X, w, f = np.asarray(P.X), np.asarray(P.w), np.asarray(P.f)

    def rhs(t, th):
        t1, t2 = th[:-1], th[-1]
        a = X @ t1
        y = _sigmoid_np(a)
        for _ in range(50):
            s = _sigmoid_np(a + t2 * y)
            step = (y - s) / (1.0 - t2 * s * (1.0 - s))
            y = y - step
            if np.max(np.abs(step)) <= 1e-15:
                break
        s = _sigmoid_np(a + t2 * y)
        s = s * (1.0 - s)
        r = y - f
        k = 2.0 * w * r * s / (1.0 - t2 * s)
        return -np.concatenate([k @ X, [k @ y]])
    return rhs


def scipy_flow(P, theta0, t1, ts, kind, rtol, atol, eps, method="Radau"):
    rhs = _rhs(P, kind)
    if kind == "linear":
        def singular(t, th):
            return abs(1.0 - th[-1]) - eps
    else:
        def singular(t, th):
            return 1.0 - 0.25 * abs(th[-1]) - eps
    singular.terminal = True
    ts = np.asarray(ts, float)
    ts = ts[ts <= t1]
    sol = solve_ivp(rhs, (0.0, float(t1)), np.asarray(theta0, float), method=method,
                    t_eval=ts, rtol=rtol, atol=atol, events=singular)
    return sol.y.T


def _newton_count(X, th, y_start=None):
    a = X @ th[:-1]
    t2 = th[-1]
    B = (0.5 + 0.25 * np.abs(a)) / (1 - 0.25 * abs(t2))
    lo, hi = -B, B
    y = np.clip(_sigmoid_np(a) if y_start is None else y_start, lo, hi)
    done = np.zeros(a.shape, bool)
    eps = np.finfo(float).eps
    it = 0
    while it < 100 and not done.all():
        s = _sigmoid_np(a + t2 * y)
        F = y - s
        dF = 1 - t2 * s * (1 - s)
        hi = np.where(F > 0, y, hi)
        lo = np.where(F <= 0, y, lo)
        nw = y - F / dF
        out = ~((nw >= lo) & (nw <= hi))
        yn = np.where(F == 0, y, np.where(out, 0.5 * (lo + hi), nw))
        small = (np.abs(yn - y) <= 4 * eps * (1 + np.abs(y))) | (F == 0) \
            | (hi - lo <= 4 * eps * (1 + np.abs(y)))
        y = np.where(done, y, yn)
        done |= small
        it += 1
    return it, y


def mean_newton_iterations(P, traj, every=50):
    """Loop iterations per GD step as flowdeq's GD map runs them: Newton warm-started
    from the previous step's equilibrium (the first step from σ(a))."""
    X = np.asarray(P.X)[:, :]
    counts = []
    for m in range(traj.theta.shape[0]):
        th = traj.theta[m]
        for k in range(1, len(th), every):
            if not (np.all(np.isfinite(th[k])) and np.all(np.isfinite(th[k - 1]))):
                continue
            _, y_prev = _newton_count(X, th[k - 1])
            it, _ = _newton_count(X, th[k], y_prev)
            counts.append(it)
    return float(np.mean(counts))
