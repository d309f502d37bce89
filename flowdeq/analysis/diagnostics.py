r"""Diagnostics of a trajectory against the paper's structural results (Sec. 3).

Each check is a function of a single :class:`~flowdeq.trajectory.Trajectory` and its
:class:`~flowdeq.problem.Problem` and returns a :class:`Check` (numbers, tolerance and a
pass/fail verdict):

* :func:`lyapunov_check` — R is a Lyapunov function.  Flow: R non-increasing and the
  energy identity dR/dt = −‖∇R‖² (Lemma 3.2); dR/dt is obtained by differentiating the
  cubic spline through the saved R (4th-order accurate at interior points).  GD: the
  descent-lemma inequality R(s+1) ≤ R(s) − (η/2)‖∇R(θ_s)‖² (Lemma 3.5) and monotonicity.
* :func:`conservation_check` (linear DEQ) — Thm 3.1: w(θ) = ‖θ₁‖² + (θ₂ − 1)² is constant
  along the flow; for GD, identity (8): w(s+1) = w(s) + η²‖∇R(θ_s)‖².
* :func:`lasalle_check` — Thm 3.3: distance to the invariant set S = {θ₁ = ξ(1 − θ₂)} and
  to the predicted limit (aξ, 1 − a), a = sign(1 − θ₂(0))·r₀/√(‖ξ‖² + 1) with
  r₀² = ‖θ₁(0)‖² + (θ₂(0) − 1)² (the corrected limit, docs/errata.md E2); for the
  single-index DEQ the target (ξ, 0) (Thm 3.8).

:func:`diagnose` runs all that apply and returns a :class:`Report` (``str()``/``markdown()``
table, ``figure()`` of each quantity against time).

**Along the whole flow.**  R non-increasing and the conserved sphere are also checked
between the saved points when ``continuous`` is true — by default when the flow was run
with ``save_steps=True``: every accepted step end, a Hermite screen between them and the
worst steps re-integrated (:class:`flowdeq.analysis.continuous.FlowPath`; a flow without
step ends is re-run for it, so ``continuous=True`` costs one more solve).  The saved points
are always checked too, and the detail says which resolution the value rests on.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import jax
import numpy as np

from scipy.interpolate import CubicSpline

from ..models.paper import LinearDEQ
from .continuous import FlowPath, risk_and_grad_at

__all__ = ["Check", "Report", "theta_star", "lyapunov_check", "conservation_check", "lasalle_check", "stationarity_check",
           "energy_residual", "predicted_limit", "printed_limit", "diagnose"]


@dataclass
class Check:
    """One diagnostic: ``value`` compared with ``tol`` (``passed`` iff value ≤ tol)."""

    name: str
    value: float
    tol: float
    passed: bool
    detail: str = ""
    series: dict = field(default_factory=dict, repr=False)   # time series for the figure

    def row(self) -> str:
        return (f"| {self.name} | {self.value:.3e} | {self.tol:.1e} | "
                f"{'pass' if self.passed else '**FAIL**'} | {self.detail} |")


def _single(traj):
    if traj.is_batch:
        raise ValueError("traj is a batch: pass one member, e.g. traj[0].")
    if len(traj.t) < 2:
        raise ValueError("traj has fewer than 2 saved points: run longer or save more points.")
    return traj


def _step_size(traj):
    eta = traj.per_member.get("step_size", traj.settings.get("step_size"))
    if eta is None or np.ndim(eta) != 0:
        raise ValueError("traj has no scalar step size in params/settings: pass a single GD run.")
    return float(eta)


def _grads(problem, theta):
    return np.asarray(jax.vmap(problem.grad)(np.asarray(theta)))


# --------------------------------------------------------------------------- Lyapunov
def energy_residual(traj) -> np.ndarray:
    r"""Relative residual of dR/dt = −‖∇R‖² at the saved points of a flow.

    dR/dt is the derivative of the cubic spline through (t, R) (not-a-knot); the residual
    is |dR/dt + ‖∇R‖²| / max_t ‖∇R‖².  The two end points (one-sided spline) are NaN.
    """
    t, R, g = np.asarray(traj.t), np.asarray(traj.risk), np.asarray(traj.grad_norm)
    dR = CubicSpline(t, R)(t, 1)
    res = np.abs(dR + g ** 2) / max(float(np.max(g ** 2)), 1e-300)
    res[[0, -1]] = np.nan
    return res


def _continuous(traj, problem, continuous):
    """The FlowPath to check ``traj`` on, or None (saved points only)."""
    if traj.kind != "flow" or problem is None:
        return None
    if continuous is None:
        continuous = bool(traj.settings.get("save_steps"))
    return FlowPath.of(problem, traj) if continuous else None


def lyapunov_check(traj, problem=None, tol: float = 1e-6, energy_tol: float = 1e-2,
                   continuous: bool | None = None) -> list[Check]:
    r"""R along the run is non-increasing (Lemma 3.2 / 3.5) and obeys its energy identity.

    Flow: max positive increment of R relative to R(0) − R_final (+ R(0)·1e-300), and the
    residual of dR/dt = −‖∇R‖² (:func:`energy_residual`, tolerance ``energy_tol``: spline
    differentiation of saved data is limited by the save spacing — ~1e-6 on the Sec. 4.1
    linear flow, ~1e-3 on the Sec. 4.2 sigmoid flow with 201 points on [0, 400]).
    GD: violations of R(s+1) ≤ R(s) − (η/2)‖∇R(θ_s)‖² (Lemma 3.5) relative to R(0).
    """
    traj = _single(traj)
    t, R, g = np.asarray(traj.t), np.asarray(traj.risk), np.asarray(traj.grad_norm)
    scale = max(float(R[0] - np.min(R)), float(abs(R[0])) * 1e-12, 1e-300)
    inc = np.diff(R)
    rise = float(max(np.max(inc), 0.0))
    where = f"{len(R)} saved points"
    path = _continuous(traj, problem, continuous)
    if path is not None:
        ext = path.max_rise(lambda tt, th: risk_and_grad_at(problem, th)[0])
        rise = max(rise, float(ext.value))
        where = f"the saved points and the whole solution ({ext.resolution})"
    elif traj.kind == "flow":
        where += " only (continuous=True: the whole solution)"
    mono = rise / scale
    out = [Check("R non-increasing", mono, tol, mono <= tol,
                 f"max increase {rise:.2e} over {where}", {"t": t, "R": R})]
    if traj.kind == "flow":
        res = energy_residual(traj)
        v = float(np.nanmax(res)) if np.isfinite(res).any() else np.nan
        tol2 = energy_tol
        out.append(Check("dR/dt = −‖∇R‖²", v, tol2, bool(v <= tol2),
                         "cubic-spline derivative of saved R vs −‖∇R‖², interior points",
                         {"t": t, "energy residual": res}))
    else:
        eta = _step_size(traj)
        viol = R[1:] - (R[:-1] - 0.5 * eta * g[:-1] ** 2)
        v = float(max(np.max(viol), 0.0)) / scale
        out.append(Check("descent lemma (3.5)", v, tol, v <= tol,
                         f"η = {eta:g}; R(s+1) ≤ R(s) − η/2‖∇R‖² at {int(np.sum(viol <= 0))}/"
                         f"{viol.size} steps", {"t": t[1:], "descent slack": -viol}))
    return out


# ----------------------------------------------------------------------- conservation
def _w(theta):
    t1, t2 = LinearDEQ.split(np.asarray(theta, float))
    return np.sum(t1 ** 2, axis=-1) + (t2 - 1.0) ** 2


def conservation_check(traj, problem, tol: float = 1e-7, continuous: bool | None = None) -> Check:
    r"""Thm 3.1 (flow): max_t |w(t) − w(0)|/w(0) (with ``continuous``, along the whole
    solution); identity (8) (GD): max_s |w(s+1) − w(s) − η²‖∇R(θ_s)‖²| / w(s), with
    w = ‖θ₁‖² + (θ₂ − 1)²."""
    traj = _single(traj)
    if problem.model.kind != "linear":
        raise ValueError("conservation_check needs a linear-DEQ problem (Thm 3.1 is for eq. 2).")
    w = _w(traj.theta)
    t = np.asarray(traj.t)
    if traj.kind == "flow":
        drift = np.abs(w - w[0]) / w[0]
        v = float(np.max(drift))
        where = f"{len(w)} saved points only (continuous=True: the whole solution)"
        path = _continuous(traj, problem, continuous)
        if path is not None:
            ext = path.sup(lambda tt, th: np.abs(_w(th) - w[0]) / w[0], skip_start=False)
            v = max(v, float(ext.value))
            where = f"the saved points and the whole solution ({ext.resolution})"
        return Check("w conserved (Thm 3.1)", v, tol, v <= tol,
                     f"w(0) = {w[0]:.6g}; relative drift over {where}", {"t": t, "w drift": drift})
    eta = _step_size(traj)
    g = np.asarray(traj.grad_norm)
    res = np.abs(w[1:] - w[:-1] - eta ** 2 * g[:-1] ** 2) / w[:-1]
    v = float(np.max(res)) if res.size else 0.0
    tol8 = max(tol * 1e-3, 1e-12)
    return Check("w(s+1) = w(s) + η²‖∇R‖² (8)", v, tol8, v <= tol8,
                 f"η = {eta:g}; w grew {w[0]:.6g} → {w[-1]:.6g}",
                 {"t": t[1:], "eq. (8) residual": res})


# --------------------------------------------------------------------------- LaSalle
def predicted_limit(problem, theta0) -> np.ndarray:
    r"""Corrected Thm 3.3 limit (errata E2) for the linear DEQ: (aξ, 1 − a) with
    a = sign(1 − θ₂(0)) · √(‖θ₁(0)‖² + (θ₂(0) − 1)²) / √(‖ξ‖² + 1); for the single-index
    DEQ the target (ξ, 0) (Thm 3.8, local)."""
    th = np.asarray(theta0, float)
    if problem.model.kind == "linear":
        xi = np.asarray(problem.phi_star, float)
        a = np.sign(1 - LinearDEQ.split(th)[1]) * np.sqrt(_w(th)) / np.sqrt(xi @ xi + 1)
        return np.concatenate([a * xi, [1 - a]])
    return theta_star(problem)


def theta_star(problem) -> np.ndarray:
    """(ξ̃, 0): the single-index target parameter (ξ, with a 0 bias entry when the model has
    a bias), or the linear-DEQ φ* with θ₂ = 0."""
    if problem.model.kind not in ("linear", "single-index"):
        raise ValueError("theta_star is the paper models' target parameter; this model declares "
                         "no paper kind (model.kind is None).")
    if problem.model.kind == "linear":
        xi = np.asarray(problem.phi_star, float)
    else:
        xi = np.asarray(problem.target.xi, float).ravel()
        xi = np.concatenate([xi, np.zeros(problem.model.n_features - xi.size)])
    return np.concatenate([xi, [0.0]])


def printed_limit(problem, theta0) -> np.ndarray:
    r"""The limit as printed in Thm 3.3: a = sign(θ₂(0))·‖θ(0)‖/√(‖ξ‖² + 1) (wrong, errata E2),
    with the paper's sign(x) = 1{x ≥ 0} − 1{x < 0} (Sec. 1.3): sign(0) = +1, not NumPy's 0."""
    th = np.asarray(theta0, float)
    xi = np.asarray(problem.phi_star, float)
    sign = 1.0 if LinearDEQ.split(th)[1] >= 0 else -1.0
    a = sign * np.linalg.norm(th) / np.sqrt(xi @ xi + 1)
    return np.concatenate([a * xi, [1 - a]])


def lasalle_check(traj, problem, tol: float = 1e-4) -> list[Check]:
    r"""Thm 3.3 / LaSalle: the final point lies on S = {θ₁ = ξ(1 − θ₂)} (linear) and equals
    the predicted limit (corrected, errata E2; single-index: (ξ, 0)) to within ``tol``
    (relative to max(1, ‖limit‖)).  The observed limit is the last saved point, so a run
    that is stopped too early fails honestly."""
    traj = _single(traj)
    th = np.asarray(traj.theta)
    t = np.asarray(traj.t)
    linear = problem.model.kind == "linear"
    lim = predicted_limit(problem, th[0])
    note = ""
    if linear and traj.kind == "descent":
        # GD moves outward by eq. (8): its limit is the point of S on its final sphere
        flow_err = float(np.linalg.norm(th[-1] - lim))
        xi = np.asarray(problem.phi_star, float)
        a = np.sign(1 - LinearDEQ.split(th[0])[1]) * np.sqrt(_w(th[-1])) / np.sqrt(xi @ xi + 1)
        lim = np.concatenate([a * xi, [1 - a]])
        note = f"; GD: limit on the final sphere w(s_end) (flow-limit error {flow_err:.3g})"
    scale = max(1.0, float(np.linalg.norm(lim)))
    dist_lim = np.linalg.norm(th - lim, axis=1)
    out = []
    if linear:
        xi = np.asarray(problem.phi_star, float)
        t1, t2 = LinearDEQ.split(th)
        dS = np.linalg.norm(t1 - np.outer(1 - t2, xi), axis=1)
        out.append(Check("distance to S (Thm 3.3)", float(dS[-1]) / scale, tol,
                         float(dS[-1]) / scale <= tol, "‖θ₁ − ξ(1−θ₂)‖ at the last point",
                         {"t": t, "distance to S": dS}))
        pl = printed_limit(problem, th[0])
        extra = f"; printed-limit error {np.linalg.norm(th[-1] - pl):.3g}"
    else:
        extra = ""
    v = float(dist_lim[-1]) / scale
    out.append(Check("limit = prediction", v, tol, v <= tol,
                     f"predicted {np.array2string(lim, precision=6)}, observed "
                     f"{np.array2string(th[-1], precision=6)}{extra}{note}",
                     {"t": t, "distance to predicted limit": dist_lim}))
    return out


# ---------------------------------------------------------------------------- report
@dataclass
class Report:
    """All checks of one run; ``str(report)`` is a markdown table."""

    checks: list
    kind: str

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    def markdown(self) -> str:
        lines = ["| check | value | tol | verdict | detail |", "|---|---|---|---|---|"]
        lines += [c.row() for c in self.checks]
        return "\n".join(lines)

    __str__ = markdown

    def to_dict(self) -> list[dict]:
        return [{"name": c.name, "value": c.value, "tol": c.tol, "passed": c.passed,
                 "detail": c.detail} for c in self.checks]


def diagnose(traj, problem, *, tol: float = 1e-6, limit_tol: float = 1e-4,
             continuous: bool | None = None) -> Report:
    """Run every diagnostic that applies to ``traj`` (one run) and ``problem``; ``continuous``
    as in :func:`lyapunov_check` (default: when the flow saved its step ends)."""
    traj = _single(traj)
    checks = list(lyapunov_check(traj, problem, tol=tol, continuous=continuous))
    if problem.model.kind == "linear":
        checks.append(conservation_check(traj, problem, tol=max(tol, 1e-7),
                                         continuous=continuous))
    if problem.model.kind is None:  # no theorem predicts the limit: LaSalle's stationarity only
        checks.append(stationarity_check(traj, problem, tol=limit_tol))
    else:
        checks += lasalle_check(traj, problem, tol=limit_tol)
    return Report(checks, traj.kind)


def stationarity_check(traj, problem, tol: float = 1e-4) -> Check:
    r"""LaSalle for any model: a bounded flow's ω-limit set lies in {∇R = 0}, so the last
    saved point must be stationary, ‖∇R(θ_end)‖ ≤ tol · max(1, ‖∇R(θ₀)‖).  Recomputed
    from θ (not read off the trajectory), so a run stopped early fails honestly."""
    traj = _single(traj)
    th = np.asarray(traj.theta)
    g = np.linalg.norm(_grads(problem, th[[0, -1]]), axis=1)
    v = float(g[1] / max(1.0, g[0]))
    return Check("stationary limit (LaSalle)", v, tol, v <= tol,
                 f"‖∇R‖ {g[0]:.3g} → {g[1]:.3g}", {"t": np.asarray(traj.t),
                                                  "gradient norm": np.asarray(traj.grad_norm)})
