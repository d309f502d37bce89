r"""Gradient descent θ_{s+1} = θ_s − η ∇R(θ_s), the discrete map beside the flow, for any DEQ.

Runs under ``lax.scan`` for a fixed number of steps; batched over θ₀ (n, p) and over
step sizes η (m,) at once (the m·n members run in one compiled call, η-major order).

Each member stops at the first iterate θ_k that triggers an event; θ_0 … θ_k are kept
(with R and ‖∇R‖ where they exist) and ``event_step = k``:

==============  ===================================================================
crossed         the model's ``side`` changed between θ_{k−1} and θ_k: GD jumped into
                another component of the well-posed set (linear DEQ: over θ₂ = 1 —
                the flow can never do this, Lemma 3.2)
ill_posed       the least of the model's margins at θ_k ≤ ε (``stats["ill_posed_kind"]``
                names it)
nonfinite       R(θ_k) or ∇R(θ_k) is NaN at a finite θ_k (e.g. the equilibrium could not
                be certified although the margin is positive); the message names the stage
diverged        θ_k not finite, R(θ_k) or ∇R(θ_k) infinite, or R or ‖θ_k‖ above
                ``divergence_cap``
converged       ‖∇R(θ_k)‖ ≤ ``converged_tol`` and R − R* ≤ risk_tol·max(1, E f²) (where the
                model knows R*; else ‖∇R‖ alone, which GD evaluates exactly at θ_k)
stationary      ‖∇R(θ_k)‖ ≤ ``converged_tol`` but R − R* above that: not a minimiser
max_steps       none of the above in ``steps`` steps
==============  ===================================================================

Checked in that order.  ``crossed`` is reported rather than continuing on the other side,
because the components are separate dynamical systems (for the linear DEQ each carries its
own limit, Thm 3.3).  The equilibrium of each step is started from the previous step's
(the model's ``warm_state``): θ moves by O(η‖∇R‖), so it is a close start.
"""
from __future__ import annotations

import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._outcomes import DESCENT_OUTCOMES, labels
from .._validate import check_size, device
from .events import ill_posed_kinds, min_margin, settle
from ..problem import Problem
from .settings import DescentSettings
from .trajectory import Trajectory

__all__ = ["gradient_descent"]

_CROSSED, _ILL_POSED, _NONFINITE, _DIVERGED, _CONVERGED, _MAX_STEPS = range(6)


@eqx.filter_jit
def _descend(problem: Problem, theta0, etas, steps, eps, gtol, cap):
    def one(theta0, eta):
        def body(state, _):
            theta, alive, code, event, k, crossed, warm, kind = state
            risk, grad, new_warm = problem.risk_and_grad_warm(theta, warm)
            margins = problem.margins(theta, new_warm)
            gnorm = jnp.linalg.norm(grad)
            finite_theta = jnp.all(jnp.isfinite(theta))
            # NaN = undefined (an equilibrium that could not be certified comes back NaN);
            # ±inf = overflow, i.e. divergence
            undefined = finite_theta & (jnp.isnan(risk) | jnp.any(jnp.isnan(grad))
                                        | jnp.any(jnp.isnan(new_warm)))
            ill = min_margin(margins) <= eps
            diverged = (~finite_theta | ~jnp.isfinite(risk) | ~jnp.all(jnp.isfinite(grad))
                        | (risk > cap) | (jnp.linalg.norm(theta) > cap))
            converged = gnorm <= gtol
            new_code = jnp.where(crossed, _CROSSED, jnp.where(
                ill, _ILL_POSED, jnp.where(undefined, _NONFINITE, jnp.where(
                    diverged, _DIVERGED, jnp.where(converged, _CONVERGED, _MAX_STEPS)))))
            stop = alive & (new_code != _MAX_STEPS)
            record = (theta, risk, gnorm, alive)
            code = jnp.where(stop, new_code, code)
            event = jnp.where(stop, k, event)
            kind = jnp.where(stop, jnp.argmin(jnp.where(jnp.isnan(margins), jnp.inf, margins)),
                             kind)
            alive = alive & ~stop
            nxt = theta - eta * grad
            nxt_crossed = problem.side(nxt) != problem.side(theta)
            theta = jnp.where(alive, nxt, theta)
            crossed = alive & nxt_crossed
            return (theta, alive, code, event, k + 1, crossed, new_warm, kind), record

        init = (theta0, jnp.asarray(True), jnp.asarray(_MAX_STEPS), jnp.asarray(-1),
                jnp.asarray(0), jnp.asarray(False), problem.warm_state(), jnp.asarray(0))
        final, (th, risk, gnorm, valid) = jax.lax.scan(body, init, None, length=steps + 1)
        return th, risk, gnorm, valid, final[2], final[3], final[7]

    if theta0.shape[0] == 1 and etas.shape[0] == 1:  # one member: no vmap to trace
        return jax.tree_util.tree_map(lambda a: a[None, None], one(theta0[0], etas[0]))
    per_eta = jax.vmap(one, in_axes=(0, None))
    return jax.vmap(per_eta, in_axes=(None, 0))(theta0, etas)


def _crossing_report(problem, outcome, theta, event, message):
    """The message of each ``crossed`` member: the step, the side and the margin on either
    side of the jump (e.g. sign det(I − W) and σ_min(I − W) for a linear DEQ)."""
    hit = np.flatnonzero(np.asarray(outcome) == "crossed")
    if hit.size == 0:
        return message
    k = event[hit]
    pair = np.stack([theta[hit, k - 1], theta[hit, k]], axis=1)  # (h, 2, p)
    side, margin = (np.asarray(a).reshape(len(hit), 2) for a in
                    problem.sides_margins(pair.reshape(-1, pair.shape[-1])))
    message = np.asarray(message, dtype=object).copy()
    label = problem.model.margin_label
    for j, i in enumerate(hit):
        message[i] = (f"step {k[j]} jumped across the singular set: side {side[j, 0]:+g} → "
                      f"{side[j, 1]:+g}, {label} {margin[j, 0]:.3g} → {margin[j, 1]:.3g}")
    return message.astype(str)


def gradient_descent(problem: Problem, theta0, step_size=None, steps=None, *,
                     settings: DescentSettings | None = None, **options) -> Trajectory:
    r"""Run ``steps`` steps of θ ← θ − η∇R(θ) from θ₀ (or until an event).

    Parameters
    ----------
    theta0 : (p,) or (n, p): one start or a batch of starts.
    step_size : η > 0, a number or an array (m,) of step sizes.
    steps : number of GD steps (the trajectory has up to ``steps + 1`` iterates).
    settings : a :class:`DescentSettings` to start from; keyword ``options`` replace entries:
    singular_eps : stop (``ill_posed``) when the model's margin ≤ ε (1e-6).
    converged_tol : stop when ‖∇R‖ ≤ this (1e-10; 0 disables).
    divergence_cap : stop when R or ‖θ‖ exceeds this (1e10).
    risk_tol : a stop at ‖∇R‖ ≤ converged_tol is ``converged`` only where R − R* ≤
        risk_tol·max(1, E f²), else ``stationary`` (1e-8; see :func:`gradient_flow`).

    Returns
    -------
    Trajectory with ``kind="descent"``, ``t`` = step indices.  A batch has m·n members
    (η-major) with ``per_member["step_size"]`` and ``per_member["start"]`` (index of θ₀).
    """
    if step_size is not None:
        options["step_size"] = step_size
    if steps is not None:
        options["steps"] = steps
    s = DescentSettings.build(settings, **options)
    eta = s.step_sizes()
    if s.steps is None:
        raise ValueError("steps is missing: give the number of GD steps.")
    steps = s.steps
    theta = problem.check_theta(theta0, s.singular_eps)
    batch = theta.ndim == 2 or np.ndim(s.step_size) > 0
    theta = np.atleast_2d(theta)
    members = eta.size * theta.shape[0]
    # the scan keeps every iterate: θ, R, ‖∇R‖ and a flag per step, on device and on host
    check_size("steps", 2.0 * members * (steps + 1) * (theta.shape[1] + 3) * 8,
               f"{members} member(s) × {steps + 1} iterates")

    wall = time.perf_counter()
    out = _descend(problem, device(theta), device(eta), int(steps),
                   device(s.singular_eps), device(s.converged_tol), device(s.divergence_cap))
    th, risk, gnorm, valid, code, event, kind = (np.array(a) for a in out)
    wall = time.perf_counter() - wall
    m, n = eta.size, theta.shape[0]
    flat = lambda a: a.reshape((m * n,) + a.shape[2:])
    th, risk, gnorm, valid, code, event, kind = map(flat, (th, risk, gnorm, valid, code, event,
                                                           kind))
    t = np.broadcast_to(np.arange(steps + 1), valid.shape).copy()
    rows = np.arange(m * n)
    last = np.where(event >= 0, event, steps)
    outcome, gap, message = settle(problem, labels(code, DESCENT_OUTCOMES), th[rows, last],
                                   risk[rows, last], s.risk_tol, np.full(m * n, ""))
    message = _crossing_report(problem, outcome, th, event, message)
    settings = {"step_size": eta.tolist() if eta.size > 1 else float(eta[0]), "steps": int(steps),
                "singular_eps": s.singular_eps, "converged_tol": s.converged_tol,
                "divergence_cap": s.divergence_cap, "risk_tol": s.risk_tol, "problem": problem.describe(),
                "layout": problem.model.layout_record()}
    traj = Trajectory(
        kind="descent", t=t, theta=th, risk=risk, grad_norm=gnorm, valid=valid,
        outcome=outcome, event_time=np.full(m * n, np.nan), event_step=event,
        stats={"wall_seconds": np.full(m * n, wall), "message": message, "risk_gap": gap,
               "ill_posed_kind": ill_posed_kinds(problem, outcome, kind)},
        settings=settings,
        per_member={"step_size": np.repeat(eta, n), "start": np.tile(np.arange(n), m)})
    return traj if batch else traj[0]
