r"""Targets f the DEQ is trained to reproduce.

* :class:`LinearTarget`       f(x) = ξᵀx                  (paper Sec. 3.1)
* :class:`SingleIndexTarget`  f(x) = σ(ξᵀx)               (paper Sec. 3.2); σ may differ from the model's.
"""
from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
import numpy as np

from .activations import Activation, get_activation
from .._validate import device

__all__ = ["LinearTarget", "SingleIndexTarget"]


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
