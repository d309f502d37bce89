"""Helpers shared by the statement modules: a bound checked along a run, its band."""
from __future__ import annotations

import numpy as np

from ..continuous import FlowPath
from ..rates import fit_rate
from ._verdict import Check, decide

GD_BAND = 1e-10       # GD iterates are exact up to rounding: a ratio above 1 + 1e-10 is real
GD_FLOOR = 1e-26      # squared quantities below 1e-26·q₀ are at the rounding floor of GD


def flow_band(path) -> float:
    """Relative resolution of a ratio along a flow solved at rtol: max(1e-9, 100·rtol)."""
    return max(1e-9, 100.0 * path.rtol()) if isinstance(path, FlowPath) else GD_BAND


def floor_rel(path) -> float:
    """Below floor_rel·q₀ a squared quantity is not resolved: (100·rtol)² for a flow (the
    solution is known to ~rtol relative), 1e-26 for GD (rounding)."""
    return (100.0 * path.rtol()) ** 2 if isinstance(path, FlowPath) else GD_FLOOR


def fitted(t, q):
    try:
        return fit_rate(t, q).rate
    except ValueError:
        return None


def bound_check(path, *, theorem, form, quantity, q, bound, hyp, constants, errata,
                bound_rate=None, start="config", note="", what="worst ratio q/bound",
                skip_start=True):
    r"""Check q(θ(t)) ≤ bound(t) along the whole run (:class:`FlowPath` continuously,
    :class:`DescentPath` at every iterate).  Points where q is below its resolution floor
    (:func:`floor_rel` · q₀) are not compared."""
    q0 = float(np.asarray(q(path.t[:1], path.theta[:1]))[0])
    floor = floor_rel(path) * abs(q0)

    def ratio(t, th):
        qq = np.asarray(q(t, th), float)
        bb = np.asarray(bound(t), float)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            r = np.where(bb > 0, qq / bb, np.where(qq > floor, np.inf, -np.inf))
        return np.where(qq <= floor, -np.inf, r)

    ext = path.sup(ratio, skip_start=skip_start)
    r_end = ratio(path.t, path.theta)[1 if skip_start else 0:]
    n_cmp = int(np.sum(r_end > -np.inf))
    worst = float(ext.value) if ext.value > -np.inf else None
    verdict, reason, met = decide(hyp, worst, band=flow_band(path), n_points=n_cmp,
                                  complete=path.complete, incomplete=path.incomplete, what=what)
    obs = np.asarray(q(path.t, path.theta), float)
    return Check(theorem, form, quantity, hyp, verdict, reason, met, worst, ext.t,
                 ext.resolution + (f"; q below {floor:.1g} not compared" if floor > 0 else ""),
                 fitted(path.t, obs), bound_rate, constants, errata, start,
                 list(map(float, path.theta[0])), note, _kind(path), np.asarray(path.t),
                 obs, np.asarray(bound(path.t), float))


def _kind(path) -> str:
    return "flow" if isinstance(path, FlowPath) else "descent"


def value_check(path_or_none, *, theorem, form, quantity, value, tol, hyp, constants, errata,
                at=None, n_points=1, resolution="", start="config", theta0=(), kind="constants",
                note="", complete=True, incomplete="", band=0.0, what=None):
    """A claim ``value ≤ tol`` (an equality to within tol, a constant's sign, …)."""
    worst = None if value is None else (float(value) / tol if tol > 0 else
                                        (np.inf if value > 0 else 0.0))
    verdict, reason, met = decide(hyp, worst, band=band, n_points=n_points, complete=complete,
                                  incomplete=incomplete, min_points=1,
                                  what=what or f"value/tol ({_g(value)}/{tol:.1g})")
    return Check(theorem, form, quantity, hyp, verdict, reason, met, worst, at, resolution,
                 None, None, constants, errata, start, list(map(float, theta0)), note, kind)


def _g(v):
    try:
        return f"{float(v):.3g}"
    except (TypeError, ValueError):
        return str(v)
