r"""Gradient descent θ_{s+1} = θ_s − η ∇R(θ_s), the discrete map beside the flow.

Runs under ``lax.scan`` for a fixed number of steps; batched over θ₀ (n, p) and over
step sizes η (m,) at once (the m·n members run in one compiled call, η-major order).

Each member stops at the first iterate θ_k that triggers an event; θ_0 … θ_k are kept
(with R and ‖∇R‖ where they exist) and ``event_step = k``:

==============  ===================================================================
crossed         1 − θ₂ changed sign between θ_{k−1} and θ_k (GD jumped over the
                singular hyperplane θ₂ = 1 — the flow can never do this, Lemma 3.2)
noncontractive  single-index: L|θ₂_k| ≥ 1 − ε, or the equilibrium solve failed
diverged        R(θ_k) or θ_k not finite, or above ``divergence_cap``
converged       ‖∇R(θ_k)‖ ≤ ``converged_tol``
max_steps       none of the above in ``steps`` steps
==============  ===================================================================

Checked in that order.  For the linear DEQ ``crossed`` is reported rather than
continuing on the other side, because the two half-spaces are separate dynamical
systems (each carries its own limit, Thm 3.3).
"""
from __future__ import annotations

import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ._validate import device, nonneg, positive
from .problem import Problem
from .trajectory import DESCENT_OUTCOMES, Trajectory

__all__ = ["gradient_descent"]

_CROSSED, _NONCONTRACTIVE, _DIVERGED, _CONVERGED, _MAX_STEPS = range(5)


@eqx.filter_jit
def _descend(problem: Problem, theta0, etas, steps, eps, gtol, cap):
    def one(theta0, eta):
        def body(state, _):
            theta, alive, code, event, k, crossed, y = state
            if problem.is_linear:
                noncontr = jnp.asarray(False)
            else:
                noncontr = problem.margin(theta) <= eps
            if problem.is_linear:
                risk, grad = problem.risk_and_grad(theta)
            else:  # warm start: Newton from the previous step's equilibrium
                risk, grad, y = problem._si_risk_grad_warm(theta, y)
            gnorm = jnp.linalg.norm(grad)
            nonfinite = ~jnp.isfinite(risk) | ~jnp.all(jnp.isfinite(grad)) \
                | ~jnp.all(jnp.isfinite(theta))
            if not problem.is_linear:
                noncontr = noncontr | (nonfinite & jnp.all(jnp.isfinite(theta)))
            diverged = nonfinite | (risk > cap) | (jnp.linalg.norm(theta) > cap)
            converged = gnorm <= gtol
            new_code = jnp.where(crossed, _CROSSED, jnp.where(
                noncontr, _NONCONTRACTIVE, jnp.where(
                    diverged, _DIVERGED, jnp.where(converged, _CONVERGED, _MAX_STEPS))))
            stop = alive & (new_code != _MAX_STEPS)
            record = (theta, risk, gnorm, alive)
            code = jnp.where(stop, new_code, code)
            event = jnp.where(stop, k, event)
            alive = alive & ~stop
            nxt = theta - eta * grad
            nxt_crossed = jnp.sign(1.0 - nxt[-1]) != jnp.sign(1.0 - theta[-1])
            theta = jnp.where(alive, nxt, theta)
            crossed = alive & nxt_crossed & problem.is_linear
            return (theta, alive, code, event, k + 1, crossed, y), record

        init = (theta0, jnp.asarray(True), jnp.asarray(_MAX_STEPS), jnp.asarray(-1),
                jnp.asarray(0), jnp.asarray(False),
                jnp.full(problem.X.shape[:1], jnp.nan))  # NaN: first solve starts from σ(a)
        final, (th, risk, gnorm, valid) = jax.lax.scan(body, init, None, length=steps + 1)
        return th, risk, gnorm, valid, final[2], final[3]

    if theta0.shape[0] == 1 and etas.shape[0] == 1:  # one member: no vmap to trace
        return jax.tree_util.tree_map(lambda a: a[None, None], one(theta0[0], etas[0]))
    per_eta = jax.vmap(one, in_axes=(0, None))
    return jax.vmap(per_eta, in_axes=(None, 0))(theta0, etas)


def gradient_descent(problem: Problem, theta0, step_size, steps: int, *,
                     singular_eps: float = 1e-6, converged_tol: float = 1e-10,
                     divergence_cap: float = 1e10) -> Trajectory:
    r"""Run ``steps`` steps of θ ← θ − η∇R(θ) from θ₀ (or until an event).

    Parameters
    ----------
    theta0 : (p,) or (n, p) — one start or a batch of starts.
    step_size : η > 0, a number or an array (m,) of step sizes.
    steps : number of GD steps (the trajectory has up to ``steps + 1`` iterates).
    singular_eps : single-index: stop when L|θ₂| ≥ 1 − ε.
    converged_tol : stop when ‖∇R‖ ≤ this (0 disables).
    divergence_cap : stop when R or ‖θ‖ exceeds this.

    Returns
    -------
    Trajectory with ``kind="descent"``, ``t`` = step indices.  A batch has m·n members
    (η-major) with ``params["step_size"]`` and ``params["start"]`` (index of θ₀).
    """
    eta = np.atleast_1d(np.asarray(step_size, dtype=float))
    if eta.ndim != 1 or eta.size == 0 or not np.all(np.isfinite(eta)) or np.any(eta <= 0):
        raise ValueError(f"step_size is {step_size!r}: give η > 0 (a number or a 1-D array).")
    if int(steps) != steps or steps < 0:
        raise ValueError(f"steps is {steps!r}: give a non-negative integer.")
    singular_eps = nonneg("singular_eps", singular_eps)
    converged_tol = nonneg("converged_tol", converged_tol)
    divergence_cap = positive("divergence_cap", divergence_cap)
    theta = problem.check_theta(theta0, singular_eps)
    batch = theta.ndim == 2 or np.ndim(step_size) > 0
    theta = np.atleast_2d(theta)

    wall = time.perf_counter()
    out = _descend(problem, device(theta), device(eta), int(steps),
                   device(singular_eps), device(converged_tol),
                   device(divergence_cap))
    th, risk, gnorm, valid, code, event = (np.array(a) for a in out)
    wall = time.perf_counter() - wall
    m, n = eta.size, theta.shape[0]
    flat = lambda a: a.reshape((m * n,) + a.shape[2:])
    th, risk, gnorm, valid, code, event = map(flat, (th, risk, gnorm, valid, code, event))
    t = np.broadcast_to(np.arange(steps + 1), valid.shape).copy()
    settings = {"step_size": eta.tolist() if eta.size > 1 else float(eta[0]), "steps": int(steps),
                "singular_eps": singular_eps, "converged_tol": converged_tol,
                "divergence_cap": divergence_cap, "problem": problem.describe()}
    traj = Trajectory(
        kind="descent", t=t, theta=th, risk=risk, grad_norm=gnorm, valid=valid,
        outcome=np.array([DESCENT_OUTCOMES[c] for c in code]), event_time=np.full(m * n, np.nan),
        event_step=event, stats={"wall_seconds": np.full(m * n, wall)}, settings=settings,
        params={"step_size": np.repeat(eta, n), "start": np.tile(np.arange(n), m)})
    return traj if batch else traj[0]
