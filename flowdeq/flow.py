r"""Gradient flow θ′(t) = −∇R(θ(t)) as a stiff ODE with diffrax.

Default solver: Kvaerno5 (L-stable ESDIRK, 5th order) with a PID step-size
controller — near the singular hyperplane the flow is stiff, and on this problem it
beat explicit Tsit5 3× at equal tolerance.  Terminating events, each located by a
root finder and labelled in the result (``Trajectory.outcome``):

============  ==========================================================================
singular      linear: |1 − θ₂| ≤ ε;  single-index: L|θ₂| ≥ 1 − ε (contraction lost)
converged     ‖∇R(θ)‖ ≤ ``converged_tol``
diverged      R or θ not finite, or R or ‖θ‖ above ``divergence_cap``
max_time      none of the above before t1
failed        the ODE solver gave up (e.g. max_steps); the message is in ``stats``
============  ==========================================================================

If two events fire inside the same step, the first in the order above is reported.
Tolerances, ε, caps, t0/t1 and the save grid enter the compiled solve as arrays, so
new values do not recompile; a batch θ₀ of shape (n, p) runs under one compilation
with ``throw=False`` and each member keeps its own outcome.
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

from ._validate import device, nonneg, positive
from .problem import Problem
from .trajectory import FLOW_OUTCOMES, Trajectory

__all__ = ["gradient_flow", "SOLVERS"]

# Stage equations of the implicit (Kvaerno) solvers: full Newton with fixed tolerances.
# diffrax's default is VeryChord (Jacobian frozen at the step start) with the step-size
# controller's rtol/atol; the chord iteration is judged non-convergent on about half
# the steps, and each such step is rejected and shrunk — on a 100-member linear d = 1
# batch at rtol 1e-10: 1349 steps/member, 726 rejected (slowest member 6404), 2.7 s
# warm.  A fresh Jacobian per iteration (p is tiny, so cheap) with stage tolerances
# 1e-8/1e-10: 106 steps, 9 rejected (slowest 203), 0.16 s, the same outcomes.  The
# flow's error against a DOP853 rtol 1e-13 reference does not depend on the stage
# tolerance (identical for 1e-8…1e-10), only on the controller's rtol.  See
# docs/performance.md.
#
# ``cauchy_termination=False``: optimistix's default (Cauchy) test also asks the stage
# residual to fall below the stage atol in absolute terms.  The stage unknowns are
# vector-field values, and near θ₂ = 1 those are ~1e6 with a Jacobian ~1e10, so the
# residual's rounding floor (~‖J‖·eps·‖θ‖ ≈ 1e-6) never meets atol = 1e-10: every step
# was rejected until max_steps (θ₀ = (0.0625, 1.0009) on the linear d = 1 problem made
# no progress in 200 000 steps, and one such member stalled a whole 10⁴ batch).  The
# rate-based test (step size relative to the iterate, as diffrax's chord solvers use)
# takes 561 steps there and changes nothing on ordinary members.
#
# Down to rtol 1e-12 these stages are as accurate as diffrax's controller-tied VeryChord
# once the saved points are step ends (``exact_saves``): on the d = 2 linear flows of
# tests/test_flow.py (rtol 1e-12, 201 save times) errors against DOP853 rtol 1e-13 of
# 1.2e-10/1.0e-11/1.8e-10 against VeryChord's 1.2e-10/7e-13/1.8e-10, the conserved sphere
# held to ≤ 3e-12, in 491–765 steps instead of 4301–13473.  (The 1.5e-8 sphere drift that
# once kept VeryChord below rtol 1e-10 was the Hermite interpolant's.)
_STAGE_ROOT = optx.Newton(rtol=1e-8, atol=1e-10, cauchy_termination=False)


SOLVERS = {
    "kvaerno5": lambda: diffrax.Kvaerno5(root_finder=_STAGE_ROOT),
    "kvaerno4": lambda: diffrax.Kvaerno4(root_finder=_STAGE_ROOT),
    "kvaerno3": lambda: diffrax.Kvaerno3(root_finder=_STAGE_ROOT),
    "tsit5": diffrax.Tsit5,
    "dopri5": diffrax.Dopri5,
    "dopri8": diffrax.Dopri8,
}
# Event functions are scaled to be O(1) near their roots (margins in θ units, logs of
# ratios), so |f| ≤ 1e-9 locates the event quantity to ~1e-9 relative.
_EVENT_ROOT = optx.Newton(rtol=1e-12, atol=1e-9)


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

    Kvaerno's dense output is a cubic Hermite interpolant, an order below the method:
    on the Sec. 4.2 sigmoid ensemble (rtol 1e-10, 21 save points over t = 400) the
    interpolated points were off by up to 7e-9 while the step ends were within 4e-12 of
    a DOP853 rtol 1e-13 reference.  Stepping to the save times (``step_ts``) removes
    the interpolation: 1.3e-10 for 7 % more steps (docs/performance.md).

    The stretch: the PID controller's proposal can end a few ULP short of a save time
    (1.5999999999999999 for 1.6), and the 2-ULP step that follows made the Newton stage
    solve fail; the rejected step cannot shrink below one ULP, so the solve rejected
    until max_steps.  A step whose end is within 1 % of its own length below the next
    save time is taken to that save time instead (the error control still judges it).
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


@eqx.filter_jit
def _solve(problem: Problem, theta0, ts, rtol, atol, eps, gtol, cap, solver, max_steps,
           exact_saves):
    t0, t1 = ts[0], ts[-1]

    def field(t, y, args):
        return -problem.grad(y)

    shared = {}

    def risk_and_grad(y):
        """R and ∇R at y, computed once per traced state: diffrax evaluates the event
        functions one after another on the same step-end state, and separately each of
        ``converged`` and ``diverged`` compiled an equilibrium solve of its own into
        every step (0.5 s of XLA compile per single-index flow; docs/performance.md).
        A state seen for the first time (e.g. inside the event root find) is computed."""
        if shared.get("y") is not y:
            shared["y"], shared["value"] = y, problem.risk_and_grad(y)
        return shared["value"]

    def singular(t, y, args, **kw):
        return problem.margin(y) - eps

    def converged(t, y, args, **kw):
        # log scale: the gradient decays exponentially, so its log is near-linear in t
        # and the root finder converges in a few Newton steps.
        return jnp.log(jnp.linalg.norm(risk_and_grad(y)[1]) + 1e-300) - jnp.log(gtol)

    def diverged(t, y, args, **kw):
        size = jnp.maximum(jnp.abs(risk_and_grad(y)[0]), jnp.linalg.norm(y))
        room = jnp.log(cap) - jnp.log(size + 1e-300)
        return jnp.where(jnp.isfinite(room), room, -1.0)

    # each event fires when its function crosses zero downwards (room → none left)
    event = diffrax.Event({"singular": singular, "converged": converged, "diverged": diverged},
                          root_finder=_EVENT_ROOT, direction=False)
    controller = diffrax.PIDController(rtol=rtol, atol=atol)
    if exact_saves:
        controller = _StepToSaves(controller, step_ts=ts)

    def one(y0):
        sol = diffrax.diffeqsolve(
            diffrax.ODETerm(field), solver, t0, t1, None, y0,
            saveat=diffrax.SaveAt(ts=ts, t1=True), stepsize_controller=controller,
            event=event, max_steps=max_steps, throw=False)
        mask = sol.event_mask
        masks = jnp.stack([mask["singular"], mask["converged"], mask["diverged"]])
        fired = jnp.any(masks)
        ok = sol.result == diffrax.RESULTS.successful
        code = jnp.where(fired, jnp.argmax(masks), jnp.where(ok, 3, 4))
        # message code: 0 none, 1 max_steps, 2 other solver failure, 3 event located
        # but its root find did not certify convergence
        located = sol.result == diffrax.RESULTS.event_occurred
        maxed = jnp.where(fired, jnp.where(located, 0, 3),
                          jnp.where(ok, 0, jnp.where(
                              sol.result == diffrax.RESULTS.max_steps_reached, 1, 2)))
        valid = jnp.isfinite(sol.ts)
        # SaveAt(t1=True) writes the final (or event) state right after the last grid
        # point reached; drop it when it repeats that grid point.
        prev = jnp.concatenate([jnp.array([-jnp.inf]), sol.ts[:-1]])
        valid = valid & (sol.ts != prev)
        ys = jnp.where(valid[:, None], sol.ys, y0[None, :])
        risk, grad = jax.vmap(problem.risk_and_grad)(ys)
        gnorm = jnp.linalg.norm(grad, axis=-1)
        stats = (sol.stats["num_steps"], sol.stats["num_accepted_steps"],
                 sol.stats["num_rejected_steps"])
        return sol.ts, sol.ys, risk, gnorm, valid, code, maxed, stats

    if theta0.shape[0] == 1:  # no vmap: half the trace time (Sec. 4.2 flow: 1.8 → 0.9 s)
        return jax.tree_util.tree_map(lambda a: a[None], one(theta0[0]))
    return jax.vmap(one)(theta0)


def _run_chunks(problem, theta, settings, chunk_size):
    """``_solve`` over the batch, in margin-ordered chunks when it exceeds chunk_size."""
    n = len(theta)
    if n <= chunk_size:
        return jax.tree_util.tree_map(np.array, _solve(problem, device(theta), *settings))
    margin = np.asarray(jax.vmap(problem.margin)(device(theta)))
    order = np.argsort(margin, kind="stable")
    padded = theta[np.concatenate([order, np.full((-n) % chunk_size, order[-1])])]
    parts = [_solve(problem, device(padded[i:i + chunk_size]), *settings)
             for i in range(0, len(padded), chunk_size)]
    inverse = np.empty(n, int)
    inverse[order] = np.arange(n)
    return jax.tree_util.tree_map(lambda *a: np.concatenate(a)[:n][inverse], *parts)


def gradient_flow(problem: Problem, theta0, t1, *, t0: float = 0.0, solver="kvaerno5",
                  rtol: float = 1e-10, atol: float = 1e-12, singular_eps: float = 1e-6,
                  converged_tol: float = 1e-10, divergence_cap: float = 1e10,
                  n_save: int = 201, ts=None, max_steps: int = 100_000,
                  chunk_size: int = 1024, exact_saves: bool | None = None) -> Trajectory:
    r"""Integrate θ′ = −∇R(θ) from θ(t0) = θ₀ up to t1 or the first event.

    Parameters
    ----------
    problem : Problem
    theta0 : (p,) or (n, p) array — one start or a batch (one compilation, ``throw=False``).
    t1 : final time (> t0).
    solver : "kvaerno5" (default, stiff) | "kvaerno3"/"kvaerno4" | "tsit5" | "dopri5" | "dopri8",
        or a diffrax solver instance.  Kvaerno5 is the default because the flow is stiff
        near θ₂ = 1 (linear) and near the contraction boundary (single-index); far from
        them an explicit solver can be the better choice: on 200 sigmoid flows of the
        Sec. 4.2 problem at rtol 1e-10 (t1 = 400), Tsit5 was 2× faster, with an error
        against a DOP853 rtol 1e-13 reference of 1.9e-11 (Kvaerno5: 1.3e-10 at the save
        times, see ``exact_saves``).  Starts near θ₂ = 1 cost Tsit5 3–6× more steps
        (studies/performance/RESULTS.md, docs/performance.md).
    rtol, atol : PID controller tolerances.
    singular_eps : ε of the ``singular`` event (see module docstring).
    converged_tol : the ``converged`` event fires when ‖∇R‖ falls to this (0 disables it).
    divergence_cap : the ``diverged`` event fires when R or ‖θ‖ exceeds it.
    n_save : points of the uniform save grid on [t0, t1] (ignored if ``ts`` is given).
    ts : explicit increasing save times within [t0, t1].
    max_steps : solver step budget (outcome ``failed`` when exhausted).
    chunk_size : a batch larger than this runs as consecutive chunks of this many members
        (one compiled shape; the last chunk is padded), after ordering the members by their
        distance to ill-posedness (``Problem.margin``).  Under ``vmap`` a batch takes as
        many solver steps as its slowest member, and starts near θ₂ = 1 are the slow ones,
        so grouping them shortens every other chunk: a 10⁴-member linear batch ran 19.6 s
        as one, 5.3 s in chunks of 1024 (docs/performance.md).  Results come back in the
        caller's order and do not depend on the chunking.
    exact_saves : make every save time a step end, so saved points carry the solver's
        own accuracy instead of its dense-output interpolant's.  Default (None): on for
        solvers whose dense output is a cubic Hermite interpolant (the Kvaerno family;
        at rtol 1e-10 it erred 7e-9 between step ends, 1.3e-10 with this on), off for
        Tsit5/Dopri, whose interpolants match their order.  Costs at least one step per
        save interval: with a dense save grid and a cheap tolerance, turn it off.

    Returns
    -------
    Trajectory with ``kind="flow"``.  Saved points after an event are dropped (a batch
    marks them invalid); the event point itself is the last point, at ``event_time``.

    Raises
    ------
    ValueError for bad input: θ₀ non-finite, of the wrong shape, on (or within ε of)
    θ₂ = 1 (linear), or non-contractive (single-index); t1 ≤ t0; bad tolerances.
    """
    rtol, atol = positive("rtol", rtol), positive("atol", atol)
    singular_eps = nonneg("singular_eps", singular_eps)
    converged_tol = nonneg("converged_tol", converged_tol)
    divergence_cap = positive("divergence_cap", divergence_cap)
    t0 = float(t0)
    if not np.isfinite(t0):
        raise ValueError(f"t0 is {t0!r}: give a finite start time.")
    t1f = float(t1)
    if not np.isfinite(t1f) or t1f <= t0:
        raise ValueError(f"t1 is {t1!r}: give a finite end time greater than t0 = {t0:g}.")
    if ts is None:
        if int(n_save) < 2:
            raise ValueError(f"n_save is {n_save!r}: save at least 2 points.")
        ts = np.linspace(t0, t1f, int(n_save))
    else:
        ts = np.asarray(ts, dtype=float)
        if ts.ndim != 1 or ts.size < 1 or np.any(np.diff(ts) <= 0) or not np.all(np.isfinite(ts)):
            raise ValueError("ts must be a finite, strictly increasing 1-D array of save times.")
        if ts[0] < t0 or ts[-1] > t1f:
            raise ValueError(f"ts must lie within [t0, t1] = [{t0:g}, {t1f:g}].")
        ts = np.unique(np.concatenate([[t0], ts, [t1f]]))
    theta = problem.check_theta(theta0, singular_eps)
    batch = theta.ndim == 2
    theta = np.atleast_2d(theta)
    slv, sname = _solver(solver)
    if exact_saves is None:
        exact_saves = _hermite_dense_output(slv)
    elif not isinstance(exact_saves, (bool, np.bool_)):
        raise ValueError(f"exact_saves is {exact_saves!r}: give true, false or leave it out "
                         "(automatic).")
    exact_saves = bool(exact_saves)
    start = np.maximum(np.abs(np.asarray(jax.vmap(problem.risk)(device(theta)))),
                       np.linalg.norm(theta, axis=1))
    if np.any(start >= divergence_cap):
        raise ValueError(f"divergence_cap = {divergence_cap:g} is not above the start's R or ‖θ‖ "
                         f"({float(np.max(start)):.4g}): raise divergence_cap.")

    if int(chunk_size) != chunk_size or chunk_size < 1:
        raise ValueError(f"chunk_size is {chunk_size!r}: give a positive integer.")
    chunk_size = int(chunk_size)

    wall = time.perf_counter()
    settings_ = (device(ts), device(rtol), device(atol), device(singular_eps),
                 device(converged_tol), device(divergence_cap), slv, int(max_steps),
                 exact_saves)
    with _cacheable_trace():
        out = _run_chunks(problem, theta, settings_, chunk_size)
    wall = time.perf_counter() - wall
    t, th, risk, gnorm, valid, code, maxed, (nst, nacc, nrej) = out

    outcome = np.array([FLOW_OUTCOMES[c] for c in code])
    t_last = np.max(np.where(valid, t, -np.inf), axis=1)
    event_time = np.where(code < 3, t_last, np.nan)
    message = np.array(["", "max_steps reached: raise max_steps or loosen rtol/atol",
                        "ODE solver failure (step size collapsed or non-finite field)",
                        "event root find did not certify convergence; time is approximate"])[maxed]
    settings = {"solver": sname, "rtol": rtol, "atol": atol, "singular_eps": singular_eps,
                "converged_tol": converged_tol, "divergence_cap": divergence_cap, "t0": t0,
                "t1": t1f, "max_steps": int(max_steps), "n_save": int(len(ts)),
                "chunk_size": chunk_size, "exact_saves": exact_saves,
                "problem": problem.describe()}
    stats = {"num_steps": nst, "num_accepted_steps": nacc, "num_rejected_steps": nrej,
             "message": message, "wall_seconds": np.full(len(theta), wall)}
    traj = Trajectory(kind="flow", t=t, theta=th, risk=risk, grad_norm=gnorm, valid=valid,
                      outcome=outcome, event_time=event_time,
                      event_step=np.full(len(theta), -1), stats=stats, settings=settings)
    return traj if batch else traj[0]
