r"""``AbstractDEQ``: the one interface every DEQ in flowdeq implements.

A DEQ with parameters θ maps a feature vector x ∈ ℝ^{d′} to the fixed point

    z*(x) = g_θ(x, z*),   z ∈ ℝᵐ,      prediction  ŷ_θ(x) = readout_θ(z*(x)),

and the training risk is R(θ) = E_w[(ŷ_θ(X) − f(X))²] over the data rule's nodes.

A model declares
    * ``param_template()``: the parameter pytree, a dict name → shape (e.g. ``{"W": (2, 2),
      "u": (2, 1), "v": (2,)}``); the public flat θ is its ``ravel_pytree`` view (keys in
      sorted order, each block in C order), so configs, files and scripts pass flat vectors;
    * ``layer(params, x, z)`` = g_θ(x, z) for one sample (x of shape (d′,), z of shape (m,));
    * ``margin(params)``: a scalar distance to ill-posedness, > 0 where the fixed point is
      unique (the ``ill_posed`` event of flow and GD fires when it falls to ε);
    * ``width`` m and ``dim`` d (attributes).

and may override ``readout`` (default z₀), ``n_outputs`` (k, the length of ŷ; default 1),
``side`` (the component of the well-posed set: GD's ``crossed``), ``features`` (default: x
itself), ``margins`` (several named, possibly data-dependent, margins: the ``ill_posed``
event watches their minimum and records which one fired), ``equilibrium`` and
``risk_and_grad`` (closed forms, used only where they measure faster: docs/performance.md).

With k > 1 outputs (a target f(x) ∈ ℝᵏ) the risk is the squared error summed over the
outputs, R(θ) = E_w‖ŷ_θ(X) − f(X)‖² (:func:`squared_error`).

The generic ``equilibrium`` solves F(z) = z − g_θ(x, z) = 0 for all samples at once by
Newton's method with a Picard step whenever Newton does not reduce ‖F‖, certifies each
root by ‖F(z)‖ ≤ 1e-10 (1 + ‖z‖) and returns NaN where it cannot; its derivative is the
implicit-function theorem's,

    dz* = (I − ∂_z g)⁻¹ (∂_θ g · dθ + ∂_x g · dx)       (paper eq. 1),

as a ``jax.custom_jvp``, so ``jax.grad`` of the risk never differentiates solver
iterations (300–10,000× slower, measured).
"""
from __future__ import annotations

import abc
import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["AbstractDEQ", "Arrays", "MAX_NEWTON", "squared_error", "jacobian_solve"]

MAX_NEWTON = 100


class Arrays(eqx.Module):
    """The data a model's risk reads, as arrays (pytree leaves, so a new dataset of the same
    size does not recompile): features ``X`` (n, d′), weights ``w`` (n,), targets ``f``
    (n,) — or (n, k) for a target with k > 1 outputs — and the second moments Σ = E[X̃X̃ᵀ],
    b = E[X̃fᵀ] ((d′,) or (d′, k)), c = E‖f‖² with the least-squares linear predictor φ*
    (Σφ* = b, same shape as b) and its risk R* = c − tr(φ*ᵀb)."""

    X: jax.Array
    w: jax.Array
    f: jax.Array
    sigma: jax.Array
    b: jax.Array
    c: jax.Array
    phi_star: jax.Array
    risk_star: jax.Array


def _tolerance(z):
    return 1e-10 * (1.0 + jnp.linalg.norm(z, axis=-1))


def squared_error(w, yhat, f):
    """Σᵢ wᵢ‖ŷᵢ − fᵢ‖²: the risk's quadrature.  ``f`` is (n,) or (n, k); ``yhat`` holds the
    same numbers in any shape of that size (e.g. (n, 1) for a one-neuron state output)."""
    d = jnp.reshape(yhat, f.shape) - f
    if d.ndim == 1:  # the paper's models: unchanged, bit for bit
        return jnp.dot(w, d ** 2)
    return jnp.dot(w, jnp.sum(d ** 2, axis=1))


class AbstractDEQ(eqx.Module):
    """Abstract base of every DEQ (equinox's abstract/final pattern: subclass it once,
    implement the abstract methods; concrete models are not subclassed further)."""

    dim: eqx.AbstractVar[int]
    width: eqx.AbstractVar[int]
    # the paper model this is, if any ("linear", "single-index"): the paper's theorems and
    # landmarks apply only there; a researcher's model leaves it None
    kind = None
    margin_label = "margin(θ)"  # how figures and summaries name the margin
    # names of the margins :meth:`margins` returns, in order (``stats["ill_posed_kind"]``
    # records the one that fired)
    margin_names = ("margin",)

    # ------------------------------------------------------------ abstract
    @abc.abstractmethod
    def param_template(self) -> dict:
        """Parameter names → shapes (tuples)."""

    @abc.abstractmethod
    def layer(self, params, x, z):
        """g_θ(x, z) for one sample: x (d′,), z (m,) → (m,)."""

    @abc.abstractmethod
    def margin(self, params):
        """Distance to ill-posedness (> 0 where the equilibrium is unique)."""

    # ------------------------------------------------- overridable defaults
    def readout(self, params, z):
        """ŷ from the equilibrium z (m,): the first neuron by default."""
        return z[0]

    @property
    def n_outputs(self) -> int:
        """k: the length of the prediction ŷ (1: a scalar ŷ)."""
        return 1

    def margins(self, params, arrays: Arrays, state):
        """The named distances to ill-posedness, a dict ``name → scalar`` keyed by
        :attr:`margin_names` in that order, each > 0 where the model is well-posed.  The flow's
        and GD's ``ill_posed`` event fires when the smallest falls to ε, and records its name
        in ``stats["ill_posed_kind"]``.  A margin may read the data (``arrays``) and the
        equilibrium: ``state`` is what this model's :meth:`risk_and_grad` returned as its
        state at the same θ (the equilibrium z* (n, m) on the generic path).  By default the
        one data-free :meth:`margin`."""
        return {self.margin_names[0]: self.margin(params)}

    def side(self, params):
        """Which component of the well-posed set θ lies in (GD's ``crossed`` fires when it
        changes between iterates); one component by default."""
        return jnp.ones(())

    def features(self, x):
        """x (n, d) → the features the layer reads (n, d′); the identity by default.  Called
        once on NumPy data when a ``Problem`` is built (NumPy in, NumPy out)."""
        x = np.asarray(x, float)
        return x[:, None] if x.ndim == 1 else x

    def describe(self) -> dict:
        """JSON-able description (saved with every run)."""
        return {"kind": f"{type(self).__module__}:{type(self).__qualname__}", "dim": self.dim,
                "width": self.width}

    def default_chart(self, target):
        """The 2-D affine slice portraits use: (origin, u, v, (xlabel, ylabel)), θ = origin +
        s·u + t·v.  By default the plane of the first two parameters through θ = 0."""
        p = self.n_params
        if p < 2:
            raise ValueError("a portrait needs at least 2 parameters: this model has 1.")
        eye = np.eye(p)
        lab = self.param_labels()
        return np.zeros(p), eye[0], eye[1], (lab[0], lab[1])

    def ill_posed_hint(self, eps) -> str:
        """The fix to print when a start is within ε of ill-posedness."""
        return "start where margin(params) is larger"

    def known_minimum(self, arrays: Arrays, target):
        """R* = inf_θ R(θ) where the model knows it, else None.  The flow and GD call a
        point with ‖∇R‖ ≤ tol ``converged`` only if R − R* is small there, ``stationary``
        otherwise; with R* unknown only R ≈ 0 (or a certified event) is trusted."""
        return None

    # ------------------------------------------------------- flat θ views
    def layout(self) -> dict:
        """name → (offset, shape) of each block inside the flat θ (sorted keys, as
        ``jax.flatten_util.ravel_pytree`` orders a dict)."""
        out, off = {}, 0
        for k in sorted(self.param_template()):
            shape = tuple(int(s) for s in self.param_template()[k])
            out[k] = (off, shape)
            off += math.prod(shape)
        return out

    def layout_record(self) -> dict:
        """:meth:`layout` in JSON's own types (name → [offset, [shape…]]), as saved with every
        run, so a loaded trajectory's settings compare equal to the fresh one's."""
        return {k: [off, list(shape)] for k, (off, shape) in self.layout().items()}

    @property
    def n_params(self) -> int:
        """p: the length of the flat θ."""
        return sum(math.prod(s) for _, s in self.layout().values())

    def param_labels(self) -> list[str]:
        """One label per entry of flat θ, e.g. ``["W[0,0]", …, "theta2"]``."""
        labels = []
        for k, (_, shape) in self.layout().items():
            if shape:
                labels += [f"{k}[{','.join(map(str, i))}]" for i in np.ndindex(*shape)]
            else:
                labels.append(k)
        return labels

    def unravel(self, theta):
        """Flat θ (..., p) → the parameter dict, keeping leading batch axes."""
        lead = theta.shape[:-1]
        return {k: theta[..., off:off + math.prod(s)].reshape(lead + s)
                for k, (off, s) in self.layout().items()}

    def ravel(self, params):
        """The parameter dict → flat θ (the inverse of :meth:`unravel`)."""
        lay = self.layout()
        k0 = next(iter(lay))
        lead = jnp.shape(params[k0])[:jnp.ndim(params[k0]) - len(lay[k0][1])]
        return jnp.concatenate([jnp.reshape(jnp.asarray(params[k], float), lead + (-1,))
                                for k in lay], axis=-1)

    # -------------------------------------------------------- equilibrium
    def equilibrium(self, params, X, z0=None):
        """z*(x) for every row of X (n, d′) → (n, m); NaN rows where not certified.
        ``z0`` (n, m) is a warm start (NaN entries start from g_θ(x, 0))."""
        if z0 is None:
            z0 = jnp.full((X.shape[0], self.width), jnp.nan, X.dtype)
        return _generic_equilibrium(self, params, X, z0)

    def predict(self, params, X, z0=None):
        """(ŷ (n,) or (n, k), z* (n, m)) at the rows of X."""
        z = self.equilibrium(params, X, z0)
        return jax.vmap(self.readout, in_axes=(None, 0))(params, z), z

    def solve_jacobian(self, params, X, z, rhs):
        """u (n, m) with (I − ∂_z g_θ(xᵢ, zᵢ)) uᵢ = rhsᵢ for every row: the linear system of
        Newton's step and of the implicit-function derivative.  By default the Jacobian comes
        from forward-mode autodiff of :meth:`layer` and each system from a pivoted LU; a model
        that knows its Jacobian may override this with a faster batched solve."""
        return jacobian_solve(self, params, X, z, rhs)

    def warm_state(self, arrays: Arrays):
        """What the GD map carries from step to step (the last equilibrium)."""
        return jnp.full((arrays.X.shape[0], self.width), jnp.nan, arrays.X.dtype)

    def risk_and_grad(self, theta, arrays: Arrays, state=None):
        """(R(θ), ∇R(θ), state) for flat θ, by autodiff through the implicit equilibrium.
        ``state`` is the warm start from :meth:`warm_state` (or None)."""

        def risk(th):
            yhat, z = self.predict(self.unravel(th), arrays.X, state)
            return squared_error(arrays.w, yhat, arrays.f), z

        (r, z), g = jax.value_and_grad(risk, has_aux=True)(theta)
        return r, g, z


def _newton(model, params, X, z0):
    """Batched Newton on F(z) = z − g(x, z), Picard where Newton fails to reduce ‖F‖.

    A sample is done once a Newton step it accepted was below 4 ulp of ‖z‖ (the iterate
    is then the root to rounding, as the scalar solver of ``equilibrium.py`` stops), or
    F = 0; the certificate ‖F‖ ≤ 1e-10 (1 + ‖z‖) is checked afterwards (:func:`_implicit`).
    Under a contraction (L‖∂_z g‖ ≤ q < 1) every step — a Newton step only where it
    lowers ‖F‖, else the Picard step z ← g(x, z) — reduces ‖F‖ by the factor q at least."""
    layer = jax.vmap(model.layer, in_axes=(None, 0, 0))
    eps = jnp.finfo(X.dtype).eps
    start = layer(params, X, jnp.zeros_like(z0))
    z = jnp.where(jnp.isfinite(z0), z0, start)

    def cond(state):
        it, z, done = state
        return (it < MAX_NEWTON) & jnp.any(~done)

    def body(state):
        it, z, done = state
        gz = layer(params, X, z)
        F = z - gz
        step = model.solve_jacobian(params, X, z, F)
        newton = z - step
        Fn = newton - layer(params, X, newton)
        normF = jnp.linalg.norm(F, axis=-1)
        better = jnp.linalg.norm(Fn, axis=-1) < normF
        ok = better & jnp.all(jnp.isfinite(newton), axis=-1)
        z_new = jnp.where(ok[:, None], newton, gz)
        tiny = jnp.linalg.norm(step, axis=-1) <= 4 * eps * (1.0 + jnp.linalg.norm(z, axis=-1))
        # a rejected step that was already tiny: z is the root to rounding as well
        conv = (normF == 0) | tiny
        z_new = jnp.where((done | (normF == 0) | (tiny & ~ok))[:, None], z, z_new)
        return it + 1, z_new, done | conv

    return jax.lax.while_loop(cond, body, (jnp.asarray(0), z, jnp.zeros(X.shape[0], bool)))[1]


def jacobian_solve(model, params, X, z, rhs):
    """u with (I − ∂_z g_θ(xᵢ, zᵢ)) uᵢ = rhsᵢ for every sample, the Jacobian by forward-mode
    autodiff of ``layer`` (the default of :meth:`AbstractDEQ.solve_jacobian`)."""
    jac = jax.vmap(jax.jacfwd(model.layer, argnums=2), in_axes=(None, 0, 0))
    J = jnp.eye(model.width, dtype=z.dtype) - jac(params, X, z)
    return jnp.linalg.solve(J, rhs[..., None])[..., 0]


@jax.custom_jvp
def _implicit(model, params, X, z0):
    z = _newton(model, params, X, z0)
    F = z - jax.vmap(model.layer, in_axes=(None, 0, 0))(params, X, z)
    good = (model.margin(params) > 0) & (jnp.linalg.norm(F, axis=-1) <= _tolerance(z)) \
        & jnp.all(jnp.isfinite(z), axis=-1)
    return jnp.where(good[:, None], z, jnp.nan)


@_implicit.defjvp
def _implicit_jvp(primals, tangents):
    model, params, X, z0 = primals
    _, dparams, dX, _ = tangents
    z = _implicit(model, params, X, z0)

    def rhs(x, zi, dx):
        g = lambda p, xx: model.layer(p, xx, zi)
        return jax.jvp(g, (params, x), (dparams, dx))[1]

    # implicit function theorem (paper eq. 1): dz = (I − ∂_z g)⁻¹ (∂_θ g dθ + ∂_x g dx)
    return z, model.solve_jacobian(params, X, z, jax.vmap(rhs)(X, z, dX))


def _generic_equilibrium(model, params, X, z0):
    return _implicit(model, params, X, z0)
