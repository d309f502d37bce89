r"""Exponential-rate fitting with an automatically chosen asymptotic window.

A quantity q(t) > 0 that decays like q(t) ≈ C e^{−k t} (flow; R(t) − R*, ‖θ(t) − θ*‖²,
‖φ(t) − ξ‖² with φ = θ₁/(1 − θ₂)) or like C ρ^s (gradient descent, ρ = e^{−k} per step)
is fitted by least squares of log q against t.

Window choice (:func:`fit_rate`):

1. **Noise floor.**  Points with q ≤ ``floor`` are dropped; the default floor is
   ``1e-12 · max q`` (float64 round-off on the quantity relative to its size), and the
   window ends at the last point above the floor.
2. **Candidate windows** all end there and start at ~``candidates`` geometrically spaced
   positions.  Each window is fitted by a straight line and by a parabola in t.
3. **Linearity test.**  A window is *linear* when its parabola coefficient c₂ is
   statistically insignificant (|c₂| ≤ 3·se(c₂)) *or* changes the slope across the window
   by less than ``curvature_tol`` relative (|2 c₂ · span| ≤ curvature_tol · |slope|).
4. The **longest linear window** (earliest start) is chosen — i.e. the latest point from
   which on the decay is a single exponential: a transient (a faster mode) bends the early
   part of log q and is excluded by the test.  With no linear window the shortest one is
   used and ``ok`` is False.

The rate is k = −slope with a 95 % confidence interval from the Student-t quantile
of the slope's standard error; R² and the residual RMS give the fit quality.  For GD
(t = step index) :attr:`RateFit.factor` = e^{−k} is the per-step contraction factor.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

__all__ = ["RateFit", "fit_rate", "compare_with_bound"]


@dataclass
class RateFit:
    """Result of :func:`fit_rate`.

    rate : k in q ≈ C e^{−k t}; ci : 95 % confidence interval of k; r2 : R² of the
    log-linear fit; rms : residual RMS of log q; window : (t_start, t_end); n : points
    used; intercept : log C; ok : whether a window passed the linearity test;
    factor / factor_ci : e^{−k} (per-step contraction factor for GD) and its interval.
    """

    rate: float
    ci: tuple
    r2: float
    rms: float
    window: tuple
    n: int
    intercept: float
    ok: bool

    @property
    def factor(self) -> float:
        return float(np.exp(-self.rate))

    @property
    def factor_ci(self) -> tuple:
        return (float(np.exp(-self.ci[1])), float(np.exp(-self.ci[0])))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["ci"] = list(self.ci)
        d["window"] = list(self.window)
        d["factor"] = self.factor
        d["factor_ci"] = list(self.factor_ci)
        return d


def _linfit(t, y):
    n = t.size
    A = np.stack([np.ones(n), t], axis=1)
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    res = y - A @ coef
    dof = max(n - 2, 1)
    s2 = float(res @ res) / dof
    tc = t - t.mean()
    se = np.sqrt(s2 / float(tc @ tc)) if float(tc @ tc) > 0 else np.inf
    ss = float(((y - y.mean()) ** 2).sum())
    r2 = 1.0 - float(res @ res) / ss if ss > 0 else 1.0
    return coef, se, r2, float(np.sqrt(np.mean(res ** 2))), dof


def _curvature(t, y):
    """Parabola coefficient c₂ of y ≈ c₀ + c₁τ + c₂τ² (τ centred) and its standard error."""
    n = t.size
    tau = t - t.mean()
    A = np.stack([np.ones(n), tau, tau ** 2], axis=1)
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    res = y - A @ coef
    s2 = float(res @ res) / max(n - 3, 1)
    cov = s2 * np.linalg.pinv(A.T @ A)
    return float(coef[2]), float(np.sqrt(max(cov[2, 2], 0.0)))


def fit_rate(t, q, *, floor: float | None = None, min_points: int = 8, candidates: int = 40,
             curvature_tol: float = 2e-3, level: float = 0.95) -> RateFit:
    r"""Fit q(t) ≈ C e^{−k t} on the asymptotic window (see the module docstring).

    Parameters
    ----------
    t : increasing times (flow) or step indices (GD), shape (m,).
    q : positive decaying quantity, shape (m,); non-finite or non-positive entries are dropped.
    floor : noise floor (absolute); default 1e-12·max q.
    min_points : smallest window.
    candidates : number of candidate window starts.
    curvature_tol : relative slope change across a window that still counts as linear.
    level : confidence level of ``ci``.
    """
    t = np.asarray(t, dtype=float).ravel()
    q = np.asarray(q, dtype=float).ravel()
    if t.shape != q.shape:
        raise ValueError(f"t has shape {t.shape} but q has shape {q.shape}: give one q per time.")
    if min_points < 3:
        raise ValueError(f"min_points is {min_points}: give at least 3.")
    good = np.isfinite(q) & np.isfinite(t) & (q > 0)
    if floor is None:
        floor = 1e-12 * (np.max(q[good]) if good.any() else 0.0)
    good &= q > floor
    idx = np.flatnonzero(good)
    if idx.size < min_points:
        raise ValueError(f"q has only {idx.size} points above the noise floor {floor:.3g}: "
                         f"give at least min_points={min_points} (longer run or lower floor).")
    # the window ends at the last point above the floor; the contiguous run before it
    end = idx[-1]
    start_min = end
    while start_min - 1 >= 0 and good[start_min - 1]:
        start_min -= 1
    tt, yy = t[start_min:end + 1], np.log(q[start_min:end + 1])
    n = tt.size
    if n < min_points:
        tt, yy = t[idx], np.log(q[idx])
        n = tt.size
    last_start = n - min_points
    starts = np.unique(np.round(last_start - np.geomspace(1, last_start + 1, candidates) + 1)
                       .astype(int).clip(0, last_start))
    chosen, ok = None, False
    for s in np.sort(starts):           # earliest (longest) first
        ts_, ys_ = tt[s:], yy[s:]
        coef, se, r2, rms, dof = _linfit(ts_, ys_)
        c2, se2 = _curvature(ts_, ys_)
        span = ts_[-1] - ts_[0]
        slope = coef[1]
        if abs(c2) <= 3 * se2 or abs(2 * c2 * span) <= curvature_tol * abs(slope):
            chosen, ok = (s, coef, se, r2, rms, dof), True
            break
    if chosen is None:
        s = last_start
        chosen = (s,) + _linfit(tt[s:], yy[s:])
    s, coef, se, r2, rms, dof = chosen
    q_t = stats.t.ppf(0.5 + level / 2, dof)
    k = -float(coef[1])
    return RateFit(rate=k, ci=(k - q_t * se, k + q_t * se), r2=float(r2), rms=rms,
                   window=(float(tt[s]), float(tt[-1])), n=int(n - s), intercept=float(coef[0]),
                   ok=ok)


def compare_with_bound(t, q, bound, *, bound_rate: float | None = None, fit: RateFit | None = None,
                       rtol: float = 1e-9, atol: float = 0.0, skip_first: bool = True) -> dict:
    r"""Compare an observed quantity with a theoretical bound curve.

    Returns ``max_ratio`` = max_t q(t)/bound(t) (over points where the bound is positive;
    with ``skip_first`` over t > t₀, since bounds of the form q(0)·e^{−kt} are equalities
    at t₀),
    ``argmax_t`` (where it is attained), ``holds`` = q(t) ≤ bound(t)(1 + rtol) + atol at
    every saved time, and, if ``bound_rate`` is given, ``rate_ratio`` = fitted/bound rate
    (how loose the bound's exponent is; > 1 means the quantity decays faster than promised).
    """
    t = np.asarray(t, float)
    q = np.asarray(q, float)
    b = np.asarray(bound, float)
    if q.shape != b.shape:
        raise ValueError(f"q has shape {q.shape} but bound has shape {b.shape}: evaluate the "
                         "bound at the same times.")
    m = np.isfinite(q) & np.isfinite(b)
    holds = bool(np.all(q[m] <= b[m] * (1 + rtol) + atol)) and bool(m.any())
    pos = m & (b > 0)
    if skip_first and pos.size > 1:
        pos[0] = False
    ratio = np.full(q.shape, np.nan)
    with np.errstate(over="ignore"):  # q over a subnormal bound: the ratio is inf
        ratio[pos] = q[pos] / b[pos]
    if np.any(pos):
        i = int(np.nanargmax(ratio))
        max_ratio, at = float(ratio[i]), float(t[i])
    else:
        max_ratio, at = float("inf") if np.any(m & (q > 0)) else 0.0, float("nan")
    out = {"holds": holds, "max_ratio": max_ratio, "argmax_t": at}
    if bound_rate is not None:
        if fit is None:
            try:
                fit = fit_rate(t, q)
            except ValueError:
                fit = None
        out["fitted_rate"] = None if fit is None else fit.rate
        out["bound_rate"] = float(bound_rate)
        out["rate_ratio"] = (None if fit is None or bound_rate == 0 else fit.rate / bound_rate)
    return out
