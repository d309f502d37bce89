r"""The two DEQ models of the paper.

θ is one flat vector: θ₁ ∈ ℝ^{d′} first, θ₂ (the feedback weight) last, where
d′ = d + 1 with ``bias=True`` (a constant 1 is appended to x, so the bias is the
last entry of θ₁) and d′ = d otherwise.

* :class:`LinearDEQ`      y = θ₁ᵀx + θ₂y  ⇒  y_θ(x) = θ₁ᵀx / (1 − θ₂)    (eq. 2), singular on θ₂ = 1.
* :class:`SingleIndexDEQ` y = σ(θ₁ᵀx + θ₂y)                              (eq. 10), well-posed while L|θ₂| < 1.

Both expose ``margin(θ)``: the distance to the ill-posed set that the ``singular``
event watches — |1 − θ₂| for the linear DEQ, 1 − L|θ₂| (loss of contraction) for
the single-index DEQ.
"""
from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
import numpy as np

from .activations import Activation, get_activation
from .equilibrium import solve_equilibrium

__all__ = ["LinearDEQ", "SingleIndexDEQ"]


def _check_dim(dim):
    if int(dim) != dim or int(dim) < 1:
        raise ValueError(f"dim is {dim!r}: give the input dimension as a positive integer.")
    return int(dim)


class _DEQ(eqx.Module):
    dim: int = eqx.field(static=True)
    bias: bool = eqx.field(static=True)

    @property
    def n_features(self) -> int:
        """d′: length of θ₁ (d, plus one with a bias)."""
        return self.dim + int(self.bias)

    @property
    def n_params(self) -> int:
        """d′ + 1: length of θ."""
        return self.n_features + 1

    def features(self, x):
        """x̃: x (n, d) with a column of ones appended when ``bias``.  A NumPy array gives
        a NumPy array (nothing compiled: ``Problem`` builds its moments this way);
        anything else a JAX array."""
        xp = np if isinstance(x, np.ndarray) else jnp
        x = xp.asarray(x)
        if x.ndim == 1:
            x = x[:, None] if self.dim == 1 else x[None, :]
        if self.bias:
            x = xp.concatenate([x, xp.ones(x.shape[:-1] + (1,), x.dtype)], axis=-1)
        return x

    @staticmethod
    def split(theta):
        """(θ₁, θ₂)."""
        theta = jnp.asarray(theta)
        return theta[..., :-1], theta[..., -1]


class LinearDEQ(_DEQ):
    r"""Linear DEQ  y_θ(x) = θ₁ᵀx̃ / (1 − θ₂)  (paper eq. 2)."""

    kind = "linear"

    def __init__(self, dim: int = 1, bias: bool = False):
        self.dim = _check_dim(dim)
        self.bias = bool(bias)

    lipschitz = 1.0

    def g(self, theta, x, y):
        """g_θ(x, y) = θ₁ᵀx̃ + θ₂y."""
        t1, t2 = self.split(theta)
        return self.features(x) @ t1 + t2 * y

    def _features_output(self, theta, xt):
        t1, t2 = self.split(theta)
        return xt @ t1 / (1.0 - t2)

    def output(self, theta, x):
        """Equilibrium y_θ(x) = θ₁ᵀx̃/(1 − θ₂) for a batch x of shape (n, d)."""
        return self._features_output(theta, self.features(x))

    def margin(self, theta):
        """|1 − θ₂|: distance to the singular hyperplane."""
        return jnp.abs(1.0 - jnp.asarray(theta)[..., -1])

    def describe(self) -> dict:
        return {"kind": "linear", "dim": self.dim, "bias": self.bias}


class SingleIndexDEQ(_DEQ):
    r"""Single-index DEQ  y = σ(θ₁ᵀx̃ + θ₂y)  (paper eq. 10)."""

    activation: Activation
    kind = "single-index"

    def __init__(self, activation="sigmoid", dim: int = 1, bias: bool = False):
        self.activation = get_activation(activation)
        self.dim = _check_dim(dim)
        self.bias = bool(bias)

    @property
    def lipschitz(self) -> float:
        return self.activation.lipschitz

    def g(self, theta, x, y):
        """g_θ(x, y) = σ(θ₁ᵀx̃ + θ₂y)."""
        t1, t2 = self.split(theta)
        return self.activation.fn(self.features(x) @ t1 + t2 * y)

    def _features_output(self, theta, xt):
        t1, t2 = self.split(theta)
        return solve_equilibrium(self.activation, xt @ t1, t2)

    def output(self, theta, x):
        """Equilibrium y_θ(x) (NaN where it could not be certified; see ``equilibrium``)."""
        return self._features_output(theta, self.features(x))

    def equilibrium(self, theta, x):
        """Like :meth:`output`, but raises a ``ValueError`` instead of returning NaN."""
        theta = np.asarray(theta, dtype=float)
        L = self.lipschitz
        if L * abs(theta[-1]) >= 1:
            raise ValueError(
                f"theta[-1] = {theta[-1]:g} gives L|θ₂| = {L * abs(theta[-1]):g} ≥ 1: the "
                "fixed point is not guaranteed unique; use |θ₂| < 1/L.")
        y = np.asarray(self.output(theta, x))
        bad = ~np.isfinite(y)
        if bad.any():
            raise ValueError(f"equilibrium solve did not converge for {bad.sum()} of {y.size} inputs.")
        return y

    def margin(self, theta):
        """1 − L|θ₂|: contraction margin of y ↦ σ(a + θ₂y)."""
        return 1.0 - self.lipschitz * jnp.abs(jnp.asarray(theta)[..., -1])

    def describe(self) -> dict:
        return {"kind": "single-index", "activation": self.activation.name,
                "dim": self.dim, "bias": self.bias}
