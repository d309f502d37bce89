r"""Checking a claim along the whole solution, not on a save grid.

A bound q(θ(t)) ≤ b(t) checked only at saved points misses whatever happens between them
(a Thm 3.4 violation of ratio 15.75 at t = 0.0066 read as 2e-17 from two saved points).
:class:`FlowPath` checks it continuously:

1. **Every accepted step end** of the flow (``gradient_flow(..., save_steps=True)``; a
   trajectory saved without them is re-run with the same settings).  Step ends carry the
   solver's own accuracy (rtol/atol of the run).
2. **A screen between step ends**: the cubic Hermite interpolant through θ and θ′ = −∇R(θ)
   at both ends of each step, at ``screen`` interior points.  It only *selects* where to
   look (its error is O(h⁴); Kvaerno's own dense output is an order below its steps), and
   its values never enter a verdict.
3. **Refinement**: the ``refine`` steps with the largest screened values are re-integrated
   from their left end with SciPy's DOP853 at rtol 1e-12 (an explicit 8th-order method
   independent of diffrax, whose 7th-order dense output carries that accuracy); the
   maximum is bracketed on 64 dense points and located by bounded Brent to ``xatol``
   (≈ 3e-8 of the step).  Where DOP853 would need more than ``max_steps_refine`` steps (a
   stiff step) SciPy's Radau with the exact Jacobian is used instead, at rtol 1e-10.

The worst value is the maximum over step ends and refined points; :attr:`Extremum.resolution`
says all of this in one line, with the measured error of the screen on the refined steps.

:class:`DescentPath` is the GD counterpart: every iterate is the solution, so a claim is
checked at every iterate.
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass

import equinox as eqx
import jax
import numpy as np
from scipy.integrate import DOP853, OdeSolution, Radau
from scipy.optimize import minimize_scalar


__all__ = ["FlowPath", "DescentPath", "Extremum", "risk_and_grad_at", "THEORY_MAX_STEPS"]

_CHUNK = 256
THEORY_MAX_STEPS = 20_000     # step-end buffer of a checked flow (raise [flow] max_steps beyond)
_COMPLETE = ("converged", "max_time")
_RERUN_KEYS = ("rtol", "atol", "singular_eps", "converged_tol", "divergence_cap", "risk_tol",
               "t0", "n_save", "exact_saves")


@eqx.filter_jit
def _batch(problem, pts):
    return jax.vmap(problem.risk_and_grad)(pts)


@eqx.filter_jit
def _hessian(problem, y):
    return jax.hessian(problem.risk)(y)


def risk_and_grad_at(problem, pts):
    """R (n,) and ∇R (n, p) at the rows of ``pts``, in padded chunks of one compiled shape
    (a new number of points must not compile a new program)."""
    pts = np.atleast_2d(np.asarray(pts, float))
    n, p = pts.shape
    if n <= 4:  # a few points (Brent): the single-point jitted calls, already compiled
        out = [problem.risk_and_grad(x) for x in pts]
        return (np.array([float(r) for r, _ in out]), np.array([np.asarray(g) for _, g in out]))
    m = -(-n // _CHUNK) * _CHUNK
    padded = np.concatenate([pts, np.repeat(pts[-1:], m - n, axis=0)])
    R, G = [], []
    for i in range(0, m, _CHUNK):
        r, g = _batch(problem, padded[i:i + _CHUNK])
        R.append(np.asarray(r))
        G.append(np.asarray(g))
    return np.concatenate(R)[:n], np.concatenate(G)[:n]


@dataclass
class Extremum:
    """The largest value of a function along a run: ``value`` at ``t`` (θ there), over
    ``n_points`` checked points, with a one-line ``resolution``."""

    value: float
    t: float
    theta: np.ndarray
    n_points: int
    resolution: str


def _hermite(t, th, f, s):
    """Cubic Hermite interpolant of each step [t_k, t_{k+1}] at the fractions ``s``."""
    h = np.diff(t)[:, None, None]
    s = s[None, :, None]
    h00, h10 = 2 * s ** 3 - 3 * s ** 2 + 1, s ** 3 - 2 * s ** 2 + s
    h01, h11 = -2 * s ** 3 + 3 * s ** 2, s ** 3 - s ** 2
    Y = (h00 * th[:-1, None] + h10 * h * f[:-1, None] + h01 * th[1:, None]
         + h11 * h * f[1:, None])
    T = t[:-1, None] + s[..., 0] * h[..., 0]
    return T, Y


_PATHS: dict = {}   # id(traj) → (weakref, problem, FlowPath, content hash): one re-run per run


class _Path:
    """What a flow and a GD path share: the last time/step and why a run is incomplete."""

    t: np.ndarray
    outcome: str
    complete: bool

    @property
    def t_end(self) -> float:
        return float(self.t[-1])

    @property
    def incomplete(self) -> str:
        """Why the run is not a complete check of a statement about all t ≥ 0 ('' if it is)."""
        return "" if self.complete else self._stopped_at()


class FlowPath(_Path):
    """A gradient-flow solution for continuous checks (see the module docstring).

    ``traj`` is one flow; without step ends (``settings["save_steps"]``) it is re-run from
    its θ₀ with its own settings and ``save_steps=True``.  :meth:`of` keeps the path of a
    trajectory, so several checks of one run share its re-run and re-integrations."""

    @classmethod
    def of(cls, problem, traj) -> "FlowPath":
        if isinstance(traj, cls):
            return traj
        # a trajectory changed in place (arrays edited) is a new one: key on its contents too
        mark = hash((np.asarray(traj.t).tobytes(), np.asarray(traj.theta).tobytes()))
        hit = _PATHS.get(id(traj))
        if hit is not None and hit[0]() is traj and hit[1] is problem and hit[3] == mark:
            return hit[2]
        path = cls(problem, traj)
        for k in [k for k, v in _PATHS.items() if v[0]() is None]:
            del _PATHS[k]
        _PATHS[id(traj)] = (weakref.ref(traj), problem, path, mark)
        return path

    def __init__(self, problem, traj, *, screen: int = 7, refine: int = 4,
                 max_steps_refine: int = 4000):
        if traj.kind != "flow":
            raise ValueError("FlowPath needs a gradient-flow trajectory; use DescentPath for GD.")
        if not traj.settings.get("save_steps"):
            traj = rerun_with_steps(problem, traj)
        self.problem, self.traj = problem, traj
        t, th = np.asarray(traj.t, float), np.asarray(traj.theta, float)
        keep = np.concatenate([[True], np.diff(t) > 0])
        self.t, self.theta = t[keep], th[keep]
        self.risk, self.grad = risk_and_grad_at(problem, self.theta)
        self.outcome = str(traj.outcome)
        self.complete = self.outcome in _COMPLETE
        self.screen_s = np.arange(1, screen + 1) / (screen + 1)
        self.refine_count = refine
        self.max_steps_refine = max_steps_refine
        self._dense: dict = {}
        self._screen = None

    # ------------------------------------------------------------------ basics
    def _stopped_at(self) -> str:
        return f"the flow stopped early ({self.outcome} at t = {self.t_end:.4g})"

    def rtol(self) -> float:
        return float(self.traj.settings.get("rtol", 1e-10))

    def screened(self):
        if self._screen is None:
            f = np.where(np.isfinite(self.grad), -self.grad, 0.0)
            self._screen = _hermite(self.t, self.theta, f, self.screen_s)
        return self._screen

    # ---------------------------------------------------------- re-integration
    def _field(self, t, y):
        g = np.asarray(self.problem.grad(y), float)
        return -g

    def dense(self, k: int):
        """The step [t_k, t_{k+1}] re-integrated from θ(t_k) (SciPy DOP853, rtol 1e-12; Radau
        with the exact Jacobian where DOP853 needs too many steps); None if both fail."""
        if k in self._dense:
            return self._dense[k]
        a, b = float(self.t[k]), float(self.t[k + 1])
        y0 = self.theta[k]
        scale = max(1.0, float(np.max(np.abs(y0))))
        sol = _integrate(DOP853, self._field, a, b, y0, 1e-12, 1e-14 * scale,
                         self.max_steps_refine)
        how = "DOP853 rtol 1e-12"
        if sol is None:
            problem = self.problem
            sol = _integrate(Radau, self._field, a, b, y0, 1e-10, 1e-12 * scale,
                             20 * self.max_steps_refine,
                             jac=lambda t, y: -np.asarray(_hessian(problem, y), float))
            how = "Radau rtol 1e-10"
        self._dense[k] = None if sol is None else (sol, how)
        return self._dense[k]

    # ------------------------------------------------------------------- sup
    def sup(self, fn, *, skip_start: bool = True) -> Extremum:
        """max over the solution of ``fn(t, θ)`` (vectorised: t (n,), θ (n, p) → (n,); NaN
        and −inf mean "not checked there"), with the resolution it was found at."""
        t, th = self.t, self.theta
        v_end = np.asarray(fn(t, th), float)
        if skip_start:
            v_end[0] = -np.inf
        v_end = np.where(np.isnan(v_end), -np.inf, v_end)
        best_i = int(np.argmax(v_end))
        best = (float(v_end[best_i]), float(t[best_i]), th[best_i])
        if len(t) < 2:
            return Extremum(best[0], best[1], best[2], 0, "a single point")
        T, Y = self.screened()
        m, S = T.shape
        v_scr = np.asarray(fn(T.ravel(), Y.reshape(m * S, -1)), float).reshape(m, S)
        v_scr = np.where(np.isnan(v_scr), -np.inf, v_scr)
        per = np.maximum(np.maximum(v_end[:-1], v_end[1:]), v_scr.max(axis=1))
        per = np.where(np.diff(t) > 0, per, -np.inf)
        order = [int(k) for k in np.argsort(-per)[:self.refine_count] if np.isfinite(per[k])]
        screen_err, methods, refined, xatol_max = 0.0, set(), 0, 0.0
        for k in order:
            got = self.dense(k)
            if got is None:
                continue
            sol, how = got
            methods.add(how)
            refined += 1
            tt = np.linspace(t[k], t[k + 1], 65)[1:]
            vv = np.asarray(fn(tt, sol(tt).T), float)
            vv = np.where(np.isnan(vv), -np.inf, vv)
            at_screen = np.asarray(fn(T[k], sol(T[k]).T), float)
            ok = np.isfinite(at_screen) & np.isfinite(v_scr[k])
            if ok.any():
                screen_err = max(screen_err, float(np.max(np.abs(at_screen[ok] - v_scr[k][ok]))))
            j = int(np.argmax(vv))
            if not np.isfinite(vv[j]):
                continue
            lo = tt[j - 1] if j > 0 else t[k]
            hi = tt[j + 1] if j + 1 < len(tt) else t[k + 1]
            xatol = 1e-6 * (hi - lo)
            xatol_max = max(xatol_max, xatol)
            res = minimize_scalar(lambda s: -_scalar(fn, s, sol), bounds=(lo, hi),
                                  method="bounded", options={"xatol": xatol})
            cand = [(float(vv[j]), float(tt[j]))]
            if np.isfinite(res.fun):
                cand.append((-float(res.fun), float(res.x)))
            v, at = max(cand)
            if v > best[0]:
                best = (v, at, np.asarray(sol(at), float))
        res = (f"{len(t)} step ends; screened at {len(self.screen_s)} Hermite points per step"
               + (f" (screen error ≤ {screen_err:.1g} on the refined steps)" if refined else "")
               + (f"; {refined} step(s) re-integrated ({', '.join(sorted(methods))}), maximum "
                  f"located to Δt ≤ {xatol_max:.1g}" if refined else "; no step refined"))
        return Extremum(best[0], best[1], best[2], len(t) - (1 if skip_start else 0), res)


    def max_rise(self, fn) -> Extremum:
        """The largest increase of ``fn(t, θ)`` between consecutive points of the solution
        (a non-increasing quantity has none): between step ends, and on the ``refine`` steps
        whose screened rise is largest, between 65 re-integrated points of the step."""
        t, th = self.t, self.theta
        v = np.asarray(fn(t, th), float)
        if len(t) < 2:
            return Extremum(-np.inf, float(t[0]), th[0], 0, "a single point")
        rise = np.diff(v)
        i = int(np.nanargmax(np.where(np.isnan(rise), -np.inf, rise)))
        best = (float(rise[i]), float(t[i + 1]), th[i + 1])
        T, Y = self.screened()
        m, S = T.shape
        vs = np.asarray(fn(T.ravel(), Y.reshape(m * S, -1)), float).reshape(m, S)
        seq = np.concatenate([v[:-1, None], vs, v[1:, None]], axis=1)
        per = np.nanmax(np.diff(seq, axis=1), axis=1)
        per = np.where(np.isnan(per) | (np.diff(t) <= 0), -np.inf, per)
        refined, methods = 0, set()
        for k in [int(k) for k in np.argsort(-per)[:self.refine_count] if np.isfinite(per[k])]:
            got = self.dense(k)
            if got is None:
                continue
            sol, how = got
            refined += 1
            methods.add(how)
            tt = np.linspace(t[k], t[k + 1], 65)
            vv = np.asarray(fn(tt, sol(tt).T), float)
            d = np.diff(vv)
            if np.any(np.isfinite(d)):
                j = int(np.nanargmax(np.where(np.isnan(d), -np.inf, d)))
                if d[j] > best[0]:
                    best = (float(d[j]), float(tt[j + 1]), np.asarray(sol(tt[j + 1]), float))
        res = (f"{len(t)} step ends; screened at {S} Hermite points per step"
               + (f"; {refined} step(s) re-integrated ({', '.join(sorted(methods))}) at 65 "
                  "points each" if refined else "; no step refined"))
        return Extremum(best[0], best[1], best[2], len(t) - 1, res)


def _scalar(fn, s, sol):
    v = float(np.asarray(fn(np.array([s]), np.asarray(sol(s), float)[None]))[0])
    return v if np.isfinite(v) else -np.inf


def _integrate(method, fun, a, b, y0, rtol, atol, cap, jac=None):
    """Integrate fun from a to b with a SciPy OdeSolver, keeping its dense output; None if
    it fails, meets a non-finite field or needs more than ``cap`` steps."""
    kw = {} if jac is None else {"jac": jac}
    try:
        solver = method(fun, a, np.array(y0, float), b, rtol=rtol, atol=atol, **kw)
        ts, interps = [a], []
        while solver.status == "running":
            if len(interps) >= cap:
                return None
            solver.step()
            if solver.status == "failed" or not np.all(np.isfinite(solver.y)):
                return None
            interps.append(solver.dense_output())
            ts.append(solver.t)
    except (ValueError, FloatingPointError, np.linalg.LinAlgError):
        return None
    if len(interps) == 0:
        return None
    return OdeSolution(ts, interps)


def rerun_with_steps(problem, traj):
    """The flow of ``traj`` again, from its θ₀ with its settings, saving every step end."""
    s = traj.settings
    solver = s.get("solver", "kvaerno5")
    kw = {k: s[k] for k in _RERUN_KEYS if k in s and s[k] is not None}
    max_steps = int(s.get("max_steps", THEORY_MAX_STEPS))
    used = int(np.asarray(traj.stats.get("num_steps", 0)))
    kw["max_steps"] = THEORY_MAX_STEPS if used < THEORY_MAX_STEPS // 2 else max_steps
    from ..dynamics.flow import gradient_flow  # import cost: diffrax, only for a re-run
    try:
        return gradient_flow(problem, np.asarray(traj.theta[0]), float(s["t1"]), solver=solver,
                             save_steps=True, **kw)
    except (KeyError, ValueError) as err:
        raise ValueError(f"cannot re-run this flow with its step ends ({err}): run "
                         "gradient_flow(..., save_steps=True) and pass that trajectory.") from None


class DescentPath(_Path):
    """A GD run: every iterate θ_s is checked (the solution has no points in between)."""

    def __init__(self, problem, traj, step_size=None):
        if traj.kind != "descent":
            raise ValueError("DescentPath needs a gradient-descent trajectory.")
        self.problem, self.traj = problem, traj
        self.t = np.asarray(traj.t, float)
        self.theta = np.asarray(traj.theta, float)
        self.risk = np.asarray(traj.risk, float)
        self.grad_norm = np.asarray(traj.grad_norm, float)
        eta = step_size if step_size is not None else traj.per_member.get(
            "step_size", traj.settings.get("step_size"))
        if eta is None or np.ndim(eta) != 0:
            raise ValueError("traj has no scalar step size: pass step_size or a single GD run.")
        self.eta = float(eta)
        self.outcome = str(traj.outcome)
        self.complete = self.outcome in ("converged", "max_steps")
        self._grad = None

    def _stopped_at(self) -> str:
        return f"GD stopped early ({self.outcome} at step {int(self.t_end)})"

    @property
    def grad(self) -> np.ndarray:
        if self._grad is None:
            self._grad = risk_and_grad_at(self.problem, self.theta)[1]
        return self._grad

    def max_rise(self, fn) -> Extremum:
        """The largest increase of ``fn(s, θ_s)`` from one iterate to the next."""
        v = np.asarray(fn(self.t, self.theta), float)
        if v.size < 2:
            return Extremum(-np.inf, float(self.t[0]), self.theta[0], 0, "a single iterate")
        d = np.diff(v)
        i = int(np.nanargmax(np.where(np.isnan(d), -np.inf, d)))
        return Extremum(float(d[i]), float(self.t[i + 1]), self.theta[i + 1], d.size,
                        f"every step ({d.size})")

    def sup(self, fn, *, skip_start: bool = True) -> Extremum:
        v = np.asarray(fn(self.t, self.theta), float)
        if skip_start and v.size:
            v[0] = -np.inf
        v = np.where(np.isnan(v), -np.inf, v)
        i = int(np.argmax(v))
        n = len(self.t) - (1 if skip_start else 0)
        return Extremum(float(v[i]), float(self.t[i]), self.theta[i], n,
                        f"every iterate ({n} step(s))")
