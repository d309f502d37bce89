r"""``Problem(model, target, data)``: the population (or empirical) risk and its gradient.

    R(θ) = E_w[(ŷ_θ(X) − f(X))²],   ŷ_θ = readout_θ(z*),  z* = g_θ(x, z*),

with the expectation taken by the data rule's nodes/weights; for a target with k > 1
outputs (f(x) ∈ ℝᵏ, e.g. ``MultiLinearTarget``) the square is summed over the outputs,
R = E_w‖ŷ − f‖², and the model must predict k numbers (``model.n_outputs``).  ∇R comes from the model:
autodiff through the implicit equilibrium (:class:`~flowdeq.models.AbstractDEQ`) unless
the model overrides ``risk_and_grad`` with a closed form (the paper's two models do).
Problem never asks which model it holds.

The second moments Σ = E[X̃X̃ᵀ], b = E[X̃fᵀ], c = E‖f‖² and the least-squares linear
predictor φ* (Σφ* = b; exactly ξ̃ — or Aᵀ padded — for a linear target) are computed once,
in NumPy, for every problem: the linear DEQs' closed forms and the theory read them.

``risk``/``grad``/``risk_and_grad``/``output`` are jitted (``eqx.filter_jit``), so eager
calls from Python (e.g. inside a SciPy loop) compile once; inside another jit/vmap they
inline.  Where an equilibrium cannot be certified they return NaN, which the flow and GD
report as an outcome; ``check_theta`` raises a ``ValueError`` for bad user input.
"""
from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ._validate import device
from .models.base import AbstractDEQ, Arrays, squared_error

__all__ = ["Problem"]


class _Untraced:
    """Carries the data rule beside the arrays without keying compilation on it.

    ``eqx.filter_jit`` treats non-array fields as static and compares them with ``==``;
    data rules holding arrays compare by identity, so each new rule object recompiled every
    jitted solve (5–10 s).  Jitted code reads only the arrays, so all wrappers compare equal.
    """

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def __eq__(self, other):
        return isinstance(other, _Untraced)

    def __hash__(self):
        return 0


def _arrays(model, target, x, w) -> Arrays:
    """Features, targets and moments at the rule's nodes, in NumPy: as JAX these were a
    compiled program of their own, 0.1–0.2 s of each process start."""
    X = np.asarray(model.features(x), float)
    f = np.asarray(target.host(x), float)
    if f.ndim == 2 and f.shape[1] == 1:  # one output: the scalar form every model reads
        f = f[:, 0]
    Xw = X * w[:, None]
    sigma, b = Xw.T @ X, Xw.T @ f
    c = float(w @ (f ** 2 if f.ndim == 1 else np.sum(f ** 2, axis=1)))
    coef = target.coefficients
    if coef is not None and len(np.asarray(coef)) <= X.shape[1]:
        # exact φ* of a linear target (ξ or Aᵀ, zero on a bias row): b is in range Σ always
        coef = np.asarray(coef, float).reshape((len(coef),) + b.shape[1:])
        phi = np.concatenate([coef, np.zeros((X.shape[1] - len(coef),) + b.shape[1:])])
        rstar = 0.0
    else:
        phi = np.linalg.lstsq(sigma, b, rcond=1e-13)[0]
        rstar = max(c - float(phi @ b if b.ndim == 1 else np.sum(phi * b)), 0.0)
    return Arrays(*map(device, (X, w, f, sigma, b, c, phi, rstar)))


@eqx.filter_jit
def _margins(model, theta):
    # one compiled call: eagerly, each jnp op of a model's margin compiled on its own (~0.04 s each)
    return jax.vmap(lambda t: model.margin(model.unravel(t)))(theta)


@eqx.filter_jit
def _sides_margins(model, theta):
    return jax.vmap(lambda t: (model.side(model.unravel(t)), model.margin(model.unravel(t))))(theta)


@eqx.filter_jit
def _probe(model, theta, arrays):
    """Each stage of R(θ) separately (equilibrium, readout, risk, gradient), to name the one
    that went NaN."""
    params = model.unravel(theta)
    yhat, z = model.predict(params, arrays.X)
    risk = squared_error(arrays.w, yhat, arrays.f)
    grad = model.risk_and_grad(theta, arrays)[1]
    return z, yhat, risk, grad


class Problem(eqx.Module):
    """A model, a target and a data rule: everything the dynamics need.

    Array attributes (pytree leaves, so a new dataset of the same size does not recompile)
    live in ``arrays`` and are also readable directly: ``X`` features (n, d′), ``w``
    weights, ``f`` targets, ``sigma`` Σ, ``b``, ``c``, ``phi_star``, ``risk_star``.
    """

    model: AbstractDEQ
    target: eqx.Module
    _data: _Untraced = eqx.field(static=True)
    arrays: Arrays
    risk_min: jax.Array  # R* where the model knows it, NaN otherwise (an array: no recompiles)

    def __init__(self, model, target, data):
        if not isinstance(model, AbstractDEQ):
            raise ValueError(f"model is a {type(model).__name__}: give a flowdeq model (a subclass "
                             "of flowdeq.models.AbstractDEQ, e.g. LinearDEQ).")
        for need in ("host", "describe", "dim"):
            if not hasattr(target, need):
                raise ValueError(f"target has no {need!r}: give a flowdeq target (LinearTarget, "
                                 "SingleIndexTarget) or an object with host(x), dim and describe().")
        x, w = data.nodes_weights()
        x = np.asarray(x, float)
        if x.shape[1] != model.dim:
            raise ValueError(f"data has dimension {x.shape[1]} but the model has dim={model.dim}: "
                             "make [model] dim match the data.")
        if target.dim != model.dim:
            raise ValueError(f"target xi has length {target.dim} but the model has dim={model.dim}: "
                             "give ξ with one entry per input coordinate.")
        k = int(getattr(target, "n_outputs", 1))
        if k != model.n_outputs:
            raise ValueError(f"the target has {k} output(s) but the model predicts "
                             f"{model.n_outputs}: give a target with one output per prediction "
                             "(a multi-output target needs output=\"state\" with width = k).")
        self.model, self.target, self._data = model, target, _Untraced(data)
        self.arrays = _arrays(model, target, x, np.asarray(w, float))
        f = np.asarray(self.arrays.f)
        if not np.all(np.isfinite(f)):
            i = int(np.argmax(~np.isfinite(f)))
            raise ValueError(f"the target is {f[i]} at {np.sum(~np.isfinite(f))} of {f.size} data "
                             f"points (first x = {x[i].tolist()}): give a target finite on the data.")
        rmin = model.known_minimum(self.arrays, target)
        self.risk_min = device(np.nan if rmin is None else rmin)

    # ------------------------------------------------------------------ basics
    @property
    def data(self):
        """The data rule (``Uniform``, ``Gaussian``, ``Empirical`` or ``MonteCarlo``)."""
        return self._data.value

    X = property(lambda self: self.arrays.X)
    w = property(lambda self: self.arrays.w)
    f = property(lambda self: self.arrays.f)
    sigma = property(lambda self: self.arrays.sigma)
    b = property(lambda self: self.arrays.b)
    c = property(lambda self: self.arrays.c)
    phi_star = property(lambda self: self.arrays.phi_star)
    risk_star = property(lambda self: self.arrays.risk_star)

    @property
    def n_params(self) -> int:
        return self.model.n_params

    def params(self, theta):
        """Flat θ (..., p) → the model's parameter pytree."""
        return self.model.unravel(jnp.asarray(theta))

    def output(self, theta, x=None):
        """ŷ_θ at the rule's nodes (default) or at inputs x (n, d)."""
        # features are NumPy in, NumPy out, so they run before the jitted solve, not in it
        X = self.X if x is None else jnp.asarray(self.model.features(np.asarray(x, float)))
        return self._output(jnp.asarray(theta), X)

    @eqx.filter_jit
    def _output(self, theta, X):
        return self.model.predict(self.model.unravel(theta), X)[0]

    # ------------------------------------------------------------ risk, grad
    @eqx.filter_jit
    def risk_and_grad(self, theta):
        """(R(θ), ∇R(θ)) sharing one equilibrium solve."""
        r, g, _ = self.model.risk_and_grad(jnp.asarray(theta), self.arrays)
        return r, g

    def risk_and_grad_warm(self, theta, state):
        """(R, ∇R, state) with the equilibrium started from ``state`` (the GD map carries
        it from step to step; :meth:`warm_state` gives the first)."""
        return self.model.risk_and_grad(theta, self.arrays, state)

    def warm_state(self):
        return self.model.warm_state(self.arrays)

    @eqx.filter_jit
    def risk(self, theta):
        """R(θ)."""
        theta = jnp.asarray(theta)
        yhat = self.model.predict(self.model.unravel(theta), self.X)[0]
        return squared_error(self.w, yhat, self.f)

    @eqx.filter_jit
    def grad(self, theta):
        """∇R(θ)."""
        return self.risk_and_grad(theta)[1]

    def margin(self, theta):
        """Distance to ill-posedness (the model's ``margin``) of flat θ (..., p)."""
        return self.model.margin(self.model.unravel(jnp.asarray(theta)))

    def margins(self, theta, state):
        """The model's named margins at flat θ, stacked in ``model.margin_names`` order
        (shape (len(names),)); ``state`` is what ``model.risk_and_grad`` returned at θ."""
        named = self.model.margins(self.model.unravel(theta), self.arrays, state)
        if tuple(named) != tuple(self.model.margin_names):
            raise ValueError(f"{type(self.model).__name__}.margins returned {list(named)} but its "
                             f"margin_names are {list(self.model.margin_names)}: make them agree.")
        return jnp.stack([jnp.asarray(v, float) for v in named.values()])

    def evaluate(self, theta):
        """(R, ∇R, margins) at flat θ from one equilibrium solve (what the events read)."""
        r, g, state = self.model.risk_and_grad(theta, self.arrays)
        return r, g, self.margins(theta, state)

    def sides_margins(self, theta):
        """(side, margin) of each row of θ (h, p), in NumPy (one compiled call)."""
        return tuple(np.asarray(a) for a in _sides_margins(self.model, device(np.atleast_2d(theta))))

    def side(self, theta):
        """The component of the well-posed set (the model's ``side``) of flat θ."""
        return self.model.side(self.model.unravel(jnp.asarray(theta)))

    # --------------------------------------------------------------- checks
    def check_theta(self, theta, singular_eps: float = 0.0, name: str = "theta0") -> np.ndarray:
        """Validate θ (shape (p,) or (n, p)); return it as a float64 array or raise ValueError."""
        th = np.asarray(theta, dtype=float)
        p = self.n_params
        if th.ndim not in (1, 2) or th.shape[-1] != p:
            labels = self.model.param_labels()
            shown = ", ".join(labels[:6]) + (", …" if p > 6 else "")
            raise ValueError(f"{name} has shape {th.shape}: give {p} numbers ({shown}), or an "
                             f"(n, {p}) batch.")
        if not np.all(np.isfinite(th)):
            idx = np.argwhere(~np.isfinite(th))[0].tolist()
            raise ValueError(f"{name}{idx} is not finite: give finite starting values.")
        margin = np.asarray(_margins(self.model, device(np.atleast_2d(th))))
        bad = ~(margin > singular_eps)
        if np.any(bad):
            i = int(np.argmax(bad))
            where = "" if th.ndim == 1 else f" (member {i})"
            raise ValueError(f"{name}{where} has margin {margin[i]:.4g} ≤ singular_eps: "
                             f"{self.model.ill_posed_hint(singular_eps)}.")
        return th

    def explain_nonfinite(self, theta) -> str:
        """Which stage of R(θ) is undefined at θ: the equilibrium, the readout, the risk or
        its gradient (one line, for an outcome's message)."""
        th = np.asarray(theta, float)
        if not np.all(np.isfinite(th)):
            return "θ itself is not finite"
        z, yhat, risk, grad = (np.asarray(a) for a in _probe(self.model, device(th), self.arrays))
        n = z.shape[0]
        bad = ~np.all(np.isfinite(z.reshape(n, -1)), axis=1)
        where = f"at θ = {np.array2string(th, precision=4, separator=', ')}"
        if bad.any():
            return (f"the equilibrium could not be certified at {bad.sum()} of {n} data points {where} "
                    f"although margin = {float(self.margin(th)):.3g} > 0: the layer is undefined "
                    "there, or the model's margin (e.g. an activation's lipschitz) is too optimistic")
        if not np.all(np.isfinite(yhat)):
            return f"the readout is not finite {where}"
        if not np.isfinite(risk):
            return f"the risk is not finite {where} (the activation or readout overflows)"
        return f"∇R is not finite {where} (the activation's derivative is undefined there)"

    def describe(self) -> dict:
        return {"model": self.model.describe(), "target": self.target.describe(),
                "data": self.data.describe()}

    def __repr__(self) -> str:
        return (f"Problem(model={self.model.describe()}, target={self.target.describe()}, "
                f"data={self.data.describe().get('law')}, nodes={self.X.shape[0]})")
