r"""Width-m DEQs: the conserved matrices, GD's exact counterpart, the distance to the
minimisers, a well-posedness bound and the local rate (the paper's open question 3).

Parameters U (m, d′), W (m, m) and, with a readout, v (m,) (:mod:`flowdeq.models.multi`);
V = I − W, Φ = V⁻¹U the end-to-end linear map of the linear model (ŷ = Φx̃, or vᵀΦx̃).

**Conserved matrices** (found by :func:`~flowdeq.analysis.conservation.find_conservation_laws`,
not assumed: for the linear model with state output its null space is exactly the
m(m+1)/2 entries of C, with a readout those of C and C′):

    C  = VVᵀ + UUᵀ = (I − W)(I − W)ᵀ + UUᵀ,       C′ = VᵀV + vvᵀ  (readout only).

Why: ŷ depends on (V, U) only through V⁻¹U, which left multiplication (V, U) → (PV, PU)
keeps, and on (V, v) only through vᵀV⁻¹, which (V, v) → (VQ, Qᵀv) keeps; for a symmetric
generator ξ these symmetries are gradients of ½tr(ξC) and ½tr(ξC′), and a symmetry that is
a gradient is a conservation law of every gradient flow.  For m = 1, C is Thm 3.1's
‖θ₁‖² + (θ₂ − 1)².

**GD's exact counterpart** (generalising eq. 8): with G_W = ∂R/∂W, G_U = ∂R/∂U, G_v = ∂R/∂v,
the first-order change of C along a step vanishes (that is the conservation law), so

    C(s+1) = C(s) + η²(G_W G_Wᵀ + G_U G_Uᵀ),     C′(s+1) = C′(s) + η²(G_WᵀG_W + G_v G_vᵀ),

exactly: C and C′ are non-decreasing (in the Loewner order) along GD.

**A well-posedness bound (flowdeq's own result, not in the paper).**  Since U = VΦ,

    C = V(I + ΦΦᵀ)Vᵀ,  so for the left singular vector u of σ_min(V):
    λ_min(C) ≤ uᵀCu ≤ (1 + ‖Φ‖₂²)·σ_min(V)²,  i.e.  σ_min(I − W)² ≥ λ_min(C)/(1 + ‖Φ‖₂²).

Along the flow C(t) = C₀ and R(t) ≤ R(0), and with state output R = tr((Φ − Φ*)Σ(Φ − Φ*)ᵀ)
+ R* (Φ* the least-squares map), so for Σ ≻ 0, ‖Φ(t)‖₂ ≤ B := ‖Φ*‖₂ + √((R(0) − R*)/λ_min(Σ))
and

    σ_min(I − W(t))² ≥ λ_min(C₀) / (1 + B²) > 0     for all t ≥ 0.

C₀ ⪰ V₀V₀ᵀ ≻ 0 at every well-posed start, so the flow of the linear width-m DEQ never
reaches det(I − W) = 0, and tr C = ‖V‖²_F + ‖U‖²_F conserved keeps θ bounded: the flow
exists for all time (Lemma 3.2 generalised).  For GD, C(s) ⪰ C₀ (above), so the same
bound holds at every iterate while R(s) ≤ R(0) (e.g. under the descent lemma) — at
iterates only: a step can still jump across the singular set (GD's ``crossed``).
Checked by :func:`well_posedness_bound` on flows, GD runs and an adversarial path that
keeps R fixed while driving W to the singular set (tests/test_width.py).

**The limit.**  At a minimiser Φ = Φ*, so the limit V∞ satisfies V∞(I + Φ*Φ*ᵀ)V∞ᵀ = C₀:
V∞ = C₀^{1/2}Q(I + Φ*Φ*ᵀ)^{−1/2} for an orthogonal Q (with det Q of the start's side).  For
m = 1 this fixes the limit (Thm 3.3, corrected: docs/errata.md E2); for m ≥ 2 the
conserved quantity leaves an O(m)-family of dimension m(m−1)/2 and the limit depends on
more of θ₀ than C₀ (:func:`limit_residual`, the study ``multi-neuron``).

**Distance to the minimisers** (linear, state output, Σ ≻ 0): the minimisers are
{U = VΦ*}; the nearest, row by row, has V′ = (V + UΦ*ᵀ)(I + Φ*Φ*ᵀ)⁻¹ (a linear least
squares problem), so dist² = ‖V − V′‖²_F + ‖U − V′Φ*‖²_F.

**Local rate**: near a minimiser R − R* ≈ ½δᵀHδ with δ′ = −Hδ normal to the minimiser
manifold, so R − R* decays like e^{−2λ⁺t} with λ⁺ the smallest positive eigenvalue of the
Hessian H = ∇²R at the limit (GD: factor (1 − ηλ⁺)² per step) — as for m = 1.
"""
from __future__ import annotations

import equinox as eqx
import jax
import numpy as np

from .._validate import device
from ..problem import Problem


@eqx.filter_jit
def _grads(problem, theta):
    # compiled once per problem shape: an eager vmap re-traced on every call (1–2 s each)
    return jax.vmap(problem.grad)(theta)


@eqx.filter_jit
def _risks(problem, theta):
    return jax.vmap(problem.risk)(theta)


@eqx.filter_jit
def _hessian(problem, theta):
    return jax.hessian(problem.risk)(theta)

__all__ = ["parameters", "end_to_end", "conserved_matrices", "matrix_drift",
           "gd_matrix_identity", "distance_to_minimisers", "well_posedness_bound",
           "limit_residual", "local_rate", "phi_star"]


def parameters(model, theta):
    """(U, W, v or None) as NumPy arrays (..., m, d′), (..., m, m), (..., m) from flat θ."""
    p = model.unravel(np.asarray(theta, float))
    if "U" not in p or "W" not in p:
        raise ValueError(f"the model's parameters are {sorted(p)}: the width-m analysis needs "
                         "U and W (MultiLinearDEQ / MultiNeuronDEQ).")
    return np.asarray(p["U"]), np.asarray(p["W"]), (np.asarray(p["v"]) if "v" in p else None)


def _linear(model) -> bool:
    return model.describe().get("kind") == "multi-linear"


def _state(model) -> bool:
    return model.describe().get("output", "state") == "state"


def end_to_end(model, theta) -> np.ndarray:
    """Φ = (I − W)⁻¹U (..., m, d′): the linear model's end-to-end map."""
    U, W, _ = parameters(model, theta)
    V = np.eye(W.shape[-1]) - W
    return np.linalg.solve(V, U)


def phi_star(problem: Problem) -> np.ndarray:
    """Φ* (k, d′): the least-squares linear map of the problem's data (k outputs)."""
    ps = np.asarray(problem.phi_star, float)
    return ps.reshape(ps.shape[0], -1).T


def conserved_matrices(model, theta) -> dict:
    """{"C": VVᵀ + UUᵀ} and, with a readout, {"C'": VᵀV + vvᵀ}, each (..., m, m)."""
    U, W, v = parameters(model, theta)
    V = np.eye(W.shape[-1]) - W
    out = {"C": V @ np.swapaxes(V, -1, -2) + U @ np.swapaxes(U, -1, -2)}
    if v is not None:
        out["C'"] = np.swapaxes(V, -1, -2) @ V + v[..., :, None] * v[..., None, :]
    return out


def matrix_drift(traj, model) -> dict:
    """Along one run: ‖C(t) − C(0)‖_F / ‖C(0)‖_F for each conserved matrix (the series and
    its maximum).  Zero to the integration error for the linear flow; for a nonlinear DEQ
    it measures how much of the law survives."""
    th = np.asarray(traj.theta)
    out = {}
    for name, C in conserved_matrices(model, th).items():
        d = np.linalg.norm(C - C[0], axis=(-2, -1)) / np.linalg.norm(C[0])
        out[name] = {"series": d, "max": float(np.max(d))}
    return out


def gd_matrix_identity(traj, problem: Problem) -> dict:
    """GD's exact counterpart of the conserved matrices for one GD member:
    C(s+1) − C(s) − η²(G_W G_Wᵀ + G_U G_Uᵀ) and C′(s+1) − C′(s) − η²(G_WᵀG_W + G_v G_vᵀ),
    each relative to ε-scale ‖C(s)‖_F (so ~1e-16 where the identity holds), with the gradients
    recomputed at the iterates."""
    model = problem.model
    th = np.asarray(traj.theta)
    eta = float(np.asarray(traj.per_member.get("step_size", traj.settings.get("step_size"))).ravel()[0])
    g = np.asarray(_grads(problem, device(th[:-1])))
    GU, GW, Gv = parameters(model, g)
    Cs = conserved_matrices(model, th)
    T = lambda a: np.swapaxes(a, -1, -2)
    pred = {"C": eta ** 2 * (GW @ T(GW) + GU @ T(GU))}
    if Gv is not None:
        pred["C'"] = eta ** 2 * (T(GW) @ GW + Gv[..., :, None] * Gv[..., None, :])
    out = {}
    for name, C in Cs.items():
        dC = C[1:] - C[:-1]
        res = np.linalg.norm(dC - pred[name], axis=(-2, -1)) / np.linalg.norm(C[:-1], axis=(-2, -1))
        lam = np.linalg.eigvalsh(C)[..., 0]
        out[name] = {"residual": res, "max_residual": float(np.max(res)) if res.size else 0.0,
                     "growth": float(np.linalg.norm(C[-1] - C[0]) / np.linalg.norm(C[0])),
                     "lambda_min_nondecreasing": bool(np.all(np.diff(lam) >= -1e-13 * np.abs(lam[:-1]))),
                     "eta": eta}
    return out


def distance_to_minimisers(problem: Problem, theta) -> np.ndarray:
    r"""dist(θ, {U = (I − W)Φ*}) (module docstring) for the linear width-m DEQ with state
    output; θ (..., p) → (...)."""
    model = problem.model
    if not (_linear(model) and _state(model)):
        raise ValueError("distance_to_minimisers has a closed form for the linear width-m DEQ "
                         "with state output only (MultiLinearDEQ(..., output='state')); use "
                         "R − R* for other models.")
    U, W, _ = parameters(model, theta)
    V = np.eye(W.shape[-1]) - W
    P = phi_star(problem)                                        # (m, d′)
    A = np.eye(P.shape[0]) + P @ P.T
    Vp = np.linalg.solve(A, np.swapaxes(V + U @ P.T, -1, -2))   # A symmetric: V′ = (V + UΦ*ᵀ)A⁻¹
    Vp = np.swapaxes(Vp, -1, -2)
    return np.sqrt(np.sum((V - Vp) ** 2, axis=(-2, -1)) + np.sum((U - Vp @ P) ** 2, axis=(-2, -1)))


def well_posedness_bound(problem: Problem, theta, risk=None) -> dict:
    r"""σ_min(I − W)² along a path θ (n, p) against the bounds of the module docstring:

    * ``pointwise``  λ_min(C(θ₀)) / (1 + ‖Φ(θ)‖₂²) — needs only C(θ) = C(θ₀);
    * ``a_priori``   λ_min(C(θ₀)) / (1 + B²), B = ‖Φ*‖₂ + √((R(θ₀) − R*)/λ_min(Σ)) — needs
      C conserved and R(θ) ≤ R(θ₀) (linear model, state output, Σ ≻ 0).

    ``risk`` (n,) are R along the path (recomputed if None).  Returns the series and
    ``holds_pointwise``/``holds_a_priori`` (with 1e-12 relative slack for rounding), the
    minimum ratios σ_min²/bound, and ``conserved`` = max ‖C − C₀‖/‖C₀‖ on the path.  The
    bounds hold along any path on which C is constant; a path that changes C can break them
    (tests/test_width.py drives one into the singular set)."""
    model = problem.model
    th = np.atleast_2d(np.asarray(theta, float))
    U, W, _ = parameters(model, th)
    V = np.eye(W.shape[-1]) - W
    smin2 = np.linalg.svd(V, compute_uv=False)[:, -1] ** 2
    C = conserved_matrices(model, th)["C"]
    lam0 = float(np.linalg.eigvalsh(C[0])[0])
    phi = np.linalg.solve(V, U)
    nphi = np.linalg.norm(phi, ord=2, axis=(-2, -1))
    pointwise = lam0 / (1.0 + nphi ** 2)
    out = {"sigma_min2": smin2, "pointwise": pointwise, "lambda_min_C0": lam0,
           "conserved": float(np.max(np.linalg.norm(C - C[0], axis=(-2, -1)) / np.linalg.norm(C[0]))),
           "holds_pointwise": bool(np.all(smin2 >= pointwise * (1 - 1e-12))),
           "min_ratio_pointwise": float(np.min(smin2 / pointwise))}
    if _linear(model) and _state(model):
        if risk is None:
            risk = np.asarray(_risks(problem, device(th)))
        lam_sigma = float(np.linalg.eigvalsh(np.asarray(problem.sigma))[0])
        P = phi_star(problem)
        gap0 = max(float(risk[0]) - float(problem.risk_star), 0.0)
        B = np.linalg.norm(P, 2) + np.sqrt(gap0 / lam_sigma) if lam_sigma > 0 else np.inf
        apriori = lam0 / (1.0 + B ** 2)
        out.update({"a_priori": apriori, "B": float(B), "phi_norm_max": float(np.max(nphi)),
                    "holds_B": bool(np.all(nphi <= B * (1 + 1e-12))),
                    "holds_a_priori": bool(np.all(smin2 >= apriori * (1 - 1e-12))),
                    "min_ratio_a_priori": float(np.min(smin2 / apriori)),
                    "risk_monotone": bool(np.all(np.diff(risk) <= 1e-12 * max(abs(risk[0]), 1.0)))})
    return out


def limit_residual(problem: Problem, theta_final, C0) -> float:
    r"""‖V(I + Φ*Φ*ᵀ)Vᵀ − C₀‖_F / ‖C₀‖_F at θ_final: zero where θ_final is a minimiser on
    the start's conserved level set (linear model, state output)."""
    U, W, _ = parameters(problem.model, theta_final)
    V = np.eye(W.shape[-1]) - W
    P = phi_star(problem)
    M = V @ (np.eye(P.shape[0]) + P @ P.T) @ V.T
    return float(np.linalg.norm(M - C0) / np.linalg.norm(C0))


def local_rate(problem: Problem, theta, rel_tol: float = 1e-7) -> dict:
    r"""The Hessian ∇²R at θ (a limit point): its smallest eigenvalue above ``rel_tol``·λ_max
    (λ⁺), the number of (near-)zero eigenvalues (the dimension of the minimiser manifold
    through θ), and the predicted asymptotic rate 2λ⁺ of R − R* along the flow."""
    H = np.asarray(_hessian(problem, device(theta)))
    lam = np.linalg.eigvalsh(0.5 * (H + H.T))
    top = float(np.max(np.abs(lam)))
    pos = lam[lam > rel_tol * top]
    lam_plus = float(pos[0]) if pos.size else np.nan
    return {"lambda_plus": lam_plus, "lambda_max": float(lam[-1]),
            "zero_modes": int(np.sum(np.abs(lam) <= rel_tol * top)),
            "negative": int(np.sum(lam < -rel_tol * top)), "flow_rate_R": 2 * lam_plus}
