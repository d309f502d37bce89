r"""Activation functions σ for the single-index DEQ  y = σ(θ₁ᵀx + θ₂y).

Each :class:`Activation` knows σ, its derivative σ′, and its Lipschitz constant
L = sup|σ′|.  L decides well-posedness: the fixed-point map y ↦ σ(a + θ₂y) is a
contraction whenever L|θ₂| < 1 (paper, Sec. 3.2.1).

Built-ins (``get_activation(name)``):

============  =======================  ==========================  ====
name          σ(z)                     σ′(z)                       L
============  =======================  ==========================  ====
sigmoid       1/(1+e^{-z})             σ(z)(1−σ(z))                1/4
tanh          tanh z                   1 − tanh² z                 1
softplus      log(1+e^z)               sigmoid(z)                  1
relu          max(0, z)                1{z>0}                      1
linear        z                        1                           1
============  =======================  ==========================  ====

A user's σ: ``Activation.custom(fn, lipschitz=L, name="mine")`` with ``fn`` a JAX
function of a scalar/array; σ′ then comes from automatic differentiation.

Each built-in also carries σ in NumPy (``host``), used where a problem is built (the
target values at the data nodes): evaluating a JAX function there compiled an XLA
program of its own, ~0.1–0.2 s of every process start (docs/performance.md).
"""
from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["Activation", "get_activation", "ACTIVATIONS"]


def _autodiff_derivative(fn: Callable) -> Callable:
    def d(z):
        z = jnp.asarray(z)
        return jax.jvp(fn, (z,), (jnp.ones_like(z),))[1]

    return d


class Activation(eqx.Module):
    """σ with its derivative and Lipschitz constant.

    Attributes
    ----------
    name : str
    fn : callable, σ
    deriv : callable, σ′
    lipschitz : float, L = sup_z |σ′(z)|
    monotone : bool, whether σ is non-decreasing (Thm 3.8 assumes it)
    host_fn : callable or None, σ on NumPy arrays (built-ins); see :meth:`host`
    """

    name: str = eqx.field(static=True)
    fn: Callable = eqx.field(static=True)
    deriv: Callable = eqx.field(static=True)
    lipschitz: float = eqx.field(static=True)
    monotone: bool = eqx.field(static=True, default=True)
    host_fn: Callable | None = eqx.field(static=True, default=None)

    def __call__(self, z):
        return self.fn(z)

    def host(self, z) -> np.ndarray:
        """σ(z) for a NumPy array, as a float64 NumPy array: the NumPy form for the
        built-ins (nothing compiled), ``fn`` under ``jax.jit`` for a user's σ."""
        z = np.asarray(z, dtype=float)
        if self.host_fn is not None:
            return np.asarray(self.host_fn(z), dtype=float)
        return np.asarray(jax.jit(self.fn)(z), dtype=float)

    def derivative(self, z):
        """σ′(z), elementwise."""
        return self.deriv(z)

    @classmethod
    def custom(cls, fn: Callable, lipschitz: float, name: str = "custom",
               deriv: Callable | None = None, monotone: bool = True) -> "Activation":
        """Wrap a user's JAX function σ with its Lipschitz constant L.

        ``deriv`` (σ′) defaults to forward-mode automatic differentiation of ``fn``.
        """
        if not callable(fn):
            raise ValueError("fn must be a callable JAX function z -> σ(z).")
        lipschitz = float(lipschitz)
        if not np.isfinite(lipschitz) or lipschitz <= 0:
            raise ValueError(
                f"lipschitz is {lipschitz}: give the activation's Lipschitz constant "
                "L = sup|σ'| as a positive finite number.")
        return cls(name=name, fn=fn, deriv=deriv or _autodiff_derivative(fn),
                   lipschitz=lipschitz, monotone=monotone)

    def inf_derivative(self, radius: float, points: int = 20001) -> float:
        r"""γ-type constant  inf{σ′(z) : |z| ≤ radius}  (Thm 3.8, assumption 2(ii)).

        Evaluated on a dense symmetric grid (σ′ of the built-ins is unimodal or
        monotone, so the infimum sits at an end point and the grid contains both).
        """
        z = np.linspace(-float(radius), float(radius), points)
        return float(np.min(np.asarray(self.deriv(jnp.asarray(z)))))

    def __repr__(self) -> str:
        return f"Activation({self.name!r}, L={self.lipschitz:g})"


def _host_sigmoid(z):
    return np.exp(-np.logaddexp(0.0, -z))   # 1/(1 + e^{-z}) without overflow


def _sigmoid_d(z):
    # e^{−|z|}/(1 + e^{−|z|})², not s(1 − s): 1 − s rounds to 0 beyond |z| ≈ 37, which made
    # inf σ′ on a wide interval (the γ of Thm 3.8) exactly 0
    e = jnp.exp(-jnp.abs(z))
    return e / (1.0 + e) ** 2


def _tanh_d(z):
    # sech² z = 4e^{−2|z|}/(1 + e^{−2|z|})², not 1 − tanh² z (0 beyond |z| ≈ 19)
    e = jnp.exp(-2.0 * jnp.abs(z))
    return 4.0 * e / (1.0 + e) ** 2


def _relu(z):
    return jnp.maximum(z, 0.0)


def _relu_d(z):
    return jnp.where(jnp.asarray(z) > 0, 1.0, 0.0)


def _identity(z):
    return jnp.asarray(z) * 1.0


def _one(z):
    return jnp.ones_like(jnp.asarray(z, dtype=float))


ACTIVATIONS: dict[str, Activation] = {
    "sigmoid": Activation("sigmoid", jax.nn.sigmoid, _sigmoid_d, 0.25, host_fn=_host_sigmoid),
    "tanh": Activation("tanh", jnp.tanh, _tanh_d, 1.0, host_fn=np.tanh),
    "softplus": Activation("softplus", jax.nn.softplus, jax.nn.sigmoid, 1.0,
                           host_fn=lambda z: np.logaddexp(0.0, z)),
    "relu": Activation("relu", _relu, _relu_d, 1.0, host_fn=lambda z: np.maximum(z, 0.0)),
    "linear": Activation("linear", _identity, _one, 1.0, host_fn=lambda z: z * 1.0),
}


def get_activation(spec: str | Activation) -> Activation:
    """Return the activation named ``spec`` (or ``spec`` itself if it is one)."""
    if isinstance(spec, Activation):
        return spec
    if isinstance(spec, str) and spec.lower() in ACTIVATIONS:
        return ACTIVATIONS[spec.lower()]
    raise ValueError(
        f"unknown activation {spec!r}: use one of {sorted(ACTIVATIONS)} or pass "
        "Activation.custom(fn, lipschitz=L).")
