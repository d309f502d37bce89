r"""Modified (backward-error) flows: the ODEs that gradient descent follows to higher order.

GD with step η is the explicit Euler method for θ′ = f(θ), f = −∇R.  Backward error analysis
(Hairer, Lubich & Wanner, *Geometric Numerical Integration*, Sec. IX.1) looks for a field

    f̃ = f + η f₁ + η² f₂ + …

whose exact time-η flow φ_η reproduces the Euler step θ + ηf(θ) order by order in η.
Expanding φ_η(θ) = θ + ηf̃ + (η²/2) f̃′f̃ + (η³/6)(f̃″(f̃, f̃) + f̃′f̃′f̃) + O(η⁴) and matching
powers of η with θ + ηf:

    η²:  f₁ + ½ f′f = 0                                   ⇒  f₁ = −½ f′f
    η³:  f₂ + ½(f₁′f + f′f₁) + ⅙(f″(f, f) + f′f′f) = 0,
         f₁′f = −½(f″(f, f) + f′f′f),  f′f₁ = −½ f′f′f    ⇒  f₂ = ⅓ f′f′f + (1/12) f″(f, f).

With f = −g, g = ∇R, H = ∇²R and T = ∇³R (so f′ = −H and f″(u, v) = −T[u, v]):

    order 1:  f̃ = −g − (η/2) H g = −∇R̃,    R̃ = R + (η/4)‖∇R‖²
              (Barrett & Dherin, ICLR 2021, "Implicit gradient regularization");
    order 2:  f̃ = −g − (η/2) H g − η² ( ⅓ H² g + (1/12) T[g, g] ).

The order-2 field is not a gradient in general (the antisymmetric part of its Jacobian is
−(η²/12)(HM − MH), M = T[g], which vanishes when p = 1): it has no potential R̃.

GD's iterates then satisfy θ_n − θ̃(nη) = O(η^{r+1}) on a fixed time interval for the
modified flow of order r (r = 0 is the plain flow): O(η) from the gradient flow, O(η²) from
order 1, O(η³) from order 2 (flowdeq measures these slopes: docs/gd-vs-flow.md).

Every derivative is a Hessian-vector product of the model's own ∇R (``jax.jvp`` of the
gradient, forward over reverse; ``T[g, g]`` is a second ``jvp``); no Hessian is formed.
The field is a :class:`ModifiedField` given to :func:`flowdeq.dynamics.flow.gradient_flow`,
so the modified flow has the gradient flow's events, solvers, settings and ``Trajectory``
(``risk`` and ``grad_norm`` are R and ‖∇R‖, not R̃).  η enters the compiled solve as an
array: a new η does not recompile.
"""
from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._outcomes import Outcome
from .._validate import device, positive
from ..problem import Problem

__all__ = ["ModifiedField", "modified_flow", "modified_field", "modified_risk", "hvp",
           "gradient_fn", "padded_call"]


def gradient_fn(problem: Problem):
    """θ ↦ ∇R(θ) as a plain traceable function (the model's own gradient: a closed form or
    autodiff through the implicit equilibrium), for ``jax.jvp``."""
    return lambda theta: problem.model.risk_and_grad(theta, problem.arrays)[1]


def hvp(problem: Problem, theta, v):
    """H(θ)v = ∇²R(θ)v by ``jax.jvp`` of ∇R (forward over reverse); traceable, no Hessian."""
    return jax.jvp(gradient_fn(problem), (theta,), (v,))[1]


def _field(problem, theta, eta, order):
    grad = gradient_fn(problem)
    g, hg = jax.jvp(grad, (theta,), (grad(theta),))  # ∇R and H∇R in one pass
    v = -g - 0.5 * eta * hg
    if order >= 2:
        h2g = jax.jvp(grad, (theta,), (hg,))[1]                                  # H²g
        tgg = jax.jvp(lambda th: jax.jvp(grad, (th,), (g,))[1], (theta,), (g,))[1]  # T[g, g]
        v = v - eta ** 2 * (h2g / 3.0 + tgg / 12.0)
    return v


class ModifiedField(eqx.Module):
    r"""The modified field of GD with step η, of order 1 or 2 (module docstring):

    order 1: −∇R − (η/2)H∇R;   order 2: that − η²(⅓H²∇R + (1/12)∇³R[∇R, ∇R]).

    ``eta`` is an array leaf (traced: a new η does not recompile); ``order`` is static."""

    eta: jax.Array
    order: int = eqx.field(static=True, default=1)

    def __call__(self, problem, theta):
        return _field(problem, theta, self.eta, self.order)

    def describe(self) -> dict:
        return {"name": "modified", "step_size": float(self.eta), "order": int(self.order)}


def _check(step_size, order):
    eta = positive("step_size", step_size)
    if isinstance(order, bool) or order not in (0, 1, 2):
        raise ValueError(f"order is {order!r}: give 1 (Barrett & Dherin's R̃ = R + (η/4)‖∇R‖²), "
                         "2, or 0 (the plain gradient flow).")
    return eta, int(order)


def padded_call(fn, pts):
    """``fn(batch)`` over the rows of pts (n, p), the batch padded with copies of row 0 to the
    next power of two (≥ 8), so calls with different n share a few compiled shapes instead
    of compiling one each; returns fn's output (an array or a tuple of arrays) cut to n rows,
    in NumPy."""
    n = len(pts)
    size = max(8, 1 << (int(n) - 1).bit_length())
    out = fn(device(np.concatenate([pts, np.repeat(pts[:1], size - n, axis=0)])))
    if isinstance(out, tuple):
        return tuple(np.asarray(a)[:n] for a in out)
    return np.asarray(out)[:n]


@eqx.filter_jit
def _field_batch(problem, theta, eta, order):
    return jax.vmap(lambda th: _field(problem, th, eta, order))(theta)


def modified_field(problem: Problem, theta, step_size, order: int = 1) -> np.ndarray:
    """The modified field f̃(θ) at θ (p,) or (n, p), in NumPy (one compiled call per shape
    and order; η is a value)."""
    eta, order = _check(step_size, order)
    th = np.asarray(theta, float)
    out = padded_call(lambda x: _field_batch(problem, x, device(eta), order), np.atleast_2d(th))
    return out if th.ndim == 2 else out[0]


@eqx.filter_jit
def _modified_risk(problem, theta, eta):
    def one(th):
        r, g = problem.risk_and_grad(th)
        return r + 0.25 * eta * jnp.dot(g, g)
    return jax.vmap(one)(theta)


def modified_risk(problem: Problem, theta, step_size) -> np.ndarray | float:
    """R̃(θ) = R(θ) + (η/4)‖∇R(θ)‖², the potential of the order-1 modified flow."""
    eta, _ = _check(step_size, 1)
    th = np.asarray(theta, float)
    out = padded_call(lambda x: _modified_risk(problem, x, device(eta)), np.atleast_2d(th))
    return out if th.ndim == 2 else float(out[0])


def modified_flow(problem: Problem, theta0, step_size, order: int = 1, t1=None, *,
                  settings=None, **options):
    r"""Integrate the modified flow of GD with step η (order 1 or 2) from θ₀.

    Order 1 is the gradient flow of R̃ = R + (η/4)‖∇R‖² (Barrett & Dherin 2021); order 2
    adds −η²(⅓H²∇R + (1/12)∇³R[∇R, ∇R]) (derived in the module docstring); order 0 is the
    plain gradient flow.  GD's iterate θ_n stays within O(η^{order+1}) of θ̃(nη) on a
    fixed time interval.

    Parameters are those of :func:`flowdeq.gradient_flow` (t1, settings and every keyword:
    solver, rtol, atol, singular_eps, converged_tol, n_save, ts, …), with the same events
    and the same :class:`~flowdeq.Trajectory` (``risk``/``grad_norm`` are R and ‖∇R‖);
    ``settings["field"]`` records ``{"name": "modified", "step_size": η, "order": r}``.

    Where ∇R is finite but the field is not (the model's ∇R has no derivative there), the
    solve cannot continue: such a run is reported ``nonfinite`` with a message naming θ.

    Solver: Kvaerno's Newton stages differentiate the field, so order 2 with the default
    Kvaerno5 compiles fourth derivatives of R (tens of seconds); away from the ill-posed set
    these flows are not stiff and ``solver="tsit5"`` compiles in a few seconds
    (docs/performance.md, entry 18).  The trajectory's ``kind`` is "flow": the gradient-flow
    diagnostics (:func:`flowdeq.diagnose`: dR/dt = −‖∇R‖², Thm 3.1) do not hold for it — R̃,
    not R, decreases along the order-1 flow.
    """
    # import cost: diffrax loads only when a flow is integrated
    from .flow import gradient_flow

    eta, order = _check(step_size, order)
    field = ModifiedField(device(eta), order) if order > 0 else None
    traj = gradient_flow(problem, theta0, t1, settings=settings, field=field, **options)
    if field is None:
        traj.settings["field"] = {"name": "modified", "step_size": eta, "order": 0}
        return traj
    return _undefined_field(problem, traj, eta, order)


def _undefined_field(problem, traj, eta, order):
    """Relabel runs stalled on a non-finite modified field: the flow's solve sets such a
    field to 0 (to let the ``nonfinite`` event stop a run where ∇R itself is undefined), so
    where ∇R is finite but its derivative is not, θ would sit still until t1.  Candidates
    (the last two saved θ equal, ∇R finite and non-zero) are rare, so the field is
    evaluated, and compiled, only for them."""
    members = [traj] if not traj.is_batch else list(traj.members())
    cand = [i for i, m in enumerate(members)
            if len(m.t) >= 2 and np.array_equal(m.theta[-1], m.theta[-2])
            and np.isfinite(m.grad_norm[-1]) and m.grad_norm[-1] > 0]
    if not cand:
        return traj
    last = np.stack([members[i].theta[-1] for i in cand])
    bad = ~np.all(np.isfinite(modified_field(problem, last, eta, order)), axis=1)
    if not bad.any():
        return traj
    msg = lambda th: (f"the order-{order} modified field is not finite at θ = "  # noqa: E731
                      f"{np.array2string(th, precision=4, separator=', ')} although ∇R is: "
                      "the model's ∇R has no derivative there")
    if not traj.is_batch:
        traj.outcome = Outcome.nonfinite.value
        traj.stats["message"] = msg(last[0])
        return traj
    outcome = np.asarray(traj.outcome).astype(object)
    message = np.asarray(traj.stats["message"]).astype(object)
    for i, th in zip(np.asarray(cand)[bad], last[bad]):
        outcome[i], message[i] = Outcome.nonfinite.value, msg(th)
    traj.outcome, traj.stats["message"] = outcome.astype(str), message.astype(str)
    return traj
