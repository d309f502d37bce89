r"""Section 3.2 of arXiv 2511.16976 (the single-index DEQ y = σ(θ₁ᵀx̃ + θ₂y), eq. 10).

θ* = (ξ, 0) (a 0 on a bias entry), r(t) = ‖θ(t) − θ*‖², constants δ₁ > 0, δ₂ ∈ (0, 1/L),
α > 0 (``[theory]`` table, or the Cor. 3.1 choice with the E9 repair: δ₂ = ‖θ₀ − θ*‖,
δ₁ = ‖θ₀ − θ*‖/‖ξ‖, α = max‖X̃‖ so the indicator is 1):

* **Assumptions** — A1(i) E‖X‖² < ∞; A1(ii) β_X = E[‖X‖²1{‖X‖ ≤ α}] > 0; A2(i) σ
  differentiable (σ′ continuous on a grid of the γ-interval, a C¹ check) and monotone with
  ‖σ‖_Lip = L; A2(ii) γ = inf{σ′(z) : |z| ≤ α(1+δ₁)‖ξ‖ + Mδ₂} > 0 with
  M = (|σ(0)| + Lα(1+δ₁)‖ξ‖)/(1 − Lδ₂); A3 no κ₁, κ₂ with σ(κ₁ᵀX)1 = κ₂ᵀX1 a.s. — the
  witness ν = min over κ₁ (0 and a grid of ‖κ₁‖ ≤ 2(1+δ₁)‖ξ‖) of the least-squares
  residual min_κ₂ E[(σ(κ₁ᵀX) − κ₂ᵀX)²1] (a zero refutes A3; a positive minimum supports it).
* **ρ** = inf_θ λ_min E[(X̃, y_θ)(X̃, y_θ)ᵀ1{‖X̃‖ ≤ α}] over the printed Θ = {‖θ₁‖ ≤ (1+δ₁)‖ξ‖,
  |θ₂| ≤ δ₂} or over the invariant ball ‖θ − θ*‖ ≤ ‖θ₀ − θ*‖ (E8): dense grid (d′ = 1:
  61 × 61 tensor/polar grid; otherwise 4000 uniform plus boundary samples), then Nelder–Mead
  from the 3 best grid points on a projection onto the set; the minimiser is reported.
  **ρ_Θ = 0 whenever Θ holds a θ whose input weights vanish and the constant fixed point
  y* = σ(θ₂y* + b) is in the span of X̃** — always with a bias feature, and without one when
  σ(0) = 0 (then y* = 0): y_θ is then a linear function of X̃ (docs/findings.md F4).
* λ₂ = 4L²(L/(1 − Lδ₂))² sup_Θ E‖(X̃, y_θ)‖⁴ (same grid + refinement, maximised).
* **Thm 3.8** printed r(t) ≤ r(0)e^{−λ₁t}, λ₁ = 2ρ_Θγ²/(1 + Lδ₂), hypothesis ‖θ₀ − θ*‖ ≤
  min{(1+δ₁)‖ξ‖, δ₂}; corrected λ₁ = 4ρ_ballγ²/(1 + Lδ₂) (E6, E8), radius min{δ₁‖ξ‖, δ₂}
  (E7); and the proof's (17), r′ ≤ −λ₁r, at every point of the flow.
* **Cor. 3.1** printed (its proof's δ₁ = max{0, ‖θ₀‖/‖ξ‖ − 1} + 0.01, δ₂ = ‖θ₀ − θ*‖ and
  Thm 3.8 printed), corrected (E8, E9), and flowdeq's rate λ* = inf over the ball of
  −r′/r (docs/findings.md F1/F2), which needs no condition on σ(0).
* **Remark 3.1**: sigmoid/tanh/softplus satisfy every assumption from any start in
  B(θ*, 1/L) — checked for this problem's σ and data.
* **Thm 3.9** (GD) r_s ≤ (1 − ηλ₁/2)^s r₀ with η ≤ λ₁/(2λ₂), and at every iterate the steps
  of its proof: bound (13) |y| ≤ (|σ(0)| + L‖θ₁‖‖x‖)/(1 − L|θ₂|) at every data node,
  ‖∇R‖² ≤ λ₂r, and the one-step contraction r_{s+1} ≤ (1 − ηλ₁/2)r_s.
"""
from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from scipy.optimize import minimize

from ...models.paper import SingleIndexDEQ
from ..continuous import risk_and_grad_at
from ..diagnostics import theta_star
from ._common import GD_BAND, bound_check, flow_band, value_check
from ._verdict import Check, decide
from .linear import as_descent_path, as_flow_path

__all__ = ["single_index_constants", "rho_infimum", "decrease_rate", "assumptions", "thm38",
           "cor31", "remark31", "thm39", "strip_decrease", "nonlinearity_witness"]


_split = SingleIndexDEQ.split   # (θ₁, θ₂) of flat θ: the model's layout, not a position

# ================================================================ moments, grids
@eqx.filter_jit
def _moments(problem, thetas, mask):
    """λ_min of E[(X̃,y)(X̃,y)ᵀ·mask] and E‖(X̃,y)‖⁴ at each θ of a batch (k, p)."""
    y = jax.vmap(lambda th: problem.output(th))(thetas)               # (k, n)
    X = jnp.broadcast_to(problem.X, (thetas.shape[0],) + problem.X.shape)
    Z = jnp.concatenate([X, y[..., None]], axis=-1)                   # (k, n, d'+1)
    M = jnp.einsum("n,kni,knj->kij", problem.w * mask, Z, Z)
    lam = jnp.linalg.eigvalsh(M)[:, 0]
    m4 = jnp.einsum("n,kn->k", problem.w, jnp.sum(Z ** 2, axis=-1) ** 2)
    return lam, m4


@eqx.filter_jit
def _outputs(problem, thetas):
    return jax.vmap(lambda th: problem.output(th))(thetas)


def _box_projector(R1, d2):
    def proj(th):
        th = np.array(th, float)
        n = np.linalg.norm(th[:-1])
        if n > R1:
            th[:-1] *= R1 / n
        th[-1:] = np.clip(_split(th)[1], -d2, d2)
        return th
    return proj


def _ball_projector(c, rad):
    def proj(th):
        v = np.asarray(th, float) - c
        n = np.linalg.norm(v)
        return c + (v * (rad / n) if n > rad else v)
    return proj


def _grid(kind, p, a, b, rng, n1=61, nrand=4000):
    """Grid over the printed Θ (kind "box", a = R1, b = δ₂) or a ball (kind "ball", a = centre,
    b = radius)."""
    if kind == "box":
        R1, d2 = a, b
        if p == 2:
            g1, g2 = np.meshgrid(np.linspace(-R1, R1, n1), np.linspace(-d2, d2, n1))
            return np.stack([g1.ravel(), g2.ravel()], axis=1)
        u = rng.normal(size=(nrand, p - 1))
        u /= np.linalg.norm(u, axis=1, keepdims=True)
        r = R1 * rng.random(nrand) ** (1 / (p - 1))
        r[: nrand // 4] = R1
        t2 = rng.uniform(-d2, d2, nrand)
        t2[nrand // 4: nrand // 2] = np.sign(t2[nrand // 4: nrand // 2]) * d2
        pts = np.concatenate([u * r[:, None], t2[:, None]], axis=1)
        return np.concatenate([pts, np.zeros((1, p))])
    c, rad = np.asarray(a, float), b
    if p == 2:
        rr, aa = np.meshgrid(np.linspace(0, rad, n1), np.linspace(0, 2 * np.pi, 2 * n1 - 1))
        return c + np.stack([rr.ravel() * np.cos(aa.ravel()), rr.ravel() * np.sin(aa.ravel())], 1)
    u = rng.normal(size=(nrand, p))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    r = rad * rng.random(nrand) ** (1 / p)
    r[: nrand // 3] = rad
    return np.concatenate([c + u * r[:, None], c[None]])


def _chunked(fn, pts, chunk=512):
    n = len(pts)
    m = -(-n // chunk) * chunk
    padded = np.concatenate([pts, np.repeat(pts[-1:], m - n, axis=0)])
    outs = [fn(jnp.asarray(padded[i:i + chunk])) for i in range(0, m, chunk)]
    return [np.concatenate([np.asarray(o[k]) for o in outs])[:n] for k in range(len(outs[0]))]


def _extremum(problem, mask, pts, proj, which, refine=3):
    """min of λ_min (which=0) or max of E‖·‖⁴ (which=1) over pts, then Nelder–Mead refinement
    (projected onto the set) from the ``refine`` best points."""
    lam, m4 = _chunked(lambda x: _moments(problem, x, mask), pts)
    val = lam if which == 0 else -m4
    val = np.where(np.isfinite(val), val, np.inf)
    order = np.argsort(val)[:refine]
    best_x, best_v = pts[order[0]], float(val[order[0]])

    def f(x):
        v = _moments(problem, jnp.asarray(proj(x))[None], mask)[which][0]
        v = float(v) if which == 0 else -float(v)
        return v if np.isfinite(v) else np.inf

    for i in order:
        res = minimize(f, pts[i], method="Nelder-Mead",
                       options={"xatol": 1e-10, "fatol": 1e-16, "maxiter": 300})
        if res.fun < best_v:
            best_v, best_x = float(res.fun), proj(res.x)
    return (best_v if which == 0 else -best_v), np.asarray(best_x)


def rho_infimum(problem, *, alpha: float, box=None, ball=None, seed: int = 0):
    r"""ρ = inf_θ λ_min(E[(X̃, y_θ(X))(X̃, y_θ(X))ᵀ 1{‖X̃‖ ≤ α}]) over ``box`` = (R1, δ₂) (the
    printed Θ of Thm 3.8) or ``ball`` = (centre, radius) (errata E8).  Returns (ρ, minimiser).

    Method: dense grid (p = 2: 61×61 box or 61 radii × 121 angles; otherwise 4000 random
    plus boundary samples), then projected Nelder–Mead from the 3 best grid points.
    """
    mask = jnp.asarray((np.linalg.norm(np.asarray(problem.X), axis=1) <= alpha).astype(float))
    p = problem.n_params
    rng = np.random.default_rng(seed)
    if box is not None:
        pts, proj = _grid("box", p, *box, rng), _box_projector(*box)
    else:
        pts, proj = _grid("ball", p, *ball, rng), _ball_projector(*ball)
    return _extremum(problem, mask, pts, proj, 0)


def _decrease(problem, pts, ts):
    """2(θ − θ*)ᵀ∇R(θ)/‖θ − θ*‖² (= −r′/r along the flow) at the rows of pts."""
    _, G = risk_and_grad_at(problem, pts)
    d = pts - ts
    r = np.sum(d ** 2, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(r > 0, 2 * np.sum(d * G, axis=1) / r, np.nan)


def decrease_rate(problem, radius: float, seed: int = 0):
    r"""λ* = inf over 0 < ‖θ − θ*‖ ≤ radius of 2(θ − θ*)ᵀ∇R/‖θ − θ*‖² (the worst −r′/r on the
    ball; flowdeq's rate for Cor. 3.1, docs/findings.md F2).  Grid (p = 2: 61 radii ×
    121 angles, the centre excluded; else 4000 samples), then projected Nelder–Mead from
    the 3 lowest points.  Returns (λ*, minimiser)."""
    ts = theta_star(problem)
    p = ts.size
    rng = np.random.default_rng(seed)
    pts = _grid("ball", p, ts, radius, rng)
    pts = pts[np.linalg.norm(pts - ts, axis=1) > 1e-3 * radius]
    vals = _decrease(problem, pts, ts)
    vals = np.where(np.isfinite(vals), vals, np.inf)
    order = np.argsort(vals)[:3]
    best_v, best_x = float(vals[order[0]]), pts[order[0]]
    proj = _ball_projector(ts, radius)

    def f(x):
        x = proj(x)
        if np.linalg.norm(x - ts) < 1e-6 * radius:
            return np.inf
        v = _decrease(problem, x[None], ts)[0]
        return float(v) if np.isfinite(v) else np.inf

    for i in order:
        res = minimize(f, pts[i], method="Nelder-Mead",
                       options={"xatol": 1e-10, "fatol": 1e-16, "maxiter": 300})
        if res.fun < best_v:
            best_v, best_x = float(res.fun), proj(res.x)
    return best_v, np.asarray(best_x)


def strip_decrease(problem, theta1_range, n1: int = 321, n2: int = 199, margin: float = 0.99):
    r"""2(θ − θ*)ᵀ∇R/r on a grid of the contraction strip {L|θ₂| ≤ margin} (θ₁ along ξ̂ over
    ``theta1_range``, other coordinates 0), θ* excluded.  Returns (T1, T2, values) with
    NaN at θ* (docs/findings.md F1)."""
    ts = theta_star(problem)
    L = float(problem.model.lipschitz)
    xi = ts[:-1]
    u = xi / np.linalg.norm(xi) if np.linalg.norm(xi) > 0 else np.eye(xi.size)[0]
    a = np.linspace(*theta1_range, n1)
    b = np.linspace(-margin / L, margin / L, n2)
    T1, T2 = np.meshgrid(a, b)
    pts = np.concatenate([T1.reshape(-1, 1) * u[None], T2.reshape(-1, 1)], axis=1)
    vals = _decrease(problem, pts, ts)
    return T1, T2, vals.reshape(T1.shape)


def nonlinearity_witness(problem, alpha, radius, seed: int = 0, n: int = 400):
    r"""A3's witness ν = min over κ₁ ∈ {0} ∪ grid(‖κ₁‖ ≤ radius) of
    min_κ₂ E[(σ(κ₁ᵀX̃) − κ₂ᵀX̃)² 1{‖X̃‖ ≤ α}] (least squares in closed form).  Returns (ν,
    argmin κ₁).  ν = 0 refutes Assumption 3; ν > 0 on the grid supports it."""
    X = np.asarray(problem.X, float)
    w = np.asarray(problem.w, float) * (np.linalg.norm(X, axis=1) <= alpha)
    dprime = X.shape[1]
    rng = np.random.default_rng(seed)
    if dprime == 1:
        K = np.linspace(-radius, radius, 2 * n + 1)[:, None]
    else:
        u = rng.normal(size=(n, dprime))
        u /= np.linalg.norm(u, axis=1, keepdims=True)
        K = np.concatenate([u * radius * rng.random((n, 1)) ** (1 / dprime), u * radius])
    K = np.concatenate([np.zeros((1, dprime)), K])
    S = np.asarray(problem.model.activation.host(K @ X.T))          # (k, n)
    Sa = (X * w[:, None]).T @ X
    b = S @ (X * w[:, None])                                        # (k, d′)
    coef = np.linalg.lstsq(Sa, b.T, rcond=1e-13)[0].T
    resid = S - coef @ X.T
    nu = np.sum(w * resid ** 2, axis=1)
    i = int(np.argmin(nu))
    return float(nu[i]), K[i]


# ==================================================================== constants
def _well_specified(problem) -> bool:
    act = getattr(problem.target, "activation", None)
    return getattr(act, "name", None) == problem.model.activation.name


def _c1_check(act, radius, points=20001):
    """σ′ continuous on [−radius, radius] (no jump above 1e-6 between z ± 1e-7 on a grid that
    holds 0): a numerical C¹ test (ReLU fails at 0)."""
    z = np.linspace(-radius, radius, points)
    z = np.unique(np.concatenate([z, [0.0]]))
    h = 1e-7 * (1 + np.abs(z))
    jump = np.abs(np.asarray(act.deriv(jnp.asarray(z + h))) - np.asarray(act.deriv(jnp.asarray(z - h))))
    return bool(np.max(jump) < 1e-6 * max(1.0, act.lipschitz))


def single_index_constants(problem, theta0, *, delta1=None, delta2=None, alpha=None,
                           seed: int = 0, rate: bool = True) -> dict:
    r"""Constants of Thms 3.8/3.9, Assumptions 1–3 and Cor. 3.1 (see the module docstring).

    Returns L, delta1, delta2, alpha, E_norm2, beta_X, sigma0, M, gamma_radius, gamma, C1,
    monotone, well_specified, nu_A3 (+ argmin κ₁), rho_Theta (+ argmin), rho_ball (+ argmin,
    ball radius), sup_E_norm4 (+ argmax), lambda2, lambda1_printed, lambda1_corrected,
    eta_max_printed/corrected (= λ₁/(2λ₂)), dist0 = ‖θ₀ − θ*‖, radius_printed/corrected,
    lambda_star (flowdeq's rate on the ball, F2; with ``rate``), structural_zero (why ρ_Θ
    = 0, or "").
    """
    if problem.model.kind != "single-index":
        raise ValueError("single_index_constants needs a single-index problem.")
    th0 = np.asarray(theta0, float)
    ts = theta_star(problem)
    xi = ts[:-1]
    nxi = float(np.linalg.norm(xi))
    if nxi == 0:
        raise ValueError("target xi is zero: Thm 3.8 needs ξ ≠ 0.")
    act = problem.model.activation
    L = float(problem.model.lipschitz)
    dist0 = float(np.linalg.norm(th0 - ts))
    Xn = np.linalg.norm(np.asarray(problem.X), axis=1)
    alpha = float(alpha) if alpha is not None else float(np.max(Xn))
    delta2 = float(delta2) if delta2 is not None else float(min(dist0, 0.95 / L)) or 0.5 / L
    delta1 = float(delta1) if delta1 is not None else max(dist0 / nxi, 1e-3)
    for name, v in (("delta1", delta1), ("delta2", delta2), ("alpha", alpha)):
        if not np.isfinite(v) or v <= 0:
            raise ValueError(f"{name} is {v!r}: give a positive number in [theory].")
    w = np.asarray(problem.w)
    betaX = float(np.sum(w * Xn ** 2 * (Xn <= alpha)))
    s0 = float(act.fn(jnp.asarray(0.0)))
    ok2 = L * delta2 < 1
    M = (abs(s0) + L * alpha * (1 + delta1) * nxi) / (1 - L * delta2) if ok2 else np.inf
    grad_r = alpha * (1 + delta1) * nxi + M * delta2
    gamma = act.inf_derivative(grad_r) if np.isfinite(grad_r) else 0.0
    R1 = (1 + delta1) * nxi
    nu, kappa1 = nonlinearity_witness(problem, alpha, 2 * R1, seed)
    if ok2:
        rho_T, arg_T = rho_infimum(problem, alpha=alpha, box=(R1, delta2), seed=seed)
        m4, arg_m4 = _extremum(problem, jnp.ones(problem.w.shape),
                               _grid("box", problem.n_params, R1, delta2,
                                     np.random.default_rng(seed)),
                               _box_projector(R1, delta2), 1)
    else:
        rho_T, arg_T, m4, arg_m4 = np.nan, None, np.nan, None
    # E8: ρ over the invariant ball ‖θ − θ*‖ ≤ ‖θ₀ − θ*‖ (kept inside the contraction region)
    ball_r = min(dist0, delta2) if dist0 > 0 else delta2
    ball_r = min(ball_r, 0.999 * (1 / L))
    rho_B, arg_B = rho_infimum(problem, alpha=alpha, ball=(ts, ball_r), seed=seed)
    lam2 = 4 * L ** 2 * (L / (1 - L * delta2)) ** 2 * m4 if ok2 else np.inf
    l1p = 2 * rho_T * gamma ** 2 / (1 + L * delta2)
    l1c = 4 * max(rho_B, 0.0) * gamma ** 2 / (1 + L * delta2)
    structural = ""
    if problem.model.bias:
        structural = ("a bias feature: at θ₁ = (0, b), y_θ ≡ y* (a constant fixed point) = "
                      "y*·(bias feature), linear in X̃ (F4)")
    elif abs(s0) == 0.0:
        structural = "σ(0) = 0: at θ₁ = 0, y_θ ≡ 0, linear in X̃ (E8, F4)"
    out = {"L": L, "delta1": delta1, "delta2": delta2, "alpha": alpha,
           "E_norm2": float(np.sum(w * Xn ** 2)), "beta_X": betaX,
           "sigma0": s0, "M": M, "gamma_radius": grad_r, "gamma": gamma,
           "C1": _c1_check(act, grad_r if np.isfinite(grad_r) else 10.0),
           "monotone": bool(act.monotone), "well_specified": _well_specified(problem),
           "nu_A3": nu, "nu_A3_argmin": kappa1.tolist(),
           "rho_Theta": max(rho_T, 0.0) if np.isfinite(rho_T) else rho_T, "rho_Theta_raw": rho_T,
           "rho_Theta_argmin": None if arg_T is None else arg_T.tolist(),
           "rho_ball": max(rho_B, 0.0), "rho_ball_raw": rho_B, "rho_ball_argmin": arg_B.tolist(),
           "ball_radius_rho": ball_r, "sup_E_norm4": m4,
           "sup_E_norm4_argmax": None if arg_m4 is None else arg_m4.tolist(),
           "lambda2": lam2, "lambda1_printed": max(l1p, 0.0) if np.isfinite(l1p) else l1p,
           "lambda1_corrected": l1c, "dist0": dist0,
           "radius_printed": min((1 + delta1) * nxi, delta2),
           "radius_corrected": min(delta1 * nxi, delta2), "theta_star": ts.tolist(),
           "structural_zero": structural, "n_inputs": int(problem.model.dim)}
    out["eta_max_printed"] = out["lambda1_printed"] / (2 * lam2)
    out["eta_max_corrected"] = l1c / (2 * lam2)
    if rate and 0 < dist0 < 1 / L:
        out["lambda_star"], arg = decrease_rate(problem, dist0, seed)
        out["lambda_star_argmin"] = arg.tolist()
    return out


# =================================================================== assumptions
def _assumption_hyps(c):
    """Assumptions 1–3 of Thm 3.8 with their truth values (A3 from its witness ν)."""
    return {"A1(i)_X_in_L2": bool(np.isfinite(c["E_norm2"])),
            "A1(ii)_beta_X_pos": c["beta_X"] > 0,
            "A2(i)_sigma_C1_monotone": bool(c["C1"] and c["monotone"]),
            "A2(ii)_gamma_pos": c["gamma"] > 0,
            "A3_nonlinear": c["nu_A3"] > 1e-14}


def assumptions(problem, consts, *, start="config") -> list[Check]:
    """One row per assumption of Thm 3.8, with its constants ("hypothesis fails" if false)."""
    c = consts
    rows = [("A1(i)", "E‖X‖² < ∞", c["E_norm2"] < np.inf, f"E‖X‖² = {c['E_norm2']:.4g}"),
            ("A1(ii)", "E[‖X‖²1{‖X‖ ≤ α}] ≥ β > 0", c["beta_X"] > 0,
             f"α = {c['alpha']:.4g}, β_X = {c['beta_X']:.4g}"),
            ("A2(i)", "σ differentiable, monotone, ‖σ‖_Lip = L", bool(c["C1"] and c["monotone"]),
             f"L = {c['L']:.4g}; σ′ continuous on the grid: {c['C1']}; monotone: {c['monotone']}"),
            ("A2(ii)", "γ = inf σ′ on |z| ≤ α(1+δ₁)‖ξ‖ + Mδ₂ > 0", c["gamma"] > 0,
             f"M = {c['M']:.4g}, radius {c['gamma_radius']:.4g}, γ = {c['gamma']:.4g}"),
            ("A3", "no κ₁, κ₂: σ(κ₁ᵀX)1 = κ₂ᵀX1 a.s.", c["nu_A3"] > 1e-14,
             f"witness ν = {c['nu_A3']:.3g} at κ₁ = {np.round(c['nu_A3_argmin'], 4).tolist()}"
             + (f"; {c['structural_zero']}" if c["structural_zero"] and c["nu_A3"] <= 1e-14
                else ""))]
    out = []
    for name, claim, ok, detail in rows:
        out.append(Check(name, "printed", claim, {}, "holds" if ok else "hypothesis fails",
                         detail, bool(ok), None, None,
                         "grid of κ₁ (a zero refutes A3)" if name == "A3" else "constants",
                         None, None, {}, "E8" if name == "A3" else "", start, [], kind="constants"))
    return out


# ==================================================================== Thm 3.8
def _a3_on_ball(c) -> bool:
    """E8's Assumption 3 on the invariant ball, decided without ρ: where A3 fails only
    structurally (y constant at zero input weights: σ(0) = 0 or a bias, F4), the ball must
    exclude those θ (radius < ‖ξ‖ of the input weights); otherwise A3 itself (ν > 0)."""
    if c["structural_zero"]:
        xi_in = np.asarray(c["theta_star"])[:-1]
        return bool(c["ball_radius_rho"] < np.linalg.norm(xi_in[:c.get("n_inputs", xi_in.size)]))
    return bool(c["nu_A3"] > 1e-14)


def _si_hyp(c, form):
    h = _assumption_hyps(c)
    h["well_specified"] = bool(c["well_specified"])
    h["delta2_lt_1_over_L"] = c["L"] * c["delta2"] < 1
    if form == "printed":
        h["init_in_ball_(1+d1)|xi|,d2"] = c["dist0"] <= c["radius_printed"] * (1 + 1e-12)
    else:
        h.pop("A3_nonlinear")
        h["A3_on_ball_(E8)"] = _a3_on_ball(c)
        h["init_in_ball_d1|xi|,d2_(E7)"] = c["dist0"] <= c["radius_corrected"] * (1 + 1e-12)
    return h


def _r(ts):
    return lambda t, th: np.sum((th - ts) ** 2, axis=-1)


def thm38(problem, traj, consts: dict, *, start="config") -> list[Check]:
    """Thm 3.8 along the whole flow: r(t) ≤ r(0)e^{−λ₁t}, λ₁ printed (2ρ_Θγ²/(1+Lδ₂)) and
    corrected (4ρ_ballγ²/(1+Lδ₂); E6, E7, E8); ρ > 0 (a claim of the theorem under its
    assumptions); and the proof's (17), r′ ≤ −λ₁r, at every point of the flow."""
    path = as_flow_path(problem, traj)
    c = consts
    ts = np.asarray(c["theta_star"])
    r = _r(ts)
    r0 = float(r(None, path.theta[:1])[0])
    t0 = float(path.t[0])
    out = []
    for form, lam in (("printed", c["lambda1_printed"]), ("corrected", c["lambda1_corrected"])):
        out.append(bound_check(path, theorem="Thm 3.8", form=form,
                               quantity=f"‖θ−θ*‖² ≤ ‖θ₀−θ*‖² e^{{−λ₁t}}, λ₁ = {lam:.3g}",
                               q=r, bound=lambda t, lam=lam: r0 * np.exp(-lam * (t - t0)),
                               hyp=_si_hyp(c, form), constants=dict(c), errata="E6, E7, E8",
                               bound_rate=float(lam), start=start))
    for form, key, where in (("printed", "rho_Theta", "printed Θ"), ("corrected", "rho_ball", "ball")):
        hyp = _si_hyp(c, form)
        rho = c[key]
        v, rr, met = decide(hyp, 0.0 if rho > 1e-14 else np.inf, band=0.0, n_points=1,
                            min_points=1, what=f"ρ over the {where} = {c[key + '_raw']:.3g}; 1/ρ")
        out.append(Check("Thm 3.8", form, f"ρ over the {where} > 0", hyp, v, rr, met, None, None,
                         "grid + projected Nelder–Mead", None, None,
                         {key: rho, key + "_argmin": c.get(key + "_argmin")}, "E8", start,
                         list(map(float, path.theta[0])), kind="constants"))

    def seventeen(lam):
        def fn(t, th):
            _, G = risk_and_grad_at(problem, th)
            d = th - ts
            rr = np.sum(d ** 2, axis=1)
            dec = 2 * np.sum(d * G, axis=1)      # −r′
            with np.errstate(divide="ignore", invalid="ignore"):
                v = np.where(dec > 0, lam * rr / dec, np.where(lam * rr > 0, np.inf, 0.0))
            return np.where(rr <= 1e-20 * r0, -np.inf, v)
        return fn

    for form, lam in (("printed", c["lambda1_printed"]), ("corrected", c["lambda1_corrected"])):
        ext = path.sup(seventeen(lam))
        hyp = _si_hyp(c, form)
        v, rr, met = decide(hyp, ext.value if ext.value > -np.inf else None,
                            band=flow_band(path), n_points=ext.n_points, complete=path.complete,
                            incomplete=path.incomplete, what="max λ₁r/(−r′)")
        out.append(Check("Thm 3.8", f"{form} proof step", "(17) r′ ≤ −λ₁ r", hyp, v, rr, met,
                         ext.value if ext.value > -np.inf else None, ext.t, ext.resolution,
                         None, lam, {}, "E6", start, list(map(float, path.theta[0])), kind="flow"))
    return out


def flowdeq_decrease(problem, traj, consts, *, start="config") -> list[Check]:
    """flowdeq's F1 along this flow: r(θ(t)) non-increasing while the flow is in the strip."""
    path = as_flow_path(problem, traj)
    ts = np.asarray(consts["theta_star"])
    ext = path.max_rise(_r(ts))
    r0 = float(np.sum((path.theta[0] - ts) ** 2))
    L = consts["L"]
    in_strip = bool(np.max(np.abs(_split(path.theta)[1])) * L < 1)
    hyp = {"sigma_monotone": consts["monotone"], "well_specified": consts["well_specified"],
           "flow_in_strip_L|theta2|<1": in_strip}
    return [value_check(None, theorem="F1", form="flowdeq",
                        quantity="r = ‖θ−θ*‖² non-increasing on the strip L|θ₂| < 1",
                        value=max(ext.value, 0.0) / max(r0, 1e-300), tol=1e-9, hyp=hyp,
                        constants={"largest_rise": ext.value}, errata="findings F1", at=ext.t,
                        n_points=ext.n_points, resolution=ext.resolution, start=start,
                        theta0=path.theta[0], kind="flow", complete=True,
                        what="largest rise of r / r₀ over 1e-9")]


def strip_row(problem, consts, *, n: int = 101, start="config") -> Check:
    """flowdeq's F1 on the problem: min of 2(θ − θ*)ᵀ∇R/r over a grid of the strip
    (θ₁ along ξ̂ within 4‖ξ‖ of θ*'s, |θ₂| ≤ 0.99/L) — positive everywhere (the proof in
    docs/findings.md)."""
    ts = np.asarray(consts["theta_star"])
    nxi = float(np.linalg.norm(ts[:-1]))
    T1, T2, v = strip_decrease(problem, (-4 * nxi, 5 * nxi), n, n)
    ok = np.isfinite(v)
    i = int(np.argmin(np.where(ok, v, np.inf)))
    neg = int(np.sum(v[ok] <= 0))
    hyp = {"sigma_monotone": consts["monotone"], "well_specified": consts["well_specified"]}
    vmin = float(v.flat[i])
    verdict, reason, met = decide(hyp, np.inf if vmin <= 0 else 0.0, band=0.0,
                                  n_points=int(ok.sum()), min_points=1,
                                  what=f"min −r′/r = {vmin:.3g} ({neg} of {int(ok.sum())} ≤ 0); flag")
    return Check("F1", "flowdeq", "2(θ−θ*)ᵀ∇R > 0 on the contraction strip (θ ≠ θ*)", hyp,
                 verdict, reason, met, vmin, None,
                 f"{n}×{n} grid, θ₁ ∈ [−4‖ξ‖, 5‖ξ‖] along ξ̂, |θ₂| ≤ 0.99/L", None, None,
                 {"min_rate": vmin, "argmin": [float(T1.flat[i]), float(T2.flat[i])],
                  "nonpositive": neg}, "findings F1", start, [], kind="constants")


# ==================================================================== Cor. 3.1
def _cor_hyps(problem, c, th0):
    act = problem.model.activation
    z = np.linspace(-0.1, 0.1, 201)
    d = np.asarray(act.deriv(jnp.asarray(z)))
    zz = np.linspace(-10, 10, 20001)
    return {"sigma_C1": bool(c["C1"]),
            "sigma_strictly_increasing_(sigma'>0_on_[-10,10])": bool(np.min(np.asarray(act.deriv(jnp.asarray(zz)))) > 0),
            "not_linear_near_0": bool(np.ptp(d) > 1e-10),
            "X_continuous_law": problem.data.describe().get("rule") == "quadrature",
            "X_not_a.s._0": c["E_norm2"] > 0,
            "well_specified": bool(c["well_specified"]),
            "init_in_B(theta*,1/L)": c["dist0"] < 1 / c["L"]}


def cor31(problem, traj, consts_config, *, start="config", seed: int = 0,
          forms=("printed", "corrected", "flowdeq")) -> list[Check]:
    r"""Cor. 3.1 on this flow: printed (its proof's construction: δ₁ = max{0, ‖θ₀‖/‖ξ‖ − 1}
    + 0.01, δ₂ = ‖θ₀ − θ*‖, then Thm 3.8 printed — E8/E9 say where it breaks), corrected
    (E8, E9: δ₁ = δ₂/‖ξ‖ and, for σ(0) = 0, ‖θ₀ − θ*‖ < ‖ξ‖; Thm 3.8 corrected), and
    flowdeq's rate λ* = inf over the ball of −r′/r (F2), which needs neither."""
    path = as_flow_path(problem, traj)
    th0 = path.theta[0]
    ts = np.asarray(consts_config["theta_star"])
    nxi = float(np.linalg.norm(ts[:-1]))
    d0 = float(np.linalg.norm(th0 - ts))
    base = _cor_hyps(problem, consts_config, th0)
    r = _r(ts)
    r0 = float(r(None, th0[None])[0])
    t0 = float(path.t[0])
    out = []
    if not (0 < d0 < 1 / consts_config["L"]):
        for form in ("printed", "corrected", "flowdeq"):
            v, rr, met = decide(base, None, band=0.0, n_points=0)
            out.append(Check("Cor 3.1", form, "r(t) ≤ r₀e^{−λt}, some λ > 0", base, v, rr, met,
                             errata="E8, E9" if form != "flowdeq" else "findings F2",
                             start=start, theta0=list(th0), kind="flow"))
        return out
    alpha = consts_config["alpha"]
    cp = single_index_constants(
        problem, th0, delta1=max(0.0, np.linalg.norm(th0) / nxi - 1) + 0.01, delta2=d0,
        alpha=alpha, seed=seed, rate=False) if "printed" in forms else None
    same = (np.isclose(consts_config["delta2"], d0) and np.isclose(consts_config["delta1"], d0 / nxi)
            and np.isclose(consts_config["dist0"], d0))
    cc = consts_config if same else single_index_constants(
        problem, th0, delta1=d0 / nxi, delta2=d0, alpha=alpha, seed=seed, rate=False)
    lam_star = consts_config.get("lambda_star")
    if lam_star is None:
        lam_star, _ = decrease_rate(problem, d0, seed)
    specs = [("printed", cp, None if cp is None else cp["lambda1_printed"], "E8, E9",
              None if cp is None else
              {"proof: Thm 3.8 hypothesis for its δ's (E9)": cp["dist0"] <= cp["radius_printed"]
               * (1 + 1e-12), "proof: rho_Theta_pos (E8)": cp["rho_Theta"] > 1e-14}),
             ("corrected", cc, cc["lambda1_corrected"], "E8, E9",
              {"E8: sigma(0)=0 => |theta0-theta*| < |xi|": bool(abs(cc["sigma0"]) > 0 or d0 < nxi),
               "rho_ball_pos": cc["rho_ball"] > 1e-14}),
             ("flowdeq", consts_config, max(lam_star, 0.0), "findings F2",
              {"lambda_star_pos": lam_star > 0})]
    for form, c, lam, err, extra in specs:
        if form not in forms:
            continue
        hyp = dict(base)
        proof = {}
        if form == "printed":
            proof = extra
        elif form == "corrected":
            hyp.update(extra)
        else:  # F1/F2 need neither a continuous law nor nonlinearity near 0 (λ* > 0 checks it)
            hyp = {k: base[k] for k in base if k not in ("X_continuous_law", "not_linear_near_0")}
            hyp.update(extra)
        chk = bound_check(path, theorem="Cor 3.1", form=form,
                          quantity=f"r(t) ≤ r₀ e^{{−λt}}, λ = {lam:.3g} "
                                   + {"printed": "(its proof's construction)",
                                      "corrected": "(E8/E9 construction)",
                                      "flowdeq": "(λ* = min −r′/r on the ball)"}[form],
                          q=r, bound=lambda t, lam=lam: r0 * np.exp(-lam * (t - t0)), hyp=hyp,
                          constants={k: c[k] for k in ("delta1", "delta2", "gamma", "rho_Theta",
                                                       "rho_ball", "lambda1_printed",
                                                       "lambda1_corrected") if k in c}
                          | {"lambda": lam, "lambda_star": lam_star}, errata=err,
                          bound_rate=lam, start=start)
        if form == "printed" and not all(proof.values()):
            failed = ", ".join(k for k, v in proof.items() if not v)
            if chk.verdict == "holds":
                chk.verdict = "inconclusive"
            chk.reason = f"its proof's construction fails ({failed}), so λ = {lam:.3g}; " + chk.reason
        out.append(chk)
    return out


def remark31(problem, consts, *, start="config") -> Check:
    """Remark 3.1: sigmoid, tanh and softplus satisfy all the assumptions for any start in
    B(θ*, 1/L) (with Cor. 3.1's constants) — checked for this problem's σ and data."""
    act = problem.model.activation.name
    c = consts
    hyp = {"sigma_in_{sigmoid,tanh,softplus}": act in ("sigmoid", "tanh", "softplus"),
           "init_in_B(theta*,1/L)": c["dist0"] < 1 / c["L"],
           "X_witnesses_nonlinearity": bool(c["nu_A3"] > 1e-14 or c["structural_zero"]),
           "well_specified": bool(c["well_specified"])}
    h = _assumption_hyps(c)
    h["rho_Theta_pos"] = c["rho_Theta"] > 1e-14
    failing = [k for k, v in h.items() if not v]
    v, r, met = decide(hyp, np.inf if failing else 0.0, band=0.0, n_points=1, min_points=1,
                       what="assumptions failing: " + (", ".join(failing) or "none") + "; flag")
    return Check("Remark 3.1", "printed", "σ satisfies A1–A3 (and ρ > 0) from any θ₀ ∈ B(θ*, 1/L)",
                 hyp, v, r, met, None, None, "constants at Cor. 3.1's δ's", None, None,
                 {k: bool(x) for k, x in h.items()}, "E8", start, [], kind="constants")


# ==================================================================== Thm 3.9
def thm39(problem, traj, consts: dict, step_size: float | None = None, *,
          start="config") -> list[Check]:
    """Thm 3.9 along a GD run at every iterate: r_s ≤ (1 − ηλ₁/2)^s r_0 with η ≤ λ₁/(2λ₂)
    (λ₁ printed / corrected, E6), and the steps of its proof at every iterate."""
    path = as_descent_path(problem, traj, step_size)
    c = consts
    eta = path.eta
    ts = np.asarray(c["theta_star"])
    r = _r(ts)
    th = path.theta
    rr = r(None, th)
    r0 = float(rr[0])
    out = []
    for form, lam, emax in (("printed", c["lambda1_printed"], c["eta_max_printed"]),
                            ("corrected", c["lambda1_corrected"], c["eta_max_corrected"])):
        fac = 1 - eta * lam / 2
        hyp = dict(_si_hyp(c, form), **{"eta_le_lambda1/(2lambda2)": bool(eta <= emax)})
        out.append(bound_check(path, theorem="Thm 3.9", form=form,
                               quantity="r_s ≤ (1 − ηλ₁/2)^s r₀",
                               q=r, bound=lambda s, fac=fac: r0 * np.power(max(fac, 0.0), s),
                               hyp=hyp, constants=dict(c, eta=eta, contraction=fac),
                               errata="E6, E7, E8",
                               bound_rate=float(-np.log(fac)) if fac > 0 else np.inf,
                               start=start))
    # proof steps at every iterate
    L, s0 = c["L"], c["sigma0"]
    n = len(th)
    y = _chunked(lambda x: (_outputs(problem, x),), th)[0]           # (n, nodes)
    Xn = np.linalg.norm(np.asarray(problem.X), axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        t1, t2 = _split(th)
        b13 = (abs(s0) + L * np.linalg.norm(t1, axis=1)[:, None] * Xn[None]) / (
            1 - L * np.abs(t2[:, None]))
        r13 = np.where(b13 > 0, np.abs(y) / b13, np.where(np.abs(y) > 0, np.inf, 0.0))
    k = np.unravel_index(int(np.nanargmax(r13)), r13.shape)
    hyp_strip = {"iterates_in_strip": bool(np.all(L * np.abs(_split(th)[1]) < 1))}
    v, rs, met = decide(hyp_strip, float(r13[k]), band=1e-12, n_points=r13.size, min_points=1,
                        what="max |y|/bound (13)")
    out.append(Check("Thm 3.9", "proof step", "(13) |y_θ(x)| ≤ (|σ(0)| + L‖θ₁‖‖x‖)/(1 − L|θ₂|)",
                     hyp_strip, v, rs, met, float(r13[k]), float(path.t[k[0]]),
                     f"every iterate × every data node ({r13.size})", None, None, {}, "verified",
                     start, list(map(float, th[0])), kind="descent"))
    G = path.grad
    gn2 = np.sum(G ** 2, axis=1)
    live = rr > 1e-26 * r0
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(live, gn2 / (c["lambda2"] * rr), -np.inf)
    i = int(np.argmax(ratio))
    hyp = {"iterates_in_printed_Theta": bool(np.all(np.linalg.norm(_split(th)[0], axis=1)
                                                    <= (1 + c["delta1"]) * np.linalg.norm(ts[:-1]))
                                             and np.all(np.abs(_split(th)[1]) <= c["delta2"])),
           "lambda2_finite": bool(np.isfinite(c["lambda2"]))}
    v, rs, met = decide(hyp, float(ratio[i]) if live.any() else None, band=1e-10,
                        n_points=int(live.sum()), min_points=1, what="max ‖∇R‖²/(λ₂r)")
    out.append(Check("Thm 3.9", "proof step", "‖∇R‖² ≤ λ₂ ‖θ−θ*‖²", hyp, v, rs, met,
                     float(ratio[i]) if live.any() else None, float(path.t[i]),
                     f"every iterate ({int(live.sum())})", None, None,
                     {"lambda2": c["lambda2"]}, "verified", start, list(map(float, th[0])),
                     kind="descent"))
    for form, lam, emax in (("printed", c["lambda1_printed"], c["eta_max_printed"]),
                            ("corrected", c["lambda1_corrected"], c["eta_max_corrected"])):
        fac = 1 - eta * lam / 2
        with np.errstate(divide="ignore", invalid="ignore"):
            step = np.where(live[:-1] & (rr[:-1] > 0), rr[1:] / (fac * rr[:-1]), -np.inf)
        j = int(np.argmax(step)) if step.size else 0
        hyp = dict(_si_hyp(c, form), **{"eta_le_lambda1/(2lambda2)": bool(eta <= emax)})
        v, rs, met = decide(hyp, float(step[j]) if step.size and step[j] > -np.inf else None,
                            band=GD_BAND, n_points=int(np.sum(step > -np.inf)), min_points=1,
                            what="max r_{s+1}/((1 − ηλ₁/2) r_s)")
        out.append(Check("Thm 3.9", f"{form} proof step", "one step: r_{s+1} ≤ (1 − ηλ₁/2) r_s", hyp,
                         v, rs, met, float(step[j]) if step.size else None, float(j + 1),
                         f"every step ({step.size})", None, None, {"contraction": fac}, "E6",
                         start, list(map(float, th[0])), kind="descent"))
    return out
