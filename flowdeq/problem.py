r"""``Problem(model, target, data)``: the population (or empirical) risk and its gradient.

R(θ) = E[(y_θ(X) − f(X))²], expectations by the data rule's nodes/weights.

Linear DEQ (closed form through the moments Σ = E[X̃X̃ᵀ], b = E[X̃ f(X)], c = E[f(X)²]):

    φ = θ₁/(1 − θ₂),   R(θ) = φᵀΣφ − 2φᵀb + c = (φ − φ*)ᵀΣ(φ − φ*) + R*,
    ∇R(θ) = 2/(1 − θ₂) · ( Σ(φ − φ*),  φᵀΣ(φ − φ*) ),

with Σφ* = b (φ* = ξ̃ exactly for a linear target; b always lies in range Σ).  The
printed eq. (3) of the paper differs — see ``docs/errata.md``.

Single-index DEQ (paper eq. 14 and the IFT gradient):

    ∇R(θ) = 2 E[(y_θ(X) − f(X)) · σ′(ω)/(1 − θ₂σ′(ω)) · (X̃, y_θ(X))],   ω = θ₁ᵀX̃ + θ₂y_θ(X).

``risk``/``grad``/``risk_and_grad``/``output`` are jitted (``eqx.filter_jit``), so
calling them eagerly from Python — e.g. inside a SciPy loop — compiles once instead
of re-tracing the equilibrium ``while_loop`` on every call (which leaks LLVM code
memory until compilation fails); inside another jit/vmap they simply inline.  Where the
single-index equilibrium cannot be certified they return NaN, which the flow and GD
report as an outcome; ``check_theta`` raises a ``ValueError`` for bad user input.
"""
from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .equilibrium import solve_equilibrium_from
from .models import LinearDEQ, SingleIndexDEQ
from .targets import LinearTarget, SingleIndexTarget
from ._validate import device

__all__ = ["Problem"]


class _Untraced:
    """Carries the data rule beside the arrays without keying compilation on it.

    ``eqx.filter_jit`` treats non-array fields as static and compares them with ``==``.
    Data rules that hold arrays (``Gaussian``, ``Empirical``, ``MonteCarlo``) compare by
    identity, so each new rule object recompiled every jitted solve (5–10 s).  Jitted
    code only reads the arrays (``X``, ``w``, ``f``, moments), which are leaves; the rule
    itself is read outside jit (``describe``), so all wrappers compare equal.
    """

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def __eq__(self, other):
        return isinstance(other, _Untraced)

    def __hash__(self):
        return 0


def _moments(model, target, x, w):
    """X̃, f, Σ = E[X̃X̃ᵀ], b = E[X̃ f], c = E[f²] at the rule's nodes, in NumPy: as JAX
    these were a compiled program of their own, 0.1–0.2 s of each process start."""
    X = model.features(x)
    f = target.host(x)
    Xw = X * w[:, None]
    return X, f, Xw.T @ X, Xw.T @ f, float(w @ f ** 2)


class Problem(eqx.Module):
    """A model, a target and a data rule: everything the dynamics need.

    Attributes (arrays are pytree leaves, so a new dataset of the same size does not
    recompile): ``X`` features X̃ (n, d′), ``w`` weights (n,), ``f`` targets (n,),
    ``sigma`` Σ, ``b``, ``c``, ``phi_star``, ``risk_star`` (linear-model moments).
    """

    model: LinearDEQ | SingleIndexDEQ
    target: LinearTarget | SingleIndexTarget
    _data: _Untraced = eqx.field(static=True)
    X: jnp.ndarray
    w: jnp.ndarray
    f: jnp.ndarray
    sigma: jnp.ndarray
    b: jnp.ndarray
    c: jnp.ndarray
    phi_star: jnp.ndarray
    risk_star: jnp.ndarray

    def __init__(self, model, target, data):
        if not isinstance(model, (LinearDEQ, SingleIndexDEQ)):
            raise ValueError("model must be a LinearDEQ or a SingleIndexDEQ.")
        if not isinstance(target, (LinearTarget, SingleIndexTarget)):
            raise ValueError("target must be a LinearTarget or a SingleIndexTarget.")
        x, w = data.nodes_weights()
        x = np.asarray(x, float)
        if x.shape[1] != model.dim:
            raise ValueError(f"data has dimension {x.shape[1]} but the model has dim={model.dim}: "
                             "make [model] dim match the data.")
        if target.dim != model.dim:
            raise ValueError(f"target xi has length {target.dim} but the model has dim={model.dim}: "
                             "give ξ with one entry per input coordinate.")
        self.model, self.target, self._data = model, target, _Untraced(data)
        w = np.asarray(w, float)
        self.w = device(w)
        self.X, self.f, self.sigma, self.b, self.c = map(device, _moments(model, target, x, w))
        if isinstance(target, LinearTarget):
            phi = device(np.concatenate([np.asarray(target.xi), np.zeros(int(model.bias))]))
            rstar = jnp.zeros(())
        else:
            b = np.asarray(self.b)
            phi = np.linalg.lstsq(np.asarray(self.sigma), b, rcond=1e-13)[0]
            rstar = device(max(float(self.c) - float(phi @ b), 0.0))
            phi = device(phi)
        self.phi_star, self.risk_star = phi, rstar

    # ------------------------------------------------------------------ basics
    @property
    def data(self):
        """The data rule (``Uniform``, ``Gaussian``, ``Empirical`` or ``MonteCarlo``)."""
        return self._data.value

    @property
    def n_params(self) -> int:
        return self.model.n_params

    @property
    def is_linear(self) -> bool:
        return isinstance(self.model, LinearDEQ)

    @eqx.filter_jit
    def output(self, theta, x=None):
        """y_θ at the rule's nodes (default) or at inputs x (n, d)."""
        xt = self.X if x is None else self.model.features(x)
        return self.model._features_output(theta, xt)

    # ------------------------------------------------------------ risk, grad
    def _linear_parts(self, theta):
        t1, t2 = theta[:-1], theta[-1]
        u = 1.0 - t2
        phi = t1 / u
        e = phi - self.phi_star
        g = self.sigma @ e
        return u, phi, e, g

    @eqx.filter_jit
    def risk(self, theta):
        """R(θ)."""
        theta = jnp.asarray(theta)
        if self.is_linear:
            _, _, e, g = self._linear_parts(theta)
            return e @ g + self.risk_star
        y = self.output(theta)
        return jnp.dot(self.w, (y - self.f) ** 2)

    @eqx.filter_jit
    def grad(self, theta):
        """∇R(θ) (closed form; see module docstring)."""
        theta = jnp.asarray(theta)
        if self.is_linear:
            u, phi, _, g = self._linear_parts(theta)
            return (2.0 / u) * jnp.concatenate([g, (phi @ g)[None]])
        return self._si_risk_grad(theta)[1]

    def _si_risk_grad(self, theta):
        y = self.model._features_output(theta, self.X)
        return self._si_from_y(theta, y)

    def _si_risk_grad_warm(self, theta, y0):
        """(R, ∇R, y) with the equilibrium Newton started from ``y0`` (the GD map)."""
        y = solve_equilibrium_from(self.model.activation, self.X @ theta[:-1], theta[-1], y0)
        return self._si_from_y(theta, y) + (y,)

    def _si_from_y(self, theta, y):
        t1, t2 = theta[:-1], theta[-1]
        act = self.model.activation
        a = self.X @ t1
        s = act.deriv(a + t2 * y)
        r = y - self.f
        k = 2.0 * self.w * r * s / (1.0 - t2 * s)
        return jnp.dot(self.w, r ** 2), jnp.concatenate([k @ self.X, (k @ y)[None]])

    @eqx.filter_jit
    def risk_and_grad(self, theta):
        """(R(θ), ∇R(θ)) sharing one equilibrium solve."""
        theta = jnp.asarray(theta)
        if self.is_linear:
            u, phi, e, g = self._linear_parts(theta)
            return e @ g + self.risk_star, (2.0 / u) * jnp.concatenate([g, (phi @ g)[None]])
        return self._si_risk_grad(theta)

    def margin(self, theta):
        """Distance to ill-posedness: |1 − θ₂| (linear) or 1 − L|θ₂| (single-index)."""
        return self.model.margin(theta)

    # --------------------------------------------------------------- checks
    def check_theta(self, theta, singular_eps: float = 0.0, name: str = "theta0") -> np.ndarray:
        """Validate θ (shape (p,) or (n, p)); return it as a float64 array or raise ValueError."""
        th = np.asarray(theta, dtype=float)
        p = self.n_params
        if th.ndim not in (1, 2) or th.shape[-1] != p:
            raise ValueError(
                f"{name} has shape {th.shape}: give {p} numbers (θ₁ ∈ ℝ^{p - 1}, then θ₂), or an "
                f"(n, {p}) batch.")
        if not np.all(np.isfinite(th)):
            idx = np.argwhere(~np.isfinite(th))[0].tolist()
            raise ValueError(f"{name}{idx} is not finite: give finite starting values.")
        t2 = th[..., -1]
        where = lambda m: "" if th.ndim == 1 else f" (member {int(np.argmax(m))})"
        if self.is_linear:
            bad = np.abs(1.0 - t2) <= singular_eps
            if np.any(bad):
                val = t2 if th.ndim == 1 else t2[np.argmax(bad)]
                raise ValueError(
                    f"{name}[-1] is {float(val)!r}{where(bad)}: the linear DEQ is undefined on "
                    f"θ₂ = 1 (singular_eps={singular_eps:g}); start off the hyperplane.")
        else:
            L = self.model.lipschitz
            bad = L * np.abs(t2) >= 1.0 - singular_eps
            if np.any(bad):
                val = t2 if th.ndim == 1 else t2[np.argmax(bad)]
                raise ValueError(
                    f"{name}[-1] is {float(val)!r}{where(bad)}: L|θ₂| = {L * abs(float(val)):.4g} ≥ "
                    f"1 − singular_eps, so the single-index DEQ is not contractive; start with "
                    f"|θ₂| < {(1.0 - singular_eps) / L:.4g}.")
        return th

    def describe(self) -> dict:
        return {"model": self.model.describe(), "target": self.target.describe(),
                "data": self.data.describe()}

    def __repr__(self) -> str:
        return (f"Problem(model={self.model.describe()}, target={self.target.describe()}, "
                f"data={self.data.describe().get('law')}, nodes={self.X.shape[0]})")


