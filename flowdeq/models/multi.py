r"""Width-m DEQs: the paper's two models with a hidden state z ∈ ℝᵐ (its open question 3).

Parameters ``{"U": (m, d′), "W": (m, m)}`` and, with ``output="readout"``, ``"v": (m,)``;
d′ = d + 1 with ``bias=True`` (a constant 1 is appended to x, so the bias is U's last
column, as the paper's models append a 1 to x).  The flat θ is the sorted-key ravel
(U, W[, v]), each block in C order: for m = 1 it is (U[0, :], W[0, 0]) = (θ₁, θ₂), the
order of :class:`~flowdeq.LinearDEQ` and :class:`~flowdeq.SingleIndexDEQ`.

* :class:`MultiLinearDEQ`   z = Wz + Ux̃  ⇒  z*(x) = (I − W)⁻¹Ux̃ = Φx̃,  Φ = (I − W)⁻¹U;
  well-posed iff det(I − W) ≠ 0.  Margin σ_min(I − W) (the distance of W to the singular
  set in the spectral norm), side sign det(I − W): the set det(I − W) ≠ 0 has exactly two
  components (those of GL(m)), so GD's ``crossed`` is a change of that sign.
* :class:`MultiNeuronDEQ`   z = σ(Wz + Ux̃); a unique fixed point while L‖W‖₂ < 1
  (the map is then a contraction in ‖·‖₂).

The prediction is the state itself (``output="state"``: ŷ = z ∈ ℝᵐ, for a target with
k = m outputs such as :class:`~flowdeq.MultiLinearTarget`) or a learned readout
(``output="readout"``: ŷ = vᵀz, scalar).  The risk is R = E_w‖ŷ − f‖² (summed over the
outputs).  With m = 1 and ``output="state"`` the two models *are* the paper's (eqs. 2
and 10): risk, gradient, flow and GD agree to rounding (tests/test_multi.py).

Gradients (implicit function theorem, paper eq. 1, never by unrolling):

* linear, through the moments Σ = E[x̃x̃ᵀ], φ* (least squares), R* (no pass over the data):
  with A = I − W, D = Φ − Φ*ᵀ,  R = tr(DΣDᵀ) + R*,  G = ∂R/∂Φ = 2DΣ, and from
  dΦ = A⁻¹(dU + dW Φ):   ∇_U R = A⁻ᵀG,  ∇_W R = A⁻ᵀGΦᵀ.
  Readout: φ = Φᵀv, R = (φ − φ*)ᵀΣ(φ − φ*) + R*, G = 2v(Σ(φ − φ*))ᵀ, ∇_v R = 2ΦΣ(φ − φ*).
  For m = 1 this is the linear DEQ's closed form (the corrected eq. 3, docs/errata.md).
* nonlinear, by the adjoint: with ωᵢ = Wzᵢ + Ux̃ᵢ, sᵢ = σ′(ωᵢ), Jᵢ = I − diag(sᵢ)W and
  rᵢ = ∂ℓ/∂zᵢ (2wᵢ(zᵢ − fᵢ), or 2wᵢ(vᵀzᵢ − fᵢ)v with a readout), one solve per sample
      Jᵢᵀλᵢ = rᵢ,   μᵢ = sᵢ ⊙ λᵢ,   ∇_W R = Σᵢ μᵢzᵢᵀ,   ∇_U R = Σᵢ μᵢx̃ᵢᵀ,
  (∇_v R = Σᵢ 2wᵢ(ŷᵢ − fᵢ)zᵢ); for m = 1 the display after the paper's eq. (14).

The nonlinear equilibrium is the generic batched Newton of :mod:`flowdeq.models.base`
(Picard where Newton does not lower ‖F‖, certified by the residual, NaN where not), with
the Jacobian Jᵢ written out and every system solved at once by
:func:`flowdeq.models.linalg.solve` (unpivoted: Jᵢ = I − K with ‖K‖₂ ≤ L‖W‖₂ < 1).

Ill-posedness of the nonlinear model (``ill_posed=``): "contraction" (default, the paper's
assumption) watches 1 − L‖W‖₂; "jacobian" watches instead the implicit gradient itself,
min over the data of σ_min(I − diag(σ′(ωᵢ))W) (data-dependent), and lets the dynamics
leave the contraction region.  While L‖W‖₂ < 1, σ_min(I − diag(s)W) ≥ 1 − ‖diag(s)W‖₂ ≥
1 − L‖W‖₂, so with contraction watched the Jacobian can never become singular first:
watching both would only repeat the contraction event at the cost of n SVDs per step
(docs/multi-neuron.md).
"""
from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from . import linalg
from .activations import Activation, get_activation
from .base import AbstractDEQ, Arrays, squared_error
from .paper import SingleIndexDEQ, _check_dim, _ScalarFeedbackDEQ
from .targets import TeacherTarget

__all__ = ["MultiLinearDEQ", "MultiNeuronDEQ"]

_OUTPUTS = ("state", "readout")


def _singular_values(M):
    """Singular values of M (..., m, m), NaN where M is not finite (LAPACK is never handed a
    NaN: it prints "illegal value" to stderr and returns garbage)."""
    ok = jnp.all(jnp.isfinite(M), axis=(-2, -1))
    sv = jnp.linalg.svd(jnp.where(ok[..., None, None], M, 0.0), compute_uv=False)
    return jnp.where(ok[..., None], sv, jnp.nan)


def _check_width(width):
    if isinstance(width, bool) or int(width) != width or int(width) < 1:
        raise ValueError(f"width is {width!r}: give the hidden width m as a positive integer.")
    return int(width)


def _check_output(output):
    if output not in _OUTPUTS:
        raise ValueError(f"output is {output!r}: use \"state\" (ŷ = z ∈ ℝᵐ) or \"readout\" "
                         "(ŷ = vᵀz).")
    return output


class _WidthM(AbstractDEQ):
    """Shared parts of the width-m models: parameters, features, readout, charts."""

    dim: int = eqx.field(static=True)
    width: int = eqx.field(static=True)
    bias: bool = eqx.field(static=True)
    output: str = eqx.field(static=True)

    def param_template(self) -> dict:
        m = self.width
        t = {"U": (m, self.n_features), "W": (m, m)}
        if self.output == "readout":
            t["v"] = (m,)
        return t

    @property
    def n_features(self) -> int:
        """d′: the columns of U (d, plus one with a bias)."""
        return self.dim + int(self.bias)

    # x̃ = (x, 1) with a bias, as the paper's models build it
    features = _ScalarFeedbackDEQ.features

    @property
    def n_outputs(self) -> int:
        return self.width if self.output == "state" else 1

    def readout(self, params, z):
        """ŷ = z (``output="state"``) or vᵀz (``"readout"``)."""
        return z if self.output == "state" else params["v"] @ z

    def random_theta(self, seed: int = 0, feedback: float = 0.5) -> np.ndarray:
        """A random well-posed flat θ (e.g. a teacher): U and v with N(0, 1) entries (v scaled
        by 1/√m), and W = Gaussian rescaled to L‖W‖₂ = ``feedback`` (< 1: contractive, and for
        the linear model σ_min(I − W) ≥ 1 − feedback)."""
        feedback = float(feedback)
        if not 0 <= feedback < 1:
            raise ValueError(f"feedback is {feedback!r}: give L‖W‖₂ in [0, 1).")
        rng = np.random.default_rng(int(seed))
        params = {k: rng.standard_normal(shape) for k, shape in self.param_template().items()}
        nw = np.linalg.norm(params["W"], 2)
        params["W"] = params["W"] * (feedback / (self.lipschitz * nw) if nw else 0.0)
        if "v" in params:
            params["v"] = params["v"] / np.sqrt(self.width)
        return np.concatenate([np.ravel(params[k]) for k in sorted(params)])

    def _eye(self, dtype=float):
        return jnp.eye(self.width, dtype=dtype)

    def _describe(self, kind) -> dict:
        return {"kind": kind, "dim": self.dim, "width": self.width, "bias": self.bias,
                "output": self.output}

    # ------------------------------------------------------------ charts
    def _target_point(self, target):
        """A minimiser-like point for the chart: (U*, W*, v*) as NumPy, or None."""
        m, dp = self.width, self.n_features
        readout = self.output == "readout"
        if isinstance(target, TeacherTarget) and \
                target.model.param_template() == self.param_template():
            p = {k: np.asarray(v, float) for k, v in target.params.items()}
            return p["U"], p["W"], p.get("v")
        coef = getattr(target, "coefficients", None)
        if coef is None:
            coef = getattr(target, "xi", None)  # a single-index target σ(ξᵀx)
        if coef is None:
            return None
        phi = np.asarray(coef, float).reshape(np.shape(coef)[0], -1).T  # (k, d)
        phi = np.concatenate([phi, np.zeros((phi.shape[0], dp - phi.shape[1]))], axis=1)
        U = np.zeros((m, dp))
        v = None
        if readout:
            U[0] = phi[0]
            v = np.eye(m)[0]
        elif phi.shape[0] == m:
            U = phi
        else:
            return None
        return U, np.zeros((m, m)), v

    def default_chart(self, target):
        """An affine slice through a minimiser, the paper's plane for m = 1:
        θ(s, t) = (U = s·U*/‖U*‖, W = t·Ŵ, v = v*) with U* the target's coefficients (Φ* for
        a linear or single-index target, placed on neuron 0 behind the readout v* = e₁) or
        a teacher's U; Ŵ = I (t is the common self-feedback, the singular set of the linear
        model at t = 1, as θ₂ = 1), or the teacher's W (then (s, t) = (‖U*‖, 1) is the
        teacher).  Without either: the plane of the first two parameters."""
        point = self._target_point(target)
        if point is None:
            return super().default_chart(target)
        U, W, v = point
        nu = np.linalg.norm(U)
        if nu == 0:
            U = np.zeros_like(U)
            U.flat[0], nu = 1.0, 1.0
        teacher = bool(np.any(W != 0))
        Wdir = W if teacher else np.eye(self.width)

        def flat(Ub, Wb, vb):
            parts = {"U": Ub, "W": Wb}
            if self.output == "readout":
                parts["v"] = vb
            return np.concatenate([np.ravel(parts[k]) for k in sorted(parts)])

        zero_v = None if v is None else np.zeros_like(v)
        origin = flat(np.zeros_like(U), np.zeros_like(W), v)
        u = flat(U / nu, np.zeros_like(W), zero_v)
        w = flat(np.zeros_like(U), Wdir, zero_v)
        labels = ("s  (U = s·U*/‖U*‖)", "t  (W = t·W*)" if teacher else "t  (W = t·I)")
        if self.width == 1 and self.output == "state" and not teacher:
            labels = ("θ₁" if self.n_params == 2 else "θ₁ᵀξ/‖ξ‖", "θ₂")
        return origin, u, w, labels


class MultiLinearDEQ(_WidthM):
    r"""Linear DEQ of width m:  z = Wz + Ux̃,  ŷ = z or vᵀz  (the paper's eq. 2 for m = 1)."""

    margin_label = "σ_min(I − W)"
    margin_names = ("singular",)
    lipschitz = 1.0  # of the identity "activation" (random_theta's feedback reads it)

    def __init__(self, dim: int = 1, width: int = 1, bias: bool = False, output: str = "state"):
        self.dim = _check_dim(dim)
        self.width = _check_width(width)
        self.bias = bool(bias)
        self.output = _check_output(output)

    def layer(self, params, x, z):
        """g_θ(x, z) = Wz + Ux̃."""
        return params["W"] @ z + params["U"] @ x

    def margin(self, params):
        """σ_min(I − W): the spectral-norm distance of W to {det(I − W) = 0}."""
        W = params["W"]
        if self.width == 1:
            return jnp.abs(1.0 - W[..., 0, 0])
        return _singular_values(self._eye(W.dtype) - W)[..., -1]

    def side(self, params):
        """sign det(I − W): which of the two components of the well-posed set."""
        W = params["W"]
        if self.width == 1:
            return jnp.sign(1.0 - W[..., 0, 0])
        ok = jnp.all(jnp.isfinite(W), axis=(-2, -1))
        sign = jnp.linalg.slogdet(self._eye(W.dtype) - jnp.where(ok[..., None, None], W, 0.0))[0]
        return jnp.where(ok, sign, jnp.nan)

    def _phi(self, params):
        """Φ = (I − W)⁻¹U (m, d′) and A = I − W."""
        A = self._eye(params["W"].dtype) - params["W"]
        if self.width == 1:
            return params["U"] / A[0, 0], A
        return jnp.linalg.solve(A, params["U"]), A

    def equilibrium(self, params, X, z0=None):
        """z* = Φx̃ for every row of X (n, d′) → (n, m) (inf/NaN where I − W is singular)."""
        phi, _ = self._phi(params)
        return X @ phi.T

    def risk_and_grad(self, theta, arrays: Arrays, state=None):
        params = self.unravel(theta)
        phi, A = self._phi(params)
        sigma, star = arrays.sigma, arrays.phi_star
        grads = {}
        if self.output == "state" and self.width == 1:
            # the paper's linear DEQ, in its own order of operations: equal bit for bit
            u = A[0, 0]
            d = phi[0] - star
            g = sigma @ d
            risk = d @ g + arrays.risk_star
            return risk, (2.0 / u) * jnp.concatenate([g, (phi[0] @ g)[None]]), state
        if self.output == "state":
            D = phi - star.reshape(self.n_features, -1).T
            SD = D @ sigma
            risk = jnp.sum(D * SD) + arrays.risk_star
            G = 2.0 * SD
        else:
            v = params["v"]
            D = phi.T @ v - star
            g = sigma @ D
            risk = D @ g + arrays.risk_star
            G = 2.0 * jnp.outer(v, g)
            grads["v"] = 2.0 * (phi @ g)
        H = G / A[0, 0] if self.width == 1 else jnp.linalg.solve(A.T, G)
        grads["U"], grads["W"] = H, H @ phi.T
        # no state: the closed form needs none (as the paper's linear DEQ)
        return risk, self.ravel(grads), state

    def warm_state(self, arrays: Arrays):
        return jnp.zeros(())

    def known_minimum(self, arrays: Arrays, target):
        """The least-squares risk: W = 0 and U = Φ (or U = e₁φᵀ, v = e₁) reach every linear
        predictor, so inf R is the one over linear maps (attained off det(I − W) = 0)."""
        return float(arrays.risk_star)

    def ill_posed_hint(self, eps) -> str:
        return (f"the linear DEQ is undefined where det(I − W) = 0 (singular_eps={eps:g}); start "
                "with σ_min(I − W) larger, e.g. W small")

    def describe(self) -> dict:
        return self._describe("multi-linear")


class MultiNeuronDEQ(_WidthM):
    r"""Nonlinear DEQ of width m:  z = σ(Wz + Ux̃),  ŷ = z or vᵀz  (eq. 10 for m = 1)."""

    activation: Activation
    ill_posed: str = eqx.field(static=True)

    def __init__(self, activation="tanh", dim: int = 1, width: int = 1, bias: bool = False,
                 output: str = "state", *, ill_posed: str = "contraction"):
        self.activation = get_activation(activation)
        self.dim = _check_dim(dim)
        self.width = _check_width(width)
        self.bias = bool(bias)
        self.output = _check_output(output)
        if ill_posed not in ("contraction", "jacobian"):
            raise ValueError(f"ill_posed is {ill_posed!r}: use \"contraction\" (1 − L‖W‖₂ → ε, "
                             "the default) or \"jacobian\" (σ_min(I − diag(σ′)W) → ε).")
        self.ill_posed = ill_posed

    @property
    def lipschitz(self) -> float:
        return self.activation.lipschitz

    @property
    def margin_names(self) -> tuple:
        return (self.ill_posed,)

    @property
    def margin_label(self) -> str:
        return "1 − L‖W‖₂" if self.ill_posed == "contraction" else "min σ_min(I − diag(σ′)W)"

    def layer(self, params, x, z):
        """g_θ(x, z) = σ(Wz + Ux̃)."""
        return self.activation.fn(params["W"] @ z + params["U"] @ x)

    def margin(self, params):
        """1 − L‖W‖₂ (contraction); +∞ with ``ill_posed="jacobian"``, whose margin needs
        the data (:meth:`jacobian_margin`)."""
        W = params["W"]
        if self.ill_posed == "jacobian":
            return jnp.full(W.shape[:-2], jnp.inf, W.dtype)
        if self.width == 1:
            return 1.0 - self.lipschitz * jnp.abs(W[..., 0, 0])
        return 1.0 - self.lipschitz * _singular_values(W)[..., 0]

    def _slopes(self, params, X, z):
        return self.activation.deriv(z @ params["W"].T + X @ params["U"].T)  # σ′(ω) (n, m)

    def jacobian_margin(self, params, X, z=None):
        """min over the rows of X of σ_min(I − diag(σ′(ωᵢ))W), ωᵢ = Wzᵢ + Ux̃ᵢ: where the
        implicit gradient stops existing (NaN where an equilibrium is NaN).  ``z`` is the
        equilibrium (n, m) if known."""
        z = self.equilibrium(params, X) if z is None else z
        s = self._slopes(params, X, z)
        W = params["W"]
        if self.width == 1:
            sv = jnp.abs(1.0 - s[:, 0] * W[0, 0])
        else:
            J = self._eye(W.dtype) - s[:, :, None] * W[None]
            sv = _singular_values(J)[:, -1]
        return jnp.where(jnp.any(jnp.isnan(sv)), jnp.nan, jnp.min(sv))

    def margins(self, params, arrays: Arrays, state):
        if self.ill_posed == "contraction":
            return {"contraction": self.margin(params)}
        return {"jacobian": self.jacobian_margin(params, arrays.X, state)}

    def solve_jacobian(self, params, X, z, rhs):
        """(I − diag(σ′(ωᵢ))W) uᵢ = rhsᵢ for all rows at once (:func:`linalg.solve`)."""
        s = self._slopes(params, X, z)
        J = self._eye(X.dtype)[:, :, None] - params["W"][:, :, None] * s.T[:, None, :]
        return linalg.solve(J, rhs, pivot=self.ill_posed == "jacobian")

    def risk_and_grad(self, theta, arrays: Arrays, state=None):
        """R and ∇R by the adjoint (module docstring): one transposed solve per sample.  The
        equilibrium keeps its implicit derivative, so forward-mode derivatives of ∇R (the
        stiff solvers' Jacobian) are exact too."""
        params = self.unravel(theta)
        X, w, f = arrays.X, arrays.w, arrays.f
        z = self.equilibrium(params, X, state)
        s = self._slopes(params, X, z)
        W = params["W"]
        grads = {}
        if self.output == "state":
            risk = squared_error(w, z, f)
            r = 2.0 * w[:, None] * (z - f.reshape(z.shape))
        else:
            v = params["v"]
            e = z @ v - f
            risk = jnp.dot(w, e ** 2)
            r = 2.0 * (w * e)[:, None] * v[None, :]
            grads["v"] = z.T @ (2.0 * w * e)
        # Jᵢᵀ = I − Wᵀdiag(sᵢ), batch-last
        Jt = self._eye(X.dtype)[:, :, None] - W.T[:, :, None] * s.T[None, :, :]
        mu = s * linalg.solve(Jt, r, pivot=self.ill_posed == "jacobian")
        grads["U"], grads["W"] = mu.T @ X, mu.T @ z
        return risk, self.ravel(grads), z

    def known_minimum(self, arrays: Arrays, target):
        """0 where a parameter of this model reproduces the target: a single-index target
        σ(ξᵀx) with this σ (U = e₁ξᵀ, W = 0, v = e₁), or a teacher of this family with this
        σ, contractive, with no bias unless this model has one, the same output and (state)
        the same width or (readout) no larger a width (pad with silent neurons); else
        unknown."""
        sig = self.activation.name
        if getattr(getattr(target, "activation", None), "name", None) == sig and \
                not isinstance(target, TeacherTarget):
            return 0.0 if (self.output == "readout" or self.width == 1) else None
        if not isinstance(target, TeacherTarget):
            return None
        t = target.model
        if getattr(getattr(t, "activation", None), "name", None) != sig:
            return None
        if isinstance(t, SingleIndexDEQ):
            fits = (not t.bias or self.bias) and (self.output == "readout" or self.width == 1)
            return 0.0 if fits else None
        if not isinstance(t, MultiNeuronDEQ) or (t.bias and not self.bias) or t.output != self.output:
            return None
        if (t.width != self.width) if self.output == "state" else (t.width > self.width):
            return None
        W = np.asarray(target.params["W"], float)
        contractive = self.lipschitz * np.linalg.norm(W, 2) < 1
        return 0.0 if (contractive or self.ill_posed == "jacobian") else None

    def ill_posed_hint(self, eps) -> str:
        if self.ill_posed == "jacobian":
            return "start where I − diag(σ′)W is invertible at every data point"
        return (f"the DEQ is not contractive where L‖W‖₂ ≥ 1 − singular_eps; start with "
                f"‖W‖₂ < {(1.0 - eps) / self.lipschitz:.4g}")

    def describe(self) -> dict:
        out = self._describe("multi-neuron") | {"activation": self.activation.name}
        if self.ill_posed != "contraction":
            out["ill_posed"] = self.ill_posed
        return out
