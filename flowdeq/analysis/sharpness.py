r"""Sharpness λ_max(∇²R) along runs, GD's linear stability, and the Hessian at minimisers.

**Sharpness.**  λ_max(H), H = ∇²R(θ), from Hessian-vector products Hv = ``jax.jvp`` of ∇R
(:func:`flowdeq.dynamics.modified.hvp`).  For p ≤ ``dense_max`` (default 32) H is formed
column by column from p HVPs and diagonalised (exact); above it, ``iters`` steps of Lanczos
with full reorthogonalisation from a fixed random start give the largest Ritz value and
its residual bound |β_m s_m| ≥ min_i |λ_i − λ̂| (Parlett, *The Symmetric Eigenvalue Problem*,
Sec. 13.2), never a dense Hessian.  Both run jitted and vmapped over a batch of points; θ
and the start vector are values (no recompilation).

**GD's linear stability.**  Near a minimiser θ* the GD map is θ ↦ θ − ηH(θ*)(θ − θ*) + …,
whose Jacobian I − ηH has eigenvalues 1 − ηλᵢ: the normal directions contract iff
0 < ηλᵢ < 2, so GD can converge to θ* only if η·λ_max(H(θ*)) < 2 (= 2 is marginal).  The
zero eigenvalues of a minimiser *manifold* (tangent directions) give 1 and neither grow
nor shrink.  :func:`gd_stability` reports ηλ_max/2 (< 1: stable).

**Edge of stability** (Cohen et al., ICLR 2021): along GD with step η the sharpness rises
to ≈ 2/η and hovers there while R keeps falling non-monotonically.  :func:`edge_of_stability`
reports when ηλ_max first reaches 2(1 − band), how long GD then runs above 2/η, and the share
of later steps within the band |ηλ_max/2 − 1| ≤ band.  On the linear DEQ flowdeq sees the mirror image (flowdeq's
finding, docs/gd-vs-flow.md): GD starts *above* 2/η near θ₂ = 1 and the sharpness falls to
just below 2/η while the radius grows (self-stabilisation).

**Linear DEQ, closed form** (flowdeq's derivation, checked in tests/test_sharpness.py).
R = (φ − φ*)ᵀΣ(φ − φ*) + R*, φ = θ₁/(1 − θ₂).  At a minimiser (φ = φ*) the residual term
vanishes and H = 2JᵀΣJ with J = ∂φ/∂θ = (1/(1 − θ₂))[I | φ].  On the line (αφ*, 1 − α):

    H = (2/α²) [I ; φ*ᵀ] Σ [I | φ*],     spec H \ {0} = (2/α²) spec(Σ(I + φ*φ*ᵀ)),

one zero eigenvalue with eigenvector (φ*, −1) — the line's tangent — and the rest normal.
For d = 1: λ_max = 2Σ(1 + ξ²)/α² (the issue's form).  GD is stable at (αφ*, 1 − α) iff
α² > η λ_max(Σ(I + φ*φ*ᵀ)).
"""
from __future__ import annotations

from dataclasses import dataclass

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._validate import device, positive
from ..dynamics.modified import gradient_fn, padded_call
from ..problem import Problem

__all__ = ["hessian", "sharpness", "lanczos_sharpness", "sharpness_along", "gd_stability",
           "edge_of_stability", "EdgeOfStability", "minimiser_spectrum", "MinimiserSpectrum",
           "linear_line_spectrum", "linear_line_sharpness", "DENSE_MAX"]

DENSE_MAX = 32      # above this p the sharpness comes from Lanczos, never a dense Hessian
LANCZOS_ITERS = 32


@eqx.filter_jit
def _hessians(problem, theta):
    h = jax.vmap(jax.jacfwd(gradient_fn(problem)))(theta)
    return 0.5 * (h + jnp.swapaxes(h, -1, -2))


def hessian(problem: Problem, theta) -> np.ndarray:
    """The dense Hessian ∇²R at θ (p,) or (n, p), from p HVPs per point (symmetrised).
    Meant for small p (the spectrum at a point); sharpness along runs uses Lanczos above
    :data:`DENSE_MAX`."""
    th = np.asarray(theta, float)
    h = padded_call(lambda x: _hessians(problem, x), np.atleast_2d(th))
    return h if th.ndim == 2 else h[0]


def _lanczos(matvec, v0, m):
    """m Lanczos steps with full reorthogonalisation; (largest Ritz value, residual bound)."""
    p = v0.shape[0]
    V = jnp.zeros((m + 1, p), v0.dtype).at[0].set(v0 / jnp.linalg.norm(v0))
    a = jnp.zeros(m, v0.dtype)
    b = jnp.zeros(m, v0.dtype)
    alive = jnp.ones(m, bool)

    def body(j, state):
        V, a, b, alive, ok = state
        w = matvec(V[j])
        aj = jnp.dot(w, V[j])
        size = jnp.linalg.norm(w)
        w = w - V.T @ (V @ w)        # full reorthogonalisation against every vector so far
        w = w - V.T @ (V @ w)        # twice is enough (Kahan–Parlett)
        bj = jnp.linalg.norm(w)
        # breakdown: the Krylov space is invariant (Hv has no new direction), every later
        # step is void
        ok_next = ok & (bj > 1e-10 * size)
        V = V.at[j + 1].set(jnp.where(ok_next, w / jnp.where(ok_next, bj, 1.0), 0.0))
        return V, a.at[j].set(aj), b.at[j].set(jnp.where(ok_next, bj, 0.0)), alive.at[j].set(ok), ok_next

    V, a, b, alive, _ = jax.lax.fori_loop(0, m, body, (V, a, b, alive, jnp.asarray(True)))
    # void steps get a diagonal below every Ritz value (Gershgorin), so they never win
    floor = -2.0 * (1.0 + jnp.sum(jnp.abs(a)) + 2.0 * jnp.sum(jnp.abs(b)))
    diag = jnp.where(alive, a, floor)
    T = jnp.diag(diag) + jnp.diag(b[:-1], 1) + jnp.diag(b[:-1], -1)
    vals, vecs = jnp.linalg.eigh(T)
    resid = jnp.abs(b[-1] * vecs[-1, -1])
    return vals[-1], resid


@eqx.filter_jit
def _lanczos_batch(problem, theta, v0, m):
    grad = gradient_fn(problem)

    def one(th):
        return _lanczos(lambda v: jax.jvp(grad, (th,), (v,))[1], v0, m)

    return jax.vmap(one)(theta)


def _start(p, seed):
    return np.random.default_rng(seed).standard_normal(p)


def lanczos_sharpness(problem: Problem, theta, iters: int = LANCZOS_ITERS, seed: int = 0):
    """(λ_max, residual bound) by ``iters`` Lanczos steps on HVPs at θ (p,) or (n, p).

    The residual bound r = |β_m s_m| guarantees an eigenvalue of H within r of λ̂; with
    iters ≥ p the Krylov space is the whole space and λ̂ is exact to rounding."""
    th = np.asarray(theta, float)
    p = th.shape[-1]
    m = int(min(max(int(iters), 1), p))
    v0 = device(_start(p, seed))
    lam, res = padded_call(lambda x: _lanczos_batch(problem, x, v0, m), np.atleast_2d(th))
    return (lam, res) if th.ndim == 2 else (float(lam[0]), float(res[0]))


def sharpness(problem: Problem, theta, *, method: str = "auto", iters: int = LANCZOS_ITERS,
              dense_max: int = DENSE_MAX, seed: int = 0, batch: int = 4096):
    """λ_max(∇²R(θ)) at θ (p,) or (n, p): dense for p ≤ ``dense_max`` ("auto"), else
    Lanczos on HVPs (``method="dense"|"lanczos"`` forces one).  Non-finite θ gives NaN.
    Large batches run in slices of ``batch`` points; each slice is padded to a power of
    two, so traces of different lengths reuse a few compiled shapes."""
    if method not in ("auto", "dense", "lanczos"):
        raise ValueError(f"method is {method!r}: use \"auto\", \"dense\" or \"lanczos\".")
    th = np.asarray(theta, float)
    pts = np.atleast_2d(th)
    p = pts.shape[1]
    if p != problem.n_params:
        raise ValueError(f"theta has {p} entries per point but the model has {problem.n_params} "
                         "parameters.")
    dense = method == "dense" or (method == "auto" and p <= dense_max)
    finite = np.all(np.isfinite(pts), axis=1)
    safe = np.where(finite[:, None], pts, 0.0)
    out = np.empty(len(pts))
    for lo in range(0, len(pts), batch):
        part = safe[lo:lo + batch]
        if dense:
            out[lo:lo + len(part)] = np.linalg.eigvalsh(hessian(problem, part))[:, -1]
        else:
            out[lo:lo + len(part)] = lanczos_sharpness(problem, part, iters, seed)[0]
    out[~finite] = np.nan
    return out if th.ndim == 2 else float(out[0])


def sharpness_along(traj, problem: Problem, every: int = 1, **kw):
    """(t, λ_max) at every ``every``-th saved point of one run (flow or GD) and its last."""
    if traj.is_batch:
        raise ValueError("traj is a batch: pass one member, e.g. traj[0].")
    idx = np.unique(np.r_[np.arange(0, len(traj.t), max(int(every), 1)), len(traj.t) - 1])
    return np.asarray(traj.t)[idx], sharpness(problem, np.asarray(traj.theta)[idx], **kw)


def gd_stability(problem: Problem, theta, step_size, **kw) -> dict:
    """GD's linear stability at θ (a limit, typically): λ_max, ηλ_max/2 (< 1: the normal
    directions contract, GD can stay), and the step-size bound 2/λ_max."""
    eta = positive("step_size", step_size)
    lam = sharpness(problem, theta, **kw)
    ratio = eta * np.asarray(lam) / 2.0
    return {"sharpness": lam, "eta_lambda_over_2": ratio, "stable": ratio < 1.0,
            "eta_max": 2.0 / np.asarray(lam)}


@dataclass
class EdgeOfStability:
    """Edge-of-stability summary of a sharpness trace beside 2/η (see module docstring).

    reached: ηλ_max/2 ≥ 1 − band at some point; first: the first such point (−1 if none);
    above_count: points from ``first`` on with ηλ_max/2 > 1 (GD locally unstable there, yet
    running on); hover_fraction: share of the points from ``first`` on with
    |ηλ_max/2 − 1| ≤ band; risk_increases: share of those steps at which R rose (NaN
    without a risk trace); detected: above_count ≥ ``min_points`` and hover_fraction ≥
    ``min_fraction``; start, peak, final: ηλ_max/2 at the first point, its maximum and the
    last point."""

    reached: bool
    first: int
    above_count: int
    hover_fraction: float
    risk_increases: float
    detected: bool
    start: float
    peak: float
    final: float
    band: float

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def edge_of_stability(lam, step_size, risk=None, band: float = 0.1, min_points: int = 10,
                      min_fraction: float = 0.5) -> EdgeOfStability:
    """Detect edge-of-stability behaviour in a sharpness trace ``lam`` (one value per GD
    step; ``risk`` the R trace of the same steps, optional).

    Cohen et al. (ICLR 2021): the sharpness rises to 2/η and hovers there, R falling over
    long times but not monotonically.  Here: ηλ/2 first reaches 1 − band at point
    ``first``; from there GD spends at least ``min_points`` points above 2/η (where a
    quadratic model says it must diverge) and at least ``min_fraction`` of the points in
    the band |ηλ/2 − 1| ≤ band.  A run that merely converges to a limit whose ηλ/2 is
    near 1 is *not* detected (it is never above 2/η long).  A trace that starts above the
    band and settles into it (the linear DEQ near θ₂ = 1) is detected too; ``start`` and
    ``peak`` tell the two apart."""
    eta = positive("step_size", step_size)
    r = eta * np.asarray(lam, float) / 2.0
    if r.ndim != 1 or r.size == 0:
        raise ValueError("lam must be a non-empty 1-D sharpness trace.")
    fin = np.where(np.isfinite(r), r, np.nan)
    hit = np.flatnonzero(fin >= 1.0 - band)
    first = int(hit[0]) if hit.size else -1
    peak = float(np.nanmax(fin)) if np.isfinite(fin).any() else float("nan")
    if first < 0:
        return EdgeOfStability(False, -1, 0, 0.0, float("nan"), False, float(fin[0]), peak,
                               float(fin[-1]), band)
    tail = fin[first:]
    above = int(np.sum(tail > 1.0))
    frac = float(np.mean(np.abs(tail - 1.0) <= band))
    rises = float("nan")
    if risk is not None:
        R = np.asarray(risk, float)[first:]
        rises = float(np.mean(np.diff(R) > 0)) if R.size > 1 else 0.0
    detected = bool(above >= min_points and frac >= min_fraction)
    return EdgeOfStability(True, first, above, frac, rises, detected, float(fin[0]), peak,
                           float(fin[-1]), band)


# ----------------------------------------------------------------- minimiser manifold
@dataclass
class MinimiserSpectrum:
    """The Hessian's spectrum at a point of the minimiser set.

    eigenvalues (ascending) and eigenvectors (columns); null_dim: eigenvalues with
    |λ| ≤ rtol·λ_max (the tangent directions of a Morse–Bott manifold of minimisers);
    risk_gap R(θ) − R* (NaN where R* is unknown) and grad_norm ‖∇R(θ)‖ (is θ on the set?);
    tangent_outside_null: ‖(I − P₀)T‖ for a given orthonormal tangent basis T (P₀ the
    projector on the null eigenvectors): 0 when the zero directions are exactly the
    tangent ones; normal_in_null: the largest |⟨n, v⟩| of a non-null eigenvector v with a
    tangent vector (0: the rest is normal)."""

    eigenvalues: np.ndarray
    eigenvectors: np.ndarray
    null_dim: int
    risk_gap: float
    grad_norm: float
    tangent_outside_null: float | None = None
    normal_in_tangent: float | None = None

    def to_dict(self) -> dict:
        return {"eigenvalues": self.eigenvalues.tolist(), "null_dim": self.null_dim,
                "risk_gap": self.risk_gap, "grad_norm": self.grad_norm,
                "tangent_outside_null": self.tangent_outside_null,
                "normal_in_tangent": self.normal_in_tangent}


def minimiser_spectrum(problem: Problem, theta, tangent=None, rtol: float = 1e-8,
                       max_p: int = 2000) -> MinimiserSpectrum:
    """Spectrum of ∇²R at a minimiser θ (dense, from p HVPs; p ≤ ``max_p``).

    ``tangent`` (k, p) or (p,): vectors spanning the minimiser set's tangent at θ (for the
    linear DEQ: :func:`linear_line_spectrum` gives (φ*, −1)); they are orthonormalised and
    compared with the null eigenvectors."""
    th = np.asarray(theta, float)
    if th.ndim != 1 or th.size != problem.n_params:
        raise ValueError(f"theta has shape {th.shape}: give one point of {problem.n_params} numbers.")
    if th.size > max_p:
        raise ValueError(f"p = {th.size} > max_p = {max_p}: the full spectrum forms the Hessian; "
                         "use sharpness() (Lanczos) for λ_max, or raise max_p.")
    vals, vecs = np.linalg.eigh(hessian(problem, th))
    scale = max(float(np.max(np.abs(vals))), 1e-300)
    null = np.abs(vals) <= rtol * scale
    r, g = (np.asarray(a) for a in problem.risk_and_grad(device(th)))
    gap = float(r - np.asarray(problem.risk_min))
    out = MinimiserSpectrum(vals, vecs, int(null.sum()), gap, float(np.linalg.norm(g)))
    if tangent is not None:
        T = np.atleast_2d(np.asarray(tangent, float))
        if T.shape[1] != th.size:
            raise ValueError(f"tangent has {T.shape[1]} entries per vector; give {th.size}.")
        Q = np.linalg.qr(T.T)[0]                    # (p, k) orthonormal tangent basis
        N = vecs[:, null]
        out.tangent_outside_null = float(np.linalg.norm(Q - N @ (N.T @ Q), 2)) if Q.size else 0.0
        rest = vecs[:, ~null]
        out.normal_in_tangent = float(np.max(np.abs(Q.T @ rest))) if rest.size else 0.0
    return out


def _linear_only(problem):
    if problem.model.kind != "linear":
        raise ValueError("this closed form is the linear DEQ's (paper eq. 2): the problem's model "
                         "is not LinearDEQ.")


def linear_line_spectrum(problem: Problem, alpha):
    """Closed form at the linear-DEQ minimiser (αφ*, 1 − α): (nonzero eigenvalues, ascending,
    = (2/α²) spec(Σ(I + φ*φ*ᵀ)); the point θ; the tangent (φ*, −1)).  See module docstring."""
    _linear_only(problem)
    a = float(alpha)
    if a == 0 or not np.isfinite(a):
        raise ValueError(f"alpha is {alpha!r}: give α ≠ 0 (α = 0 is the singular point (0, 1)).")
    phi = np.asarray(problem.phi_star, float)
    S = np.asarray(problem.sigma, float)
    # Σ(I + φφᵀ) is similar to the symmetric Σ^{1/2}(I + φφᵀ)Σ^{1/2}: real, ≥ 0 spectrum
    vals = np.sort(np.real(np.linalg.eigvals(S @ (np.eye(phi.size) + np.outer(phi, phi)))))
    return 2.0 * vals / a ** 2, np.r_[a * phi, 1.0 - a], np.r_[phi, -1.0]


def linear_line_sharpness(problem: Problem, alpha) -> float:
    """λ_max at (αφ*, 1 − α) on the linear DEQ's minimiser line: (2/α²)λ_max(Σ(I + φ*φ*ᵀ));
    for d = 1, 2Σ(1 + ξ²)/α²."""
    return float(linear_line_spectrum(problem, alpha)[0][-1])
