r"""Section 3.1 of arXiv 2511.16976 (the linear DEQ, eq. 2) as checks along a flow or a GD run.

Notation: Σ = E[X̃X̃ᵀ] with λ_min, λ_max, κ = λ_max/λ_min; φ = θ₁/(1 − θ₂); v = φ − ξ;
w(θ) = ‖θ₁‖² + (θ₂ − 1)², w₀ = w(θ(0)) = r₀²; R − R* = vᵀΣv (R* the least-squares risk).

=========== =================================================================  =====================
statement   printed form                                                       corrected (errata)
=========== =================================================================  =====================
Thm 3.1     w(θ(t)) = w₀ for all t (flow)                                       – (correct)
Lemma 3.2   θ₂(t) ≠ 1 for all t                                                 explicit: |1 − θ₂(t)| ≥ β₀
                                                                                = √(w₀/(1 + (c₀+‖ξ‖)²)) (E10)
Thm 3.3     lim θ = (aξ, 1 − a), a = sign(θ₂(0))‖θ(0)‖/√(‖ξ‖²+1),             a = sign(1 − θ₂(0))·r₀/√(‖ξ‖²+1) (E2)
            sign(0) = +1 (the paper's convention, Sec. 1.3)
Thm 3.4     ‖φ−ξ‖² ≤ ‖φ₀−ξ‖² e^{−4λ_min t/β²}, β = min_t|1−θ₂(t)|             R−R* ≤ (R₀−R*)e^{−4λ_min t/r₀²},
                                                                                ‖φ−ξ‖² ≤ κ‖φ₀−ξ‖²e^{…} (E3)
Lemma 3.7   θ_s ∈ Θ = {β ≤ |1−θ₂| ≤ 2√w₀, ‖θ₁‖ ≤ 2√w₀} if η ≤ min{1/L_Θ,    step condition η ≤ min{1/L_Θ,
            β/2, β²/(4R₀)}; identity (8) w(s+1) = w(s) + η²‖∇R‖²               β/(2G_Θ), β²/(4R₀)} (E5)
Thm 3.6     ‖φ_s−ξ‖² ≤ κ(1 − η/(4κw₀))^s‖φ₀−ξ‖²; PL step                      rate 1 − ηλ_min/(2w₀); PL step
            ‖∇R‖² ≥ (2/α²)λ_min‖v‖², α = 2√w₀                                  ‖∇R‖² ≥ 4λ_min(R−R*)/(1−θ₂)² (E4)
=========== =================================================================  =====================

Flows are checked continuously (:class:`~flowdeq.analysis.continuous.FlowPath`: every step
end, a screen between them, refinement of the worst steps); GD at every iterate.

L_Θ is the Lipschitz constant of ∇R on θ₀'s component of Θ + B̄(β/2) — a convex set, so it
is sup‖∇²R‖₂ there, maximised over the set itself (its exact boundary: Θ's cylinder widened
by the ball, with rounded edges) by a dense grid in (‖θ₁‖, |1−θ₂|) × directions of θ₁ and
projected Nelder–Mead on the closed-form Hessian.  (flowdeq 0.2 sampled a larger box whose
corners are outside the set, so its L_Θ was too large and its η₀ conservative.)  G_Θ =
sup_Θ‖∇R‖ the same way.
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import minimize

from ...models.paper import LinearDEQ
from ..continuous import DescentPath, FlowPath
from ..diagnostics import predicted_limit, printed_limit
from ._common import GD_BAND, bound_check, flow_band, value_check
from ._verdict import Check, decide

__all__ = ["linear_constants", "lemma37_constants", "lemma37_step_bound", "printed_limit",
           "thm31", "lemma32", "thm33", "thm34", "lemma37", "thm36", "as_flow_path",
           "as_descent_path"]

CONSERVATION_TOL = 1e-7   # Thm 3.1: relative drift of w allowed to a flow solved at rtol ≤ 1e-10


_split = LinearDEQ.split   # (θ₁, θ₂) of flat θ: the model's layout, not a position


def _w(theta):
    t1, t2 = LinearDEQ.split(np.asarray(theta, float))
    return np.sum(t1 ** 2, axis=-1) + (t2 - 1.0) ** 2


def _phi(theta):
    t1, t2 = LinearDEQ.split(np.asarray(theta, float))
    return t1 / (1.0 - t2[..., None])


def _need_linear(problem, what):
    if problem.model.kind != "linear":
        raise ValueError(f"{what} needs a linear-DEQ problem (paper eq. 2).")


def as_flow_path(problem, traj):
    return FlowPath.of(problem, traj)


def as_descent_path(problem, traj, step_size=None):
    return traj if isinstance(traj, DescentPath) else DescentPath(problem, traj, step_size)


# ====================================================================== constants
def linear_constants(problem, theta0) -> dict:
    r"""Σ-spectrum and the sphere/β constants of Thms 3.3–3.6 at θ₀ (linear DEQ).

    λ_min, λ_max, κ of Σ = E[X̃X̃ᵀ]; r0 = √w₀; R0_minus_Rstar = R(θ₀) − R*;
    c0 = √((R(θ₀) − R*)/λ_min); beta_lemma37 = min{|1 − θ₂(0)|, √w₀/(√2(c₀ + ‖ξ‖ + 1))}
    (Lemma 3.7); beta0_E10 = √(w₀/(1 + (c₀ + ‖ξ‖)²)) (the explicit Lemma 3.2 constant, E10).
    """
    _need_linear(problem, "linear_constants")
    th = np.asarray(theta0, float)
    S = np.asarray(problem.sigma)
    ev = np.linalg.eigvalsh(S)
    lmin, lmax = float(ev[0]), float(ev[-1])
    if lmin <= 0:
        raise ValueError(f"E[XXᵀ] is singular (λ_min = {lmin:.3g}): Thms 3.3–3.6 assume Σ ≻ 0; "
                         "use data whose second-moment matrix is positive definite.")
    xi = np.asarray(problem.phi_star, float)
    w0 = float(_w(th))
    v = _phi(th) - xi
    R0 = float(v @ S @ v)             # R(θ₀) − R*, in closed form
    c0 = np.sqrt(max(R0, 0.0) / lmin)
    nx = float(np.linalg.norm(xi))
    return {"lambda_min": lmin, "lambda_max": lmax, "kappa": lmax / lmin, "w0": w0,
            "r0": float(np.sqrt(w0)), "R0_minus_Rstar": R0, "c0": float(c0),
            "beta_lemma37": float(min(abs(1 - _split(th)[1]), np.sqrt(w0) / (np.sqrt(2) * (c0 + nx + 1)))),
            "beta0_E10": float(np.sqrt(w0 / (1 + (c0 + nx) ** 2))), "xi": xi.tolist(),
            "side": float(np.sign(1 - _split(th)[1]))}


def _grad_hess(S, xi, th):
    """∇R and ∇²R of R − R* = vᵀΣv at the rows of th (closed forms; E1 for the gradient)."""
    th = np.atleast_2d(th)
    t1, t2 = _split(th)
    c = 1.0 - t2
    phi = t1 / c[:, None]
    v = phi - xi
    Sv, Sp = v @ S, phi @ S
    g = (2.0 / c)[:, None] * np.concatenate([Sv, np.sum(phi * Sv, 1, keepdims=True)], 1)
    n, d = phi.shape
    H = np.empty((n, d + 1, d + 1))
    k = (2.0 / c ** 2)[:, None, None]
    H[:, :d, :d] = k * S
    off = (2.0 / c ** 2)[:, None] * (Sv + Sp)
    H[:, :d, d] = off
    H[:, d, :d] = off
    H[:, d, d] = (2.0 / c ** 2) * (2 * np.sum(phi * Sv, 1) + np.sum(phi * Sp, 1))
    return g, H


def _hess_norm(S, xi, th):
    H = _grad_hess(S, xi, th)[1]
    return np.max(np.abs(np.linalg.eigvalsh(H)), axis=-1)


def _grad_norm(S, xi, th):
    return np.linalg.norm(_grad_hess(S, xi, th)[0], axis=-1)


def _set_points(d, side, R, lo, hi, pad, rng, xi):
    """Candidates in θ₀'s component of Θ + B̄(pad): Θ = {lo ≤ side·(1−θ₂) ≤ hi, ‖θ₁‖ ≤ R}.
    In (ρ = ‖θ₁‖, u = side·(1−θ₂)) the set is the rectangle [0, R] × [lo, hi] widened by
    pad with rounded corners; θ₁ = ρω over directions ω."""
    n = 81 if d == 1 else 41        # d > 1: fewer (ρ, u) points, times 64+ directions
    rho, u = np.meshgrid(np.linspace(0, R + pad, n), np.linspace(lo - pad, hi + pad, n))
    rho, u = rho.ravel(), u.ravel()
    dr = np.maximum(rho - R, 0.0)
    du = np.maximum(np.maximum(lo - u, u - hi), 0.0)
    keep = np.hypot(dr, du) <= pad * (1 + 1e-12)
    a = np.linspace(0, np.pi / 2, 60)
    ring = [(R + pad * np.cos(a), lo - pad * np.sin(a)), (R + pad * np.cos(a), hi + pad * np.sin(a)),
            (np.full(40, R + pad), np.linspace(lo, hi, 40)),
            (np.linspace(0, R, 40), np.full(40, lo - pad)), (np.linspace(0, R, 40), np.full(40, hi + pad))]
    rho = np.concatenate([rho[keep]] + [r for r, _ in ring])
    u = np.concatenate([u[keep]] + [q for _, q in ring])
    if d == 1:
        dirs = np.array([[1.0], [-1.0]])
    else:
        dirs = rng.normal(size=(64, d))
        extra = np.concatenate([np.eye(d), -np.eye(d)])
        if np.linalg.norm(xi) > 0:
            extra = np.concatenate([extra, [xi / np.linalg.norm(xi)], [-xi / np.linalg.norm(xi)]])
        dirs = np.concatenate([dirs, extra])
        dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    t1 = (rho[:, None, None] * dirs[None]).reshape(-1, d)
    c = np.repeat(side * u, len(dirs))
    return np.concatenate([t1, (1.0 - c)[:, None]], axis=1)


def _projector(side, R, lo, hi, pad):
    def proj(x):
        x = np.array(x, float)
        t1, t2 = _split(x)
        c = side * (1.0 - t2)
        n = np.linalg.norm(t1)
        p1 = t1 * min(1.0, R / n) if n > 0 else t1
        pc = np.clip(c, lo, hi)
        p = np.concatenate([p1, [1.0 - side * pc]])
        dist = np.linalg.norm(x - p)
        return p + (x - p) * (pad / dist) if dist > pad else x
    return proj


def _maximise(f, pts, proj, refine=3):
    vals = f(pts)
    vals = np.where(np.isfinite(vals), vals, -np.inf)
    order = np.argsort(-vals)[:refine]
    best_v, best_x = float(vals[order[0]]), pts[order[0]]
    for i in order:
        res = minimize(lambda x: -float(f(proj(x)[None])[0]), pts[i], method="Nelder-Mead",
                       options={"xatol": 1e-12, "fatol": 1e-14 * max(1.0, abs(best_v)),
                                "maxiter": 1000})
        if -res.fun > best_v:
            best_v, best_x = float(-res.fun), proj(res.x)
    return best_v, np.asarray(best_x)


def lemma37_constants(problem, theta0, seed: int = 0) -> dict:
    r"""Lemma 3.7's constants at θ₀ and both step bounds (see the module docstring).

    beta, w0, R0 (= R(θ₀) − R*), L_Theta = sup‖∇²R‖₂ over θ₀'s component of Θ + B̄(β/2)
    (with its argmax), G_Theta = sup_Θ‖∇R‖, eta0_printed = min{1/L_Θ, β/2, β²/(4R₀)}
    (as printed: dimensionally inconsistent) and eta0 = min{1/L_Θ, β/(2G_Θ), β²/(4R₀)} (E5).
    """
    _need_linear(problem, "lemma37_constants")
    th0 = np.asarray(theta0, float)
    c = linear_constants(problem, th0)
    S, xi = np.asarray(problem.sigma), np.asarray(problem.phi_star, float)
    beta, w0, R0, side = c["beta_lemma37"], c["w0"], c["R0_minus_Rstar"], c["side"]
    R = 2 * np.sqrt(w0)
    rng = np.random.default_rng(seed)
    d = th0.size - 1
    pts = _set_points(d, side, R, beta, R, beta / 2, rng, xi)
    L, argL = _maximise(lambda p: _hess_norm(S, xi, p), pts, _projector(side, R, beta, R, beta / 2))
    pts0 = _set_points(d, side, R, beta, R, 0.0, rng, xi)
    G, argG = _maximise(lambda p: _grad_norm(S, xi, p), pts0, _projector(side, R, beta, R, 0.0))
    third = beta ** 2 / (4 * R0) if R0 > 0 else np.inf
    return dict(c, beta=beta, L_Theta=L, L_Theta_argmax=argL.tolist(), G_Theta=G,
                G_Theta_argmax=argG.tolist(), eta0_printed=float(min(1 / L, beta / 2, third)),
                eta0=float(min(1 / L, beta / (2 * G), third)),
                L_method="grid in (‖θ₁‖, |1−θ₂|) × θ₁-directions over the exact set, then "
                         "projected Nelder–Mead on the closed-form Hessian")


def lemma37_step_bound(problem, theta0, samples=None, seed: int = 0) -> dict:
    """η₀ of Lemma 3.7 with the E5 repair (0.2 name; ``samples`` is no longer used: the
    suprema are maximised over the set, see :func:`lemma37_constants`)."""
    c = lemma37_constants(problem, theta0, seed)
    return {k: c[k] for k in ("beta", "L_Theta", "G_Theta", "eta0", "eta0_printed")}


# ================================================================ flow statements
def _hyp(c, th0):
    return {"Sigma_pd": c["lambda_min"] > 0, "theta2_0_ne_1": bool(_split(th0)[1] != 1.0)}


def thm31(problem, traj, *, start="config") -> Check:
    r"""Thm 3.1: w(θ(t)) = ‖θ₁‖² + (θ₂ − 1)² is conserved — sup_t |w(t) − w₀|/w₀ along
    the whole solution ≤ CONSERVATION_TOL (1e-7)."""
    _need_linear(problem, "thm31")
    path = as_flow_path(problem, traj)
    w0 = float(_w(path.theta[0]))
    ext = path.sup(lambda t, th: np.abs(_w(th) - w0) / w0)
    hyp = {"X_in_L2": bool(np.isfinite(float(np.trace(np.asarray(problem.sigma)))))}
    return value_check(None, theorem="Thm 3.1", form="printed",
                       quantity="|w(t) − w₀|/w₀ ≤ 1e-7 (w conserved)", value=ext.value,
                       tol=CONSERVATION_TOL, hyp=hyp, constants={"w0": w0}, errata="verified",
                       at=ext.t, n_points=ext.n_points, resolution=ext.resolution, start=start,
                       theta0=path.theta[0], kind="flow", complete=path.complete,
                       incomplete=path.incomplete, what="max drift/1e-7")


def lemma32(problem, traj, consts=None, *, start="config") -> list[Check]:
    r"""Lemma 3.2 printed (θ₂(t) ≠ 1: the flow never reaches the singular hyperplane) and
    with the explicit β₀ of E10: min_t |1 − θ₂(t)| ≥ β₀, checked along the whole solution."""
    _need_linear(problem, "lemma32")
    path = as_flow_path(problem, traj)
    th0 = path.theta[0]
    c = consts or linear_constants(problem, th0)
    hyp = _hyp(c, th0)
    ext = path.sup(lambda t, th: -np.abs(1.0 - _split(th)[1]), skip_start=False)
    gap = -ext.value
    eps = float(path.traj.settings.get("singular_eps", 1e-6))
    reached = path.outcome in ("ill_posed", "nonfinite")
    out = []
    v, r, met = decide(hyp, np.inf if reached else eps / max(gap, 1e-300), band=0.0,
                       n_points=ext.n_points, complete=path.complete,
                       incomplete=path.incomplete, min_points=1,
                       what=f"min|1−θ₂| = {gap:.4g} vs ε ={eps:.1g}; ratio")
    out.append(Check("Lemma 3.2", "printed", "θ₂(t) ≠ 1 (min_t |1 − θ₂| > ε)", hyp, v, r, met,
                     eps / max(gap, 1e-300), ext.t, ext.resolution, None, None,
                     dict(min_margin=gap), "verified", start, list(th0), kind="flow"))
    b0 = c["beta0_E10"]
    v, r, met = decide(hyp, b0 / max(gap, 1e-300), band=flow_band(path), n_points=ext.n_points,
                       complete=path.complete, incomplete=path.incomplete,
                       what=f"β₀/min|1−θ₂| ({b0:.4g}/{gap:.4g})")
    out.append(Check("Lemma 3.2", "explicit", "min_t |1 − θ₂(t)| ≥ β₀ (E10)", hyp, v, r, met,
                     b0 / max(gap, 1e-300), ext.t, ext.resolution, None, None,
                     dict(beta0_E10=b0, min_margin=gap, c0=c["c0"]), "E10", start, list(th0),
                     kind="flow"))
    return out


def _limit_tolerance(problem, th_end, lim):
    """How far the flow may still move from θ_end: ‖∇R‖/μ₊, μ₊ the smallest non-zero
    eigenvalue of ∇²R(θ_end) (the minimiser line is radial to the sphere, so its zero
    eigenvalue is not a direction the flow takes)."""
    S, xi = np.asarray(problem.sigma), np.asarray(problem.phi_star, float)
    g, H = _grad_hess(S, xi, th_end)
    ev = np.sort(np.abs(np.linalg.eigvalsh(H[0])))
    mu = ev[1] if ev.size > 1 else ev[0]
    return float(np.linalg.norm(g[0]) / mu) if mu > 0 else np.inf


def thm33(problem, traj, tol: float = 1e-6, *, start="config") -> list[Check]:
    r"""Thm 3.3: the flow's limit against the printed (sign(0) = +1) and corrected (E2)
    limits.  Only a *converged* flow can decide: the last point must be within
    δ = ‖∇R‖/μ₊ of its limit; the claim holds when ‖θ(t_end) − limit‖ ≤ max(tol·scale,
    100δ).  A run that has not converged is inconclusive, never violated."""
    _need_linear(problem, "thm33")
    path = as_flow_path(problem, traj)
    th = path.theta
    c = linear_constants(problem, th[0])
    hyp = _hyp(c, th[0])
    converged = path.outcome == "converged"
    out = []
    for form, lim in (("printed", printed_limit(problem, th[0])),
                      ("corrected", predicted_limit(problem, th[0]))):
        e = float(np.linalg.norm(th[-1] - lim))
        delta = _limit_tolerance(problem, th[-1], lim)
        allowed = max(tol * max(1.0, float(np.linalg.norm(lim))), 100 * delta)
        v, r, met = decide(hyp, e / allowed, band=0.0, n_points=len(th), complete=converged,
                           incomplete=f"the flow did not converge ({path.outcome} at "
                                      f"t = {path.t_end:.4g}, still up to {delta:.2g} from its "
                                      "limit)",
                           what=f"‖θ(t_end) − limit‖ = {e:.3g}; /allowed")
        if not converged:
            v, met = "inconclusive", None
            r = (f"the flow did not converge ({path.outcome} at t = {path.t_end:.4g}); "
                 f"‖θ(t_end) − limit‖ = {e:.3g} says nothing about the limit")
        out.append(Check("Thm 3.3", form, "lim θ(t) = (aξ, 1 − a)", hyp, v, r, met,
                         e / allowed, path.t_end,
                         f"last point of the flow ({path.outcome}); allowed distance "
                         f"{allowed:.2g} (δ = ‖∇R‖/μ₊ = {delta:.2g})", None, None,
                         dict(c, **{f"limit_{form}": lim.tolist(), f"limit_error_{form}": e,
                                    "converged": converged}), "E2", start, list(th[0]),
                         f"limit error {e:.3g}", "flow",
                         np.asarray(path.t), np.linalg.norm(th - lim, axis=1), None))
    return out


def thm34(problem, traj, *, start="config") -> list[Check]:
    r"""Thm 3.4 along the whole flow: printed with β = min_t|1 − θ₂(t)| (the most favourable
    admissible β, found continuously — a violation refutes every β) and the two corrected
    bounds of E3."""
    _need_linear(problem, "thm34")
    path = as_flow_path(problem, traj)
    th0 = path.theta[0]
    c = linear_constants(problem, th0)
    S, xi = np.asarray(problem.sigma), np.asarray(problem.phi_star, float)
    lmin, r0sq, kappa = c["lambda_min"], c["w0"], c["kappa"]
    beta = -path.sup(lambda t, th: -np.abs(1.0 - _split(th)[1]), skip_start=False).value
    hyp = _hyp(c, th0)
    t0 = float(path.t[0])
    v2 = lambda t, th: np.sum((_phi(th) - xi) ** 2, axis=-1)
    Rm = lambda t, th: np.einsum("ni,ij,nj->n", _phi(th) - xi, S, _phi(th) - xi)
    q0v, q0R = float(v2(None, th0[None])[0]), float(Rm(None, th0[None])[0])
    specs = [("printed", "‖φ−ξ‖² ≤ ‖φ₀−ξ‖² e^{−4λ_min t/β²}", v2,
              lambda t: q0v * np.exp(-4 * lmin * (t - t0) / beta ** 2), 4 * lmin / beta ** 2,
              {"beta_thm34": beta}),
             ("corrected", "R−R* ≤ (R₀−R*) e^{−4λ_min t/r₀²}", Rm,
              lambda t: q0R * np.exp(-4 * lmin * (t - t0) / r0sq), 4 * lmin / r0sq, {}),
             ("corrected", "‖φ−ξ‖² ≤ κ‖φ₀−ξ‖² e^{−4λ_min t/r₀²}", v2,
              lambda t: kappa * q0v * np.exp(-4 * lmin * (t - t0) / r0sq), 4 * lmin / r0sq, {})]
    return [bound_check(path, theorem="Thm 3.4", form=form, quantity=qn, q=q, bound=b, hyp=hyp,
                        constants=dict(c, **extra), errata="E3", bound_rate=rate, start=start)
            for form, qn, q, b, rate, extra in specs]


# ================================================================== GD statements
def lemma37(problem, traj, consts=None, step_size=None, *, start="config") -> list[Check]:
    r"""Lemma 3.7: GD stays in Θ = {β ≤ |1−θ₂| ≤ 2√w₀, ‖θ₁‖ ≤ 2√w₀} (every iterate), under
    the printed step condition and under the E5 one; and identity (8) of its proof,
    w(s+1) = w(s) + η²‖∇R(θ_s)‖², at every step (residual relative to w(s), tol 1e-12)."""
    _need_linear(problem, "lemma37")
    path = as_descent_path(problem, traj, step_size)
    th0, eta = path.theta[0], path.eta
    c = consts or lemma37_constants(problem, th0)
    beta, rad = c["beta"], 2 * np.sqrt(c["w0"])

    def outside(t, th):
        t1, t2 = _split(th)
        m = np.abs(1.0 - t2)
        return np.maximum.reduce([beta / m, m / rad, np.linalg.norm(t1, axis=1) / rad])

    ext = path.sup(outside, skip_start=False)
    out = []
    for form, bound, err in (("printed", c["eta0_printed"], "verified"),
                             ("corrected", c["eta0"], "E5")):
        hyp = {"Sigma_pd": c["lambda_min"] > 0, f"eta_le_eta0_{form}": bool(eta <= bound)}
        v, r, met = decide(hyp, ext.value, band=GD_BAND, n_points=ext.n_points + 1,
                           complete=path.complete, incomplete=path.incomplete, min_points=1,
                           what="max over iterates of the Θ-constraint ratios")
        out.append(Check("Lemma 3.7", form, "θ_s ∈ Θ for all s (invariant set)", hyp, v, r, met,
                         ext.value, ext.t, ext.resolution, None, None,
                         dict(c, eta=eta), err, start, list(th0), kind="descent"))
    w = _w(path.theta)
    g2 = path.grad_norm ** 2
    res = np.abs(w[1:] - w[:-1] - eta ** 2 * g2[:-1]) / w[:-1] if len(w) > 1 else np.array([])
    i = int(np.argmax(res)) if res.size else 0
    out.append(value_check(None, theorem="Lemma 3.7", form="proof step",
                           quantity="(8) w(s+1) = w(s) + η²‖∇R(θ_s)‖²",
                           value=float(res[i]) if res.size else None, tol=1e-12,
                           hyp={"eta_pos": eta > 0}, constants={"eta": eta}, errata="verified",
                           at=float(i + 1), n_points=res.size,
                           resolution=f"every step ({res.size})", start=start, theta0=th0,
                           kind="descent", what="max relative residual/1e-12"))
    return out


def thm36(problem, traj, step_size=None, consts=None, *, start="config") -> list[Check]:
    r"""Thm 3.6 along a GD run at every iterate: printed rate 1 − η/(4κw₀), corrected
    1 − ηλ_min/(2w₀) (E4), both with prefactor κ on ‖φ − ξ‖²; hypothesis η ≤ η₀ of Lemma
    3.7 (printed conditions / E5).  Also the PL step of its proof at every iterate:
    printed ‖∇R‖² ≥ (2/α²)λ_min‖v‖² (α = 2√w₀), corrected ‖∇R‖² ≥ 4λ_min(R−R*)/(1−θ₂)²."""
    _need_linear(problem, "thm36")
    path = as_descent_path(problem, traj, step_size)
    th0, eta = path.theta[0], path.eta
    c = consts or lemma37_constants(problem, th0)
    S, xi = np.asarray(problem.sigma), np.asarray(problem.phi_star, float)
    kappa, w0, lmin = c["kappa"], c["w0"], c["lambda_min"]
    v2 = lambda t, th: np.sum((_phi(th) - xi) ** 2, axis=-1)
    q0 = float(v2(None, th0[None])[0])
    out = []
    for form, rate, bound in (("printed", eta / (4 * kappa * w0), c["eta0_printed"]),
                              ("corrected", eta * lmin / (2 * w0), c["eta0"])):
        fac = 1 - rate
        hyp = {"Sigma_pd": lmin > 0, "eta_le_eta0_lemma37": bool(eta <= bound),
               "no_crossing": path.outcome != "crossed"}
        out.append(bound_check(
            path, theorem="Thm 3.6", form=form,
            quantity=f"‖φ_s−ξ‖² ≤ κ(1 − {'η/(4κw₀)' if form == 'printed' else 'ηλ_min/(2w₀)'})^s"
                     "‖φ₀−ξ‖²", q=v2, bound=lambda s, fac=fac: kappa * q0 * np.power(
                         max(fac, 0.0), s), hyp=hyp, constants=dict(c, eta=eta, contraction=fac),
            errata="E4, E5", bound_rate=float(-np.log(fac)) if fac > 0 else np.inf, start=start))
    # the PL step, pointwise at every iterate (a claim about θ, so no step hypothesis)
    g, _ = _grad_hess(S, xi, path.theta)
    gn2 = np.sum(g ** 2, axis=1)
    vv = _phi(path.theta) - xi
    Rm = np.einsum("ni,ij,nj->n", vv, S, vv)
    lhs_p = (2 / (4 * w0)) * lmin * np.sum(vv ** 2, axis=1)
    lhs_c = 4 * lmin * Rm / (1 - _split(path.theta)[1]) ** 2
    for form, rhs, err in (("printed", lhs_p, "E4"), ("corrected", lhs_c, "E4")):
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(gn2 > 0, rhs / gn2, np.where(rhs > 0, np.inf, 0.0))
        live = rhs > 1e-26 * max(rhs[0], 1e-300)
        i = int(np.argmax(np.where(live, ratio, -np.inf)))
        v, r, met = decide({"Sigma_pd": lmin > 0}, float(ratio[i]) if live.any() else None,
                           band=1e-10, n_points=int(live.sum()), min_points=1,
                           what="max lower bound/‖∇R‖²")
        out.append(Check("Thm 3.6", f"{form} proof step",
                         "PL: ‖∇R‖² ≥ " + ("(2/α²)λ_min‖φ−ξ‖², α = 2√w₀" if form == "printed"
                                            else "4λ_min(R−R*)/(1−θ₂)²"),
                         {"Sigma_pd": lmin > 0}, v, r, met,
                         float(ratio[i]) if live.any() else None, float(path.t[i]),
                         f"every iterate ({int(live.sum())})", None, None, {}, err, start,
                         list(th0), kind="descent"))
    return out
