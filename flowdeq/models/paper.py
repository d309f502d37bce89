r"""The paper's two DEQs, as implementations of :class:`~flowdeq.models.base.AbstractDEQ`.

Parameters ``{"theta1": (d′,), "theta2": ()}``: the flat θ is θ₁ ∈ ℝ^{d′} first and the
feedback weight θ₂ last, where d′ = d + 1 with ``bias=True`` (a constant 1 is appended to x,
so the bias is the last entry of θ₁) and d′ = d otherwise.  Width m = 1.

* :class:`LinearDEQ`      y = θ₁ᵀx̃ + θ₂y  ⇒  y_θ(x) = θ₁ᵀx̃ / (1 − θ₂)   (eq. 2); ill-posed on θ₂ = 1,
  margin |1 − θ₂|, side sign(1 − θ₂) (the two half-spaces are separate systems, Thm 3.3).
* :class:`SingleIndexDEQ` y = σ(θ₁ᵀx̃ + θ₂y)                             (eq. 10); well-posed while
  L|θ₂| < 1, margin 1 − L|θ₂| (loss of contraction).

Both keep their closed forms as overrides, which measure faster than the generic autodiff
path (docs/performance.md, entry "model interface"):

* linear: R and ∇R through the moments (φ = θ₁/(1 − θ₂)),
      R = (φ − φ*)ᵀΣ(φ − φ*) + R*,   ∇R = 2/(1 − θ₂) · (Σ(φ − φ*), φᵀΣ(φ − φ*));
  the printed eq. (3) of the paper differs (docs/errata.md);
* single-index: the scalar safeguarded Newton of :mod:`flowdeq.models.equilibrium` and the
  explicit IFT gradient (the display after eq. 14)
      ∇R = 2 E[(y − f) σ′(ω)/(1 − θ₂σ′(ω)) · (X̃, y)],   ω = θ₁ᵀX̃ + θ₂y.
"""
from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
import numpy as np

from .activations import Activation, get_activation
from .base import AbstractDEQ, Arrays
from .equilibrium import solve_equilibrium, solve_equilibrium_from

__all__ = ["LinearDEQ", "SingleIndexDEQ"]


def _check_dim(dim):
    if int(dim) != dim or int(dim) < 1:
        raise ValueError(f"dim is {dim!r}: give the input dimension as a positive integer.")
    return int(dim)


class _ScalarFeedbackDEQ(AbstractDEQ):
    """y = h(θ₁ᵀx̃ + θ₂y): the paper's family (one neuron, scalar feedback θ₂)."""

    dim: int = eqx.field(static=True)
    bias: bool = eqx.field(static=True)
    width: int = eqx.field(static=True, default=1, init=False)

    def param_template(self) -> dict:
        return {"theta1": (self.n_features,), "theta2": ()}

    @property
    def n_features(self) -> int:
        """d′: length of θ₁ (d, plus one with a bias)."""
        return self.dim + int(self.bias)

    def features(self, x):
        """x̃: x (n, d) with a column of ones appended when ``bias``.  A NumPy array gives a
        NumPy array (``Problem`` builds its moments this way, nothing compiled); anything
        else a JAX array."""
        xp = np if isinstance(x, (np.ndarray, list, tuple, float, int)) else jnp
        x = xp.asarray(x, float)
        if x.ndim == 1:
            x = x[:, None] if self.dim == 1 else x[None, :]
        if self.bias:
            x = xp.concatenate([x, xp.ones(x.shape[:-1] + (1,), x.dtype)], axis=-1)
        return x

    @staticmethod
    def split(theta):
        """(θ₁, θ₂) of a flat θ (..., p); NumPy in, NumPy out."""
        theta = theta if isinstance(theta, np.ndarray) else jnp.asarray(theta)
        return theta[..., :-1], theta[..., -1]

    def default_chart(self, target):
        """The paper's plane: θ₁ = s·ξ̂ (ξ̂ = ξ/‖ξ‖ padded with 0 on a bias entry; e₁ if
        ξ = 0), θ₂ = t.  For d = 1 without bias this is the (θ₁, θ₂) plane itself; it holds
        the minimiser line and the target."""
        xi = np.asarray(target.xi, float).ravel()
        u = np.zeros(self.n_params)
        u[: xi.size] = xi
        n = np.linalg.norm(u)
        if n == 0:
            u[0] = 1.0
        else:
            u /= n
        v = np.zeros(self.n_params)
        v[-1] = 1.0
        return np.zeros(self.n_params), u, v, ("θ₁" if self.n_params == 2 else "θ₁ᵀξ/‖ξ‖", "θ₂")

    @staticmethod
    def _params(params):
        # 0.1's equilibrium(theta, x) took a flat θ: fail with the new names, not an IndexError
        if not isinstance(params, dict):
            raise ValueError("equilibrium(params, X) takes the parameter dict (model.unravel(theta)) "
                             "and features X; for a flat θ and raw inputs x use output(theta, x) "
                             "or solve(theta, x), which raises where the solve fails.")
        return params

    def output(self, theta, x):
        """y_θ(x) for flat θ and raw inputs x (n, d) (NaN where not certified)."""
        t1, t2 = self.split(theta)
        return self._scalar_output(t1, t2, self.features(x))


class LinearDEQ(_ScalarFeedbackDEQ):
    r"""Linear DEQ  y_θ(x) = θ₁ᵀx̃ / (1 − θ₂)  (paper eq. 2)."""

    kind = "linear"
    margin_label = "|1 − θ₂|"
    margin_names = ("singular",)
    lipschitz = 1.0

    def __init__(self, dim: int = 1, bias: bool = False):
        self.dim = _check_dim(dim)
        self.bias = bool(bias)

    def layer(self, params, x, z):
        """g_θ(x, z) = θ₁ᵀx̃ + θ₂z."""
        return x @ params["theta1"] + params["theta2"] * z

    def margin(self, params):
        """|1 − θ₂|: distance to the singular hyperplane."""
        return jnp.abs(1.0 - params["theta2"])

    def side(self, params):
        """sign(1 − θ₂): below or above the singular hyperplane."""
        return jnp.sign(1.0 - params["theta2"])

    def _scalar_output(self, t1, t2, xt):
        return xt @ t1 / (1.0 - t2)

    def equilibrium(self, params, X, z0=None):
        params = self._params(params)
        return self._scalar_output(params["theta1"], params["theta2"], X)[:, None]

    def risk_and_grad(self, theta, arrays: Arrays, state=None):
        t1, t2 = self.split(theta)
        u = 1.0 - t2
        phi = t1 / u
        g = arrays.sigma @ (phi - arrays.phi_star)
        risk = (phi - arrays.phi_star) @ g + arrays.risk_star
        # the GD map carries no state for this model: the closed form needs none
        return risk, (2.0 / u) * jnp.concatenate([g, (phi @ g)[None]]), state

    def warm_state(self, arrays: Arrays):
        return jnp.zeros(())

    def known_minimum(self, arrays: Arrays, target):
        """The least-squares risk c − φ*ᵀb: ŷ = θ₁ᵀx̃/(1 − θ₂) reaches every linear predictor
        φ = θ₁/(1 − θ₂), so the infimum over θ is the one over φ (attained off θ₂ = 1)."""
        return float(arrays.risk_star)

    def ill_posed_hint(self, eps) -> str:
        return f"the linear DEQ is undefined on θ₂ = 1 (singular_eps={eps:g}); start off the hyperplane"

    def describe(self) -> dict:
        return {"kind": "linear", "dim": self.dim, "bias": self.bias}


class SingleIndexDEQ(_ScalarFeedbackDEQ):
    r"""Single-index DEQ  y = σ(θ₁ᵀx̃ + θ₂y)  (paper eq. 10)."""

    activation: Activation
    kind = "single-index"
    margin_label = "1 − L|θ₂|"
    margin_names = ("contraction",)

    def __init__(self, activation="sigmoid", dim: int = 1, bias: bool = False):
        self.activation = get_activation(activation)
        self.dim = _check_dim(dim)
        self.bias = bool(bias)

    @property
    def lipschitz(self) -> float:
        return self.activation.lipschitz

    def layer(self, params, x, z):
        """g_θ(x, z) = σ(θ₁ᵀx̃ + θ₂z)."""
        return self.activation.fn(x @ params["theta1"] + params["theta2"] * z)

    def margin(self, params):
        """1 − L|θ₂|: contraction margin of y ↦ σ(a + θ₂y)."""
        return 1.0 - self.lipschitz * jnp.abs(params["theta2"])

    def _scalar_output(self, t1, t2, xt):
        return solve_equilibrium(self.activation, xt @ t1, t2)

    def equilibrium(self, params, X, z0=None):
        params = self._params(params)
        return self._scalar_output(params["theta1"], params["theta2"], X)[:, None]

    def solve(self, theta, x):
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

    def _from_y(self, t1, t2, y, arrays):
        a = arrays.X @ t1
        s = self.activation.deriv(a + t2 * y)
        r = y - arrays.f
        k = 2.0 * arrays.w * r * s / (1.0 - t2 * s)
        return jnp.dot(arrays.w, r ** 2), jnp.concatenate([k @ arrays.X, (k @ y)[None]])

    def warm_state(self, arrays: Arrays):
        return jnp.full(arrays.X.shape[:1], jnp.nan, arrays.X.dtype)  # NaN: start from σ(a)

    def risk_and_grad(self, theta, arrays: Arrays, state=None):
        t1, t2 = self.split(theta)
        if state is None:
            y = solve_equilibrium(self.activation, arrays.X @ t1, t2)
        else:  # the GD map: Newton from the previous step's equilibrium
            y = solve_equilibrium_from(self.activation, arrays.X @ t1, t2, state)
        return (*self._from_y(t1, t2, y, arrays), y)

    def known_minimum(self, arrays: Arrays, target):
        """0 when the target is σ(ξᵀx) with the model's own σ (θ = (ξ, 0) reproduces it);
        unknown otherwise."""
        act = getattr(target, "activation", None)
        return 0.0 if getattr(act, "name", None) == self.activation.name else None

    def ill_posed_hint(self, eps) -> str:
        return (f"the single-index DEQ is not contractive where L|θ₂| ≥ 1 − singular_eps; start "
                f"with |θ₂| < {(1.0 - eps) / self.lipschitz:.4g}")

    def describe(self) -> dict:
        return {"kind": "single-index", "activation": self.activation.name,
                "dim": self.dim, "bias": self.bias}
