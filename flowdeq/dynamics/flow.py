r"""Gradient flow θ′(t) = −∇R(θ(t)) as a stiff ODE with diffrax, for any DEQ.

Default solver: Kvaerno5 (L-stable ESDIRK, 5th order) with a PID step-size controller:
near ill-posedness the flow is stiff.  The flow stops at the first time any of these holds
(one event function, located by bisection inside the last step: dynamics/events.py), and
the result says which (``Trajectory.outcome``, :class:`flowdeq.Outcome`):

============  ==========================================================================
nonfinite     R or ∇R NaN at a finite θ (the message names the stage that went undefined)
ill_posed     the model's margin fell to ε (linear: |1 − θ₂| ≤ ε; single-index:
              L|θ₂| ≥ 1 − ε; any model: min of its ``margins`` ≤ ε, the name of the one
              that fired in ``stats["ill_posed_kind"]``)
converged     ‖∇R(θ)‖ ≤ ``converged_tol`` at a minimiser (R − R* ≤ risk_tol·max(1, E f²)
              where the model knows R*)
stationary    ‖∇R(θ)‖ ≤ ``converged_tol`` where R − R* is larger: not a minimiser
diverged      R infinite, or R or ‖θ‖ above ``divergence_cap``
max_time      none of the above before t1
failed        the ODE solver gave up (e.g. max_steps); the message is in ``stats``
============  ==========================================================================

Where ∇R is undefined the field is set to 0, so the solver steps into that region and the
``nonfinite`` event stops the flow at its edge instead of rejecting steps until max_steps.
Tolerances, ε, caps, t0/t1 and the save grid enter the compiled solve as arrays, so new
values do not recompile; a batch θ₀ of shape (n, p) runs under one compilation with
``throw=False`` and each member keeps its own outcome.  The settings and their defaults are
:class:`~flowdeq.dynamics.settings.FlowSettings`.
"""
from __future__ import annotations

import contextlib
import sys
import time

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optimistix as optx

from .._outcomes import FLOW_OUTCOMES, labels
from .._programs import persistent_jit
from .._validate import check_size, device
from ..problem import Problem
from .events import BracketBisection, classify, event_function, event_values
from .labels import ill_posed_kinds, settle
from .settings import FlowSettings
from .trajectory import Trajectory

__all__ = ["gradient_flow", "SOLVERS", "GradientField"]

# Kvaerno stage equations: full Newton (p is tiny, so a fresh Jacobian is cheap) with fixed
# tolerances, and the rate-based stop, because the Cauchy test's absolute residual cannot be
# met where the field is ~1e6 (docs/performance.md, entries 1, 4 and 10).
_STAGE_ROOT = optx.Newton(rtol=1e-8, atol=1e-10, cauchy_termination=False)


SOLVERS = {
    "kvaerno5": lambda: diffrax.Kvaerno5(root_finder=_STAGE_ROOT),
    "kvaerno4": lambda: diffrax.Kvaerno4(root_finder=_STAGE_ROOT),
    "kvaerno3": lambda: diffrax.Kvaerno3(root_finder=_STAGE_ROOT),
    "tsit5": diffrax.Tsit5,
    "dopri5": diffrax.Dopri5,
    "dopri8": diffrax.Dopri8,
}
# the event time to 1e-13 relative (≤ ~45 halvings of the last step); see events.py
_EVENT_ROOT = BracketBisection(rtol=1e-13, atol=1e-300)
_MAX_TIME, _FAILED = 4, 5  # codes after the event conditions' (FLOW_OUTCOMES order)


def _solver(spec):
    if isinstance(spec, diffrax.AbstractSolver):
        return spec, type(spec).__name__.lower()
    if isinstance(spec, str) and spec.lower() in SOLVERS:
        return SOLVERS[spec.lower()](), spec.lower()
    raise ValueError(f"unknown solver {spec!r}: use one of {sorted(SOLVERS)} or a diffrax solver.")


def _hermite_dense_output(solver) -> bool:
    """Whether the solver's dense output is diffrax's cubic Hermite interpolant (Kvaerno)."""
    interp = getattr(type(solver), "interpolation_cls", None)
    return "ThirdOrderHermite" in getattr(interp, "__qualname__", "")


class _StepToSaves(diffrax.ClipStepSizeController):
    """Steps land on every save time; a step that would stop just short of one stretches
    onto it.

    Kvaerno's dense output (cubic Hermite) is an order below the method, so saved points
    are step ends (``step_ts``).  A step ending within 1 % of its length short of a save
    time is taken to it: the ULP-long step that otherwise follows fails its stage solve
    and cannot shrink (docs/performance.md, entry 10).
    """

    def _stretch(self, t0, t1):
        ts = self.step_ts
        s = ts[jnp.minimum(jnp.searchsorted(ts, t0, side="right"), ts.shape[0] - 1)]
        near = (s > t1) & (s - t1 <= 0.01 * (t1 - t0))
        return jnp.where(near, s, t1)

    def init(self, terms, t0, t1, y0, dt0, args, func, error_order):
        t1_, state = super().init(terms, t0, t1, y0, dt0, args, func, error_order)
        return self._stretch(t0, t1_), state

    def adapt_step_size(self, t0, t1, y0, y1_candidate, args, y_error, error_order,
                        controller_state):
        keep, next_t0, next_t1, jump, state, result = super().adapt_step_size(
            t0, t1, y0, y1_candidate, args, y_error, error_order, controller_state)
        return keep, next_t0, self._stretch(next_t0, next_t1), jump, state, result


class GradientField(eqx.Module):
    """The field θ′ = −∇R(θ) of the gradient flow: ``gradient_flow``'s default.

    A field is an equinox Module called as ``field(problem, θ)`` → θ′.  Its array
    attributes (e.g. a step size η) are traced, so new values do not recompile; other
    attributes are static.  :mod:`flowdeq.dynamics.modified` holds the backward-error
    fields of GD."""

    def __call__(self, problem, theta):
        return -problem.grad(theta)

    def describe(self) -> dict:
        return {"name": "gradient"}


@contextlib.contextmanager
def _cacheable_trace():
    """Trace the solve with equinox's runtime checks compiled out.

    The only runtime checks in the solve are diffrax's on ``SaveAt(ts)`` (increasing,
    inside [t0, t1]); ``gradient_flow`` has checked the same in Python before the call,
    and every other failure is returned (``throw=False``), not raised.  Compiled in, each
    check is a host callback, and JAX never writes an executable that holds a callback
    to its persistent compilation cache — so without this no flow was ever cached
    (docs/performance.md).  Equinox reads its ``EQX_ON_ERROR`` setting while tracing; if
    a future equinox moves it, this does nothing and the flow is merely not cached.
    """
    errs = sys.modules.get("equinox._errors")
    if errs is None or not hasattr(errs, "EQX_ON_ERROR"):
        yield
        return
    old = errs.EQX_ON_ERROR
    errs.EQX_ON_ERROR = "off"
    try:
        yield
    finally:
        errs.EQX_ON_ERROR = old


@persistent_jit
def _solve(problem: Problem, theta0, ts, rtol, atol, eps, gtol, cap, solver, max_steps,
           exact_saves, save_steps=False, vector_field=GradientField(), meter=None):
    t0, t1 = ts[0], ts[-1]

    def field(t, y, args):
        # 0 where ∇R is undefined: the solver then accepts a step into that region and the
        # ``nonfinite`` event stops the flow there, instead of rejecting steps until
        # max_steps (an undefined field is never integrated: the event ends the solve)
        v = vector_field(problem, y)
        return jnp.where(jnp.all(jnp.isfinite(v)), v, 0.0)

    shared = {}

    def evaluate(y):
        """R, ∇R and the margins at y, computed once per traced state: diffrax evaluates
        the event functions one after another on the same step-end state, and separately
        each of ``converged`` and ``diverged`` compiled an equilibrium solve of its own into
        every step (0.5 s of XLA compile per single-index flow; docs/performance.md).
        A state seen for the first time (e.g. inside the event root find) is computed."""
        if shared.get("y") is not y:
            shared["y"], shared["value"] = y, problem.evaluate(y)
        return shared["value"]

    # one event, the first condition in time (dynamics/events.py)
    event = diffrax.Event(event_function(problem, eps, gtol, cap, evaluate),
                          root_finder=_EVENT_ROOT, direction=False)
    controller = diffrax.PIDController(rtol=rtol, atol=atol)
    if exact_saves:
        controller = _StepToSaves(controller, step_ts=ts)

    def one(y0):
        sol = diffrax.diffeqsolve(
            diffrax.ODETerm(field), solver, t0, t1, None, y0,
            saveat=diffrax.SaveAt(ts=ts, t1=True, steps=save_steps),
            stepsize_controller=controller, event=event, max_steps=max_steps, throw=False,
            progress_meter=diffrax.NoProgressMeter() if meter is None else meter)
        fired = sol.event_mask
        ok = sol.result == diffrax.RESULTS.successful
        # R, ∇R once per save; the condition that fired is read off the located state, the
        # last finite save (SaveAt(t1=True) writes it right after the last grid point
        # reached).  A start that already meets one is reported at t0: diffrax fires only
        # on a crossing.
        saved = jnp.isfinite(sol.ts)
        ys = jnp.where(saved[:, None], sol.ys, y0[None, :])
        risk, grad, margins = jax.vmap(problem.evaluate)(ys)
        at = lambda i: event_values(problem, ys[i], eps, gtol, cap,
                                    lambda _: (risk[i], grad[i], margins[i]))
        at_start = at(0)  # ts[0] = t0 is always saved
        start_hit = jnp.min(at_start) <= 0
        last = jnp.sum(saved) - 1
        at_event = at(last)
        code = jnp.where(start_hit, classify(at_start), jnp.where(
            fired, classify(at_event), jnp.where(ok, _MAX_TIME, _FAILED)))
        # which margin fired (read only where the outcome is ill_posed)
        kind = jnp.argmin(jnp.where(jnp.isnan(margins), jnp.inf, margins)[
            jnp.where(start_hit, 0, last)])
        # message code: 0 none, 1 max_steps, 2 other solver failure, 3 event bracket not
        # narrowed within the root finder's step budget (time approximate)
        located = sol.result == diffrax.RESULTS.event_occurred
        maxed = jnp.where(start_hit, 0, jnp.where(fired, jnp.where(located, 0, 3),
                          jnp.where(ok, 0, jnp.where(
                              sol.result == diffrax.RESULTS.max_steps_reached, 1, 2))))
        # drop the located state when it repeats the grid point before it
        prev = jnp.concatenate([jnp.array([-jnp.inf]), sol.ts[:-1]])
        valid = saved & (sol.ts != prev) & (~start_hit | (sol.ts <= t0))
        gnorm = jnp.linalg.norm(grad, axis=-1)
        stats = (sol.stats["num_steps"], sol.stats["num_accepted_steps"],
                 sol.stats["num_rejected_steps"])
        return sol.ts, sol.ys, risk, gnorm, valid, code, maxed, stats, kind

    if theta0.shape[0] == 1:  # no vmap: half the trace time (Sec. 4.2 flow: 1.8 → 0.9 s)
        return jax.tree_util.tree_map(lambda a: a[None], one(theta0[0]))
    return jax.vmap(one)(theta0)


# elements of the largest per-member array a solve holds (n samples × m × m for a width-m DEQ's
# Jacobians) times the members of one chunk: 2**24 float64 = 128 MB per such array.  A 1000-start
# m = 8 flow on 1000 samples held 16 GB in one chunk of 1024 (docs/performance.md, entry 23).
MEMBER_ELEMENTS_PER_CHUNK = 2 ** 24


def chunk_members(problem: Problem, chunk_size: int) -> int:
    """The members one chunk runs: ``chunk_size``, lowered so that a chunk's per-sample
    Jacobian arrays (members × n samples × m²) stay within ``MEMBER_ELEMENTS_PER_CHUNK``."""
    per_member = problem.arrays.X.shape[0] * problem.model.width ** 2
    return int(max(1, min(chunk_size, MEMBER_ELEMENTS_PER_CHUNK // per_member)))


def _run_chunks(problem, theta, settings, chunk_size):
    """``_solve`` over the batch, in margin-ordered chunks when it exceeds chunk_size.

    Each chunk's results are copied into arrays of the batch's size as the chunk finishes
    (then its buffers are freed), so the peak is the result plus one chunk, not the result
    two or three times over (a list of chunks, their concatenation, its reordering)."""
    n = len(theta)
    if n <= chunk_size:
        return jax.tree_util.tree_map(np.array, _solve(problem, device(theta), *settings))
    order = np.argsort(problem.margin_values(theta), kind="stable")
    slots = np.concatenate([order, np.full((-n) % chunk_size, -1)])  # −1: padding
    out = None
    for i in range(0, len(slots), chunk_size):
        rows = slots[i:i + chunk_size]
        part = _solve(problem, device(theta[np.where(rows >= 0, rows, order[-1])]), *settings)
        part = jax.tree_util.tree_map(np.asarray, part)
        if out is None:
            out = jax.tree_util.tree_map(lambda a: np.empty((n,) + a.shape[1:], a.dtype), part)
        keep = rows >= 0
        jax.tree_util.tree_map(lambda o, a: o.__setitem__(rows[keep], a[keep]), out, part)
    return out


def gradient_flow(problem: Problem, theta0, t1=None, *, settings: FlowSettings | None = None,
                  field=None, progress: bool = False, **options) -> Trajectory:
    r"""Integrate θ′ = −∇R(θ) from θ(t0) = θ₀ up to t1 or the first event.

    Parameters
    ----------
    problem : Problem (any model: see :class:`flowdeq.models.AbstractDEQ`)
    theta0 : (p,) or (n, p) array: one start or a batch (one compilation, ``throw=False``).
    t1 : final time (> t0).
    settings : a :class:`FlowSettings` to start from; the keyword ``options`` listed after
        ``progress`` (t0 … exact_saves) replace its entries.
    field : the vector field θ′ = field(problem, θ), an equinox Module (default
        :class:`GradientField`, −∇R; its arrays are traced, so new values do not recompile)
        with an optional ``describe()`` recorded as ``settings["field"]``; e.g. GD's modified
        field (:func:`flowdeq.dynamics.modified.modified_flow`).  Events, solvers and the
        saved R, ‖∇R‖ are the same whatever the field.
    progress : show diffrax's ``TqdmProgressMeter`` on stderr while solving (t from t0 to t1;
        a batch shows its slowest member, one bar per chunk).  Off by default: the meter is
        a host callback, so the solve compiles once more and is never written to the
        persistent compilation cache (docs/performance.md).  Results are identical.
    t0 : start time (default 0).
    solver : "kvaerno5" (default, stiff) | "kvaerno3"/"kvaerno4" | "tsit5" | "dopri5" | "dopri8",
        or a diffrax solver instance.  Kvaerno5 is the default because the flow is stiff near
        ill-posedness; far from it an explicit solver can be faster (docs/performance.md,
        "explicit solvers").
    rtol, atol : PID controller tolerances (1e-10, 1e-12).
    singular_eps : ε of the ``ill_posed`` event (1e-6).
    converged_tol : the ``converged`` event fires when ‖∇R‖ falls to this (0 disables it).
    divergence_cap : the ``diverged`` event fires when R or ‖θ‖ exceeds it (1e10).
    risk_tol : a stop at ‖∇R‖ ≤ converged_tol is ``converged`` only where R − R* ≤
        risk_tol·max(1, E f²) (R* from the model's ``known_minimum``), else ``stationary``
        (1e-8).  ``stats["risk_gap"]`` holds R − R* (NaN where R* is unknown).
    n_save : points of the uniform save grid on [t0, t1] (ignored if ``ts`` is given).
    ts : explicit increasing save times within [t0, t1].
    max_steps : solver step budget (outcome ``failed`` when exhausted).
    chunk_size : a batch larger than this runs as consecutive chunks of this many members
        (fewer where a chunk's per-sample arrays would pass 2²⁴ elements, see
        :func:`chunk_members`; one compiled shape; the last chunk padded), after ordering the members by their
        margin: under ``vmap`` a batch takes as many steps as its slowest member, and starts
        near ill-posedness are the slow ones (docs/performance.md, "chunking").  Results
        come back in the caller's order.  The chunking (and a batch against a single run)
        changes only XLA's vectorisation, so results agree to rounding, not bitwise:
        outcomes are the same and paths agree to ~1e-13 relative (tests/test_outcomes.py
        checks 1e-10).  A ``converged`` event *time* is as well defined as ‖∇R‖ is: where
        its rounding floor (≈ ε_mach·‖∇²R‖·‖θ‖) nears converged_tol — within ~1e-5 of
        θ₂ = 1 for the linear DEQ — the first dip below the tolerance is noise, and such
        times moved by up to 3000× between chunkings while R − R* stayed ~1e-21
        (docs/performance.md, entry 16).
    exact_saves : make every save time a step end, so saved points carry the solver's own
        accuracy instead of its dense-output interpolant's.  Default (None): on for solvers
        whose dense output is a cubic Hermite interpolant (the Kvaerno family), off for
        Tsit5/Dopri, whose interpolants match their order.
    save_steps : also save every accepted step end (default False), in time order with the
        save grid: a check along the whole solution (``flowdeq.analysis.theory``) then sees
        every point the solver computed, not only the grid.  The buffer holds ``max_steps``
        more entries per member (and R, ∇R at each), so keep it for single runs.

    Returns
    -------
    Trajectory with ``kind="flow"``.  Saved points after an event are dropped (a batch marks
    them invalid); the event point itself is the last point, at ``event_time``.

    Raises
    ------
    ValueError for bad input: θ₀ non-finite, of the wrong shape or within ε of ill-posedness;
    t1 ≤ t0; bad tolerances.
    """
    if t1 is not None:
        options["t1"] = t1
    s = FlowSettings.build(settings, **options)
    theta = problem.check_theta(theta0, s.singular_eps)
    batch = theta.ndim == 2
    theta = np.atleast_2d(theta)
    # every save holds θ, R, ‖∇R‖, t and a flag, on device (per chunk) and on host;
    # checked before the grid itself is built
    n_ts = (s.n_save if s.ts is None else np.size(s.ts) + 2) + (s.max_steps if s.save_steps else 0)
    check_size("n_save" if s.ts is None else "ts",
               2.0 * len(theta) * (n_ts + 1) * (theta.shape[1] + 4) * 8,
               f"{len(theta)} member(s) × {n_ts} saves")
    ts = s.save_times()
    slv, sname = _solver(s.solver)
    exact_saves = _hermite_dense_output(slv) if s.exact_saves is None else bool(s.exact_saves)
    start = np.maximum(np.abs(problem.risks(theta)),
                       np.linalg.norm(theta, axis=1))
    if np.any(start >= s.divergence_cap):
        raise ValueError(f"divergence_cap = {s.divergence_cap:g} is not above the start's R or ‖θ‖ "
                         f"({float(np.max(start)):.4g}): raise divergence_cap.")

    wall = time.perf_counter()
    settings_ = (device(ts), device(s.rtol), device(s.atol), device(s.singular_eps),
                 device(s.converged_tol), device(s.divergence_cap), slv, s.max_steps,
                 exact_saves, s.save_steps, GradientField() if field is None else field,
                 diffrax.TqdmProgressMeter(refresh_steps=10) if progress else None)
    members = chunk_members(problem, s.chunk_size)
    with _cacheable_trace():
        out = _run_chunks(problem, theta, settings_, members)
    wall = time.perf_counter() - wall
    t, th, risk, gnorm, valid, code, maxed, (nst, nacc, nrej), kind = out

    outcome = labels(code, FLOW_OUTCOMES)
    t_last = np.max(np.where(valid, t, -np.inf), axis=1)
    event_time = np.where(code < _MAX_TIME, t_last, np.nan)
    message = np.array(["", "max_steps reached: raise max_steps or loosen rtol/atol",
                        "ODE solver failure (step size collapsed or non-finite field)",
                        "the event's bracket was not narrowed within the root finder's budget; "
                        "its time is approximate (within the last step)"])[maxed]
    last = np.argmax(np.where(valid, t, -np.inf), axis=1)
    rows = np.arange(len(theta))
    outcome, gap, message = settle(problem, outcome, th[rows, last], risk[rows, last],
                                   s.risk_tol, message)
    settings = {"solver": sname, "rtol": s.rtol, "atol": s.atol, "singular_eps": s.singular_eps,
                "converged_tol": s.converged_tol, "divergence_cap": s.divergence_cap,
                "risk_tol": s.risk_tol, "t0": s.t0, "t1": s.t1, "max_steps": s.max_steps, "n_save": int(len(ts)),
                "chunk_size": s.chunk_size, "chunk_members": members,
                "exact_saves": exact_saves, "save_steps": s.save_steps,
                "problem": problem.describe(), "layout": problem.model.layout_record()}
    if field is not None:
        describe = getattr(field, "describe", None)
        settings["field"] = describe() if callable(describe) else {"name": type(field).__name__}
    stats = {"num_steps": nst, "num_accepted_steps": nacc, "num_rejected_steps": nrej,
             "message": message, "risk_gap": gap, "wall_seconds": np.full(len(theta), wall),
             "ill_posed_kind": ill_posed_kinds(problem, outcome, kind)}
    traj = Trajectory(kind="flow", t=t, theta=th, risk=risk, grad_norm=gnorm, valid=valid,
                      outcome=outcome, event_time=event_time,
                      event_step=np.full(len(theta), -1), stats=stats, settings=settings)
    return traj if batch else traj[0]
