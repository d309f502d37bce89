r"""Targets f the DEQ is trained to reproduce.

* :class:`LinearTarget`       f(x) = ξᵀx                  (paper Sec. 3.1)
* :class:`SingleIndexTarget`  f(x) = σ(ξᵀx)               (paper Sec. 3.2); σ may differ from the model's.
* :class:`MultiLinearTarget`  f(x) = Ax ∈ ℝᵏ, A (k, d)    (k outputs: a width-k DEQ with ``output="state"``)
* :class:`TeacherTarget`      f(x) = ŷ_θ*(x) of a DEQ with fixed parameters θ* (teacher–student)

A target has ``dim`` (d), ``host(x)`` (f at NumPy inputs (n, d): (n,) or (n, k)),
``describe()`` and, optionally, ``n_outputs`` (k, default 1) and ``coefficients`` (the
exact linear predictor, (d,) or (d, k), or None).
"""
from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .activations import Activation, get_activation
from .base import AbstractDEQ
from .._validate import device

__all__ = ["LinearTarget", "SingleIndexTarget", "MultiLinearTarget", "TeacherTarget"]


def _as_xi(xi):
    xi = np.atleast_1d(np.asarray(xi, dtype=float))
    if xi.ndim != 1 or xi.size == 0:
        raise ValueError(f"xi has shape {xi.shape}: give ξ as a non-empty vector of length d.")
    if not np.all(np.isfinite(xi)):
        raise ValueError(f"xi = {xi.tolist()} has non-finite entries: give finite numbers.")
    return device(xi)


class LinearTarget(eqx.Module):
    """f(x) = ξᵀx."""

    xi: jnp.ndarray

    def __init__(self, xi):
        self.xi = _as_xi(xi)

    @property
    def dim(self) -> int:
        return int(self.xi.shape[0])

    def __call__(self, x):
        return jnp.asarray(x) @ self.xi

    def host(self, x) -> np.ndarray:
        """f(x) for a NumPy array x (n, d), in NumPy."""
        return np.asarray(x, float) @ np.asarray(self.xi)

    @property
    def coefficients(self):
        """ξ: the exact linear predictor (the least-squares φ* of a linear model)."""
        return self.xi

    def describe(self) -> dict:
        return {"kind": "linear", "xi": np.asarray(self.xi).tolist()}


class SingleIndexTarget(eqx.Module):
    """f(x) = σ(ξᵀx)."""

    xi: jnp.ndarray
    activation: Activation

    def __init__(self, xi, activation="sigmoid"):
        self.xi = _as_xi(xi)
        self.activation = get_activation(activation)

    @property
    def dim(self) -> int:
        return int(self.xi.shape[0])

    def __call__(self, x):
        return self.activation.fn(jnp.asarray(x) @ self.xi)

    def host(self, x) -> np.ndarray:
        """f(x) for a NumPy array x (n, d), in NumPy (σ by :meth:`Activation.host`)."""
        return self.activation.host(np.asarray(x, float) @ np.asarray(self.xi))

    coefficients = None  # no exact linear predictor: φ* is the least-squares one

    def describe(self) -> dict:
        return {"kind": "single-index", "xi": np.asarray(self.xi).tolist(),
                "activation": self.activation.name}


class MultiLinearTarget(eqx.Module):
    """f(x) = Ax ∈ ℝᵏ for A of shape (k, d) (a vector A is one output, k = 1).  A width-k
    DEQ with ``output="state"`` predicts it: R = E_w‖z* − Ax‖²."""

    A: jnp.ndarray

    def __init__(self, A):
        A = np.asarray(A, dtype=float)
        A = A[None, :] if A.ndim == 1 else A
        if A.ndim != 2 or A.size == 0:
            raise ValueError(f"A has shape {A.shape}: give A as a (k, d) matrix, one row per "
                             "output.")
        if not np.all(np.isfinite(A)):
            raise ValueError("A has non-finite entries: give finite numbers.")
        self.A = device(A)

    @property
    def dim(self) -> int:
        return int(self.A.shape[1])

    @property
    def n_outputs(self) -> int:
        return int(self.A.shape[0])

    def __call__(self, x):
        return jnp.asarray(x) @ self.A.T

    def host(self, x) -> np.ndarray:
        """f(x) (n, k) for a NumPy array x (n, d)."""
        return np.asarray(x, float) @ np.asarray(self.A).T

    @property
    def coefficients(self):
        """Aᵀ (d, k): the exact linear predictor."""
        return self.A.T

    def describe(self) -> dict:
        return {"kind": "multi-linear", "A": np.asarray(self.A).tolist()}


@eqx.filter_jit
def _teacher_output(model, theta, X):
    return model.predict(model.unravel(theta), X)[0]


class TeacherTarget(eqx.Module):
    """f(x) = ŷ_θ*(x): the prediction of a DEQ ``model`` with fixed parameters θ* (a flat
    vector or the model's parameter pytree), for teacher–student set-ups.  θ* must be
    well-posed (``model.margin > 0``); where its equilibrium cannot be certified at a data
    point, building the Problem fails with that point named."""

    model: AbstractDEQ
    theta: jnp.ndarray

    def __init__(self, model, params):
        if not isinstance(model, AbstractDEQ):
            raise ValueError(f"model is a {type(model).__name__}: give the teacher as a flowdeq "
                             "model (e.g. MultiNeuronDEQ(\"tanh\", 2, 3)).")
        if isinstance(params, dict):
            missing = sorted(set(model.param_template()) - set(params))
            if missing:
                raise ValueError(f"teacher params lack {missing}: give every parameter of "
                                 f"{sorted(model.param_template())}.")
            theta = np.asarray(model.ravel({k: np.asarray(params[k], float)
                                            for k in model.param_template()}), float)
        else:
            theta = np.asarray(params, dtype=float)
        if theta.shape != (model.n_params,):
            raise ValueError(f"teacher theta has shape {theta.shape}: give {model.n_params} "
                             f"numbers ({', '.join(model.param_labels()[:6])}"
                             f"{', …' if model.n_params > 6 else ''}).")
        if not np.all(np.isfinite(theta)):
            raise ValueError("teacher theta has non-finite entries: give finite numbers.")
        margin = float(model.margin(model.unravel(jnp.asarray(theta))))
        if not margin > 0:
            raise ValueError(f"the teacher's parameters are ill-posed (margin {margin:.4g} ≤ 0): "
                             f"{model.ill_posed_hint(0.0)}.")
        self.model, self.theta = model, device(theta)

    @property
    def params(self) -> dict:
        """θ* as the model's parameter pytree."""
        return self.model.unravel(self.theta)

    @property
    def dim(self) -> int:
        return self.model.dim

    @property
    def n_outputs(self) -> int:
        return self.model.n_outputs

    coefficients = None

    def __call__(self, x):
        return _teacher_output(self.model, self.theta, self.model.features(jnp.asarray(x)))

    def host(self, x) -> np.ndarray:
        """f(x) for a NumPy array x (n, d): (n,) or (n, k)."""
        X = jnp.asarray(self.model.features(np.asarray(x, float)))
        return np.asarray(jax.device_get(_teacher_output(self.model, self.theta, X)), float)

    def describe(self) -> dict:
        return {"kind": "teacher", "model": self.model.describe(),
                "theta": np.asarray(self.theta).tolist()}
