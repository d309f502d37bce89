r"""The paper's convergence theorems (Sec. 3) as computable constants, hypotheses and bounds.

For each theorem this module computes the constants it needs from a :class:`Problem`,
checks the hypotheses, evaluates the bound curve along a run and compares — in both the
**printed** form and the **corrected** form of ``docs/errata.md`` (each entry carries the
errata section it relies on).

Linear DEQ (Sec. 3.1), Σ = E[X̃X̃ᵀ], λ_min, λ_max, κ = λ_max/λ_min, φ = θ₁/(1 − θ₂),
w(θ) = ‖θ₁‖² + (θ₂ − 1)², r₀² = w₀ = w(θ(0)):

* **Thm 3.3** limit (aξ, 1 − a).  Printed a = sign(θ₂(0))‖θ(0)‖/√(‖ξ‖²+1); corrected
  a = sign(1 − θ₂(0))·r₀/√(‖ξ‖²+1) (E2).
* **Thm 3.4** printed ‖φ(t) − ξ‖² ≤ ‖φ(0) − ξ‖² e^{−4λ_min t/β²}, β ≤ min_t|1 − θ₂(t)|
  (the most favourable admissible β = min_t|1 − θ₂(t)| is used, so a violation refutes
  every β); corrected (E3) R(t) − R* ≤ (R(0) − R*) e^{−4λ_min t/r₀²} and
  ‖φ(t) − ξ‖² ≤ κ‖φ(0) − ξ‖² e^{−4λ_min t/r₀²}.
* **Thm 3.6** (GD) printed ‖φ_s − ξ‖² ≤ κ(1 − η/(4κw₀))^s‖φ₀ − ξ‖²; corrected (E4)
  ‖φ_s − ξ‖² ≤ κ(1 − ηλ_min/(2w₀))^s‖φ₀ − ξ‖².  Hypothesis η ≤ η₀ of Lemma 3.7 with the
  E5 repair: η ≤ min{1/L_Θ, β/(2G_Θ), β²/(4R(θ₀))}, L_Θ = sup‖∇²R‖ and G_Θ = sup‖∇R‖ over
  Θ + B̄(β/2), Θ = {β ≤ |1 − θ₂| ≤ 2√w₀, ‖θ₁‖ ≤ 2√w₀} (θ₀'s side); both suprema are
  estimated from random and boundary samples (a sample maximum: a lower estimate).

Single-index DEQ (Sec. 3.2), θ* = (ξ, 0), r(t) = ‖θ(t) − θ*‖², constants δ₁ > 0,
δ₂ ∈ (0, 1/L), α > 0 (``[theory]`` table, or chosen as in Cor. 3.1 with the E9 repair:
δ₂ = ‖θ₀ − θ*‖, δ₁ = ‖θ₀ − θ*‖/‖ξ‖, α = max‖X̃‖ so the indicator is 1):

* β_X = E[‖X‖²1{‖X‖ ≤ α}];  M = (|σ(0)| + Lα(1 + δ₁)‖ξ‖)/(1 − Lδ₂);
  γ = inf{σ′(z) : |z| ≤ α(1 + δ₁)‖ξ‖ + Mδ₂};
* ρ = inf_θ λ_min E[(X̃, y_θ)(X̃, y_θ)ᵀ 1{‖X̃‖ ≤ α}] over the printed Θ = {‖θ₁‖ ≤ (1+δ₁)‖ξ‖,
  |θ₂| ≤ δ₂} (printed) or over the invariant ball ‖θ − θ*‖ ≤ ‖θ₀ − θ*‖ (E8).  Computed
  by :func:`rho_infimum`: a dense grid (d′ = 1: 61 × 61 tensor/polar grid; otherwise
  4000 uniform samples plus boundary samples), then Nelder–Mead from the 3 best grid
  points on a projection onto the set; the minimiser is reported;
* λ₂ = 4L²(L/(1 − Lδ₂))² sup_Θ E‖(X̃, y_θ)‖⁴ (same grid + refinement, maximised);
* **Thm 3.8** printed r(t) ≤ r(0)e^{−λ₁t}, λ₁ = 2ργ²/(1 + Lδ₂), hypothesis
  ‖θ₀ − θ*‖ ≤ min{(1 + δ₁)‖ξ‖, δ₂}; corrected λ₁ = 4ρ_ball γ²/(1 + Lδ₂) (E6, E8) and
  hypothesis ‖θ₀ − θ*‖ ≤ min{δ₁‖ξ‖, δ₂} (E7);
* **Thm 3.9** (GD) r_s ≤ (1 − ηλ₁/2)^s r₀ with η ≤ λ₁/(2λ₂), λ₁ printed or corrected.

Entry fields (:class:`BoundCheck`, JSON via ``to_dict``): theorem, form, quantity,
hypotheses_hold, hypotheses (each), holds (bound satisfied at every saved point, rtol
1e-9), max_ratio (max_t observed/bound), fitted_rate, bound_rate, rate_ratio
(fitted/bound), constants, errata, start, theta0.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from scipy.optimize import minimize

from ..dynamics.descent import gradient_descent
from ..dynamics.flow import gradient_flow
from ..dynamics.trajectory import jsonable
from ..models.paper import LinearDEQ
from .diagnostics import predicted_limit, printed_limit, theta_star
from .rates import compare_with_bound, fit_rate

__all__ = ["BoundCheck", "linear_constants", "single_index_constants", "rho_infimum",
           "thm33", "thm34", "thm36", "thm38", "thm39", "check_theorems",
           "theory_markdown", "lemma37_step_bound"]

_RTOL = 1e-9


@dataclass
class BoundCheck:
    """One theorem in one form checked along one run (see module docstring)."""

    theorem: str
    form: str
    quantity: str
    hypotheses: dict
    holds: bool | None
    max_ratio: float | None
    fitted_rate: float | None
    bound_rate: float | None
    constants: dict
    errata: str = ""
    start: str = "config"
    theta0: list = field(default_factory=list)
    note: str = ""
    t: np.ndarray | None = field(default=None, repr=False)
    observed: np.ndarray | None = field(default=None, repr=False)
    bound: np.ndarray | None = field(default=None, repr=False)
    kind: str = "flow"

    @property
    def hypotheses_hold(self) -> bool:
        return bool(all(self.hypotheses.values()))

    @property
    def rate_ratio(self):
        if self.fitted_rate is None or not self.bound_rate:
            return None
        return self.fitted_rate / self.bound_rate

    def to_dict(self) -> dict:
        return jsonable({
            "theorem": self.theorem, "form": self.form, "quantity": self.quantity,
            "hypotheses_hold": self.hypotheses_hold, "hypotheses": self.hypotheses,
            "holds": self.holds, "max_ratio": self.max_ratio, "fitted_rate": self.fitted_rate,
            "bound_rate": self.bound_rate, "rate_ratio": self.rate_ratio,
            "constants": self.constants, "errata": self.errata, "start": self.start,
            "theta0": list(map(float, self.theta0)), "run": self.kind, "note": self.note})


# ============================================================== linear DEQ (Sec. 3.1)
def _w(theta):
    t1, t2 = LinearDEQ.split(np.asarray(theta, float))
    return np.sum(t1 ** 2, axis=-1) + (t2 - 1.0) ** 2


def _phi(theta):
    t1, t2 = LinearDEQ.split(np.asarray(theta, float))
    return t1 / (1.0 - t2[..., None])


def linear_constants(problem, theta0) -> dict:
    r"""Σ-spectrum and the sphere/β constants of Thms 3.3–3.6 at θ₀ (linear DEQ).

    λ_min, λ_max, κ of Σ = E[X̃X̃ᵀ]; r0 = √w₀; R0 = R(θ₀) − R*; c0 = √(R0/λ_min);
    beta_lemma37 = min{|1 − θ₂(0)|, √w₀/(√2(c₀ + ‖ξ‖ + 1))} (Lemma 3.7);
    beta0 = √(w₀/(1 + (c₀ + ‖ξ‖)²)) (explicit Lemma 3.2 constant, errata E10).
    """
    if problem.model.kind != "linear":
        raise ValueError("linear_constants needs a linear-DEQ problem.")
    th = np.asarray(theta0, float)
    S = np.asarray(problem.sigma)
    ev = np.linalg.eigvalsh(S)
    lmin, lmax = float(ev[0]), float(ev[-1])
    if lmin <= 0:
        raise ValueError(f"E[XXᵀ] is singular (λ_min = {lmin:.3g}): Thms 3.3–3.6 assume Σ ≻ 0; "
                         "use data whose second-moment matrix is positive definite.")
    xi = np.asarray(problem.phi_star, float)
    w0 = float(_w(th))
    R0 = float(problem.risk(th) - problem.risk_star)
    c0 = np.sqrt(max(R0, 0.0) / lmin)
    nx = float(np.linalg.norm(xi))
    return {"lambda_min": lmin, "lambda_max": lmax, "kappa": lmax / lmin, "w0": w0,
            "r0": float(np.sqrt(w0)), "R0_minus_Rstar": R0, "c0": float(c0),
            "beta_lemma37": float(min(abs(1 - th[-1]), np.sqrt(w0) / (np.sqrt(2) * (c0 + nx + 1)))),
            "beta0_E10": float(np.sqrt(w0 / (1 + (c0 + nx) ** 2))),
            "xi": xi.tolist()}


def thm33(problem, traj, tol: float = 1e-6) -> list[BoundCheck]:
    r"""Thm 3.3: the flow's limit (last saved point) against the printed and corrected
    (errata E2) limits; ``holds`` iff ‖θ(t_end) − limit‖ ≤ tol·max(1, ‖limit‖) and the run
    has converged (outcome ``converged`` or ‖∇R‖ ≤ 1e-8 at the end)."""
    th = np.asarray(traj.theta)
    c = linear_constants(problem, th[0])
    hyp = {"Sigma_pd": c["lambda_min"] > 0, "theta2_0_ne_1": bool(th[0, -1] != 1.0)}
    converged = str(traj.outcome) == "converged" or float(traj.grad_norm[-1]) <= 1e-8
    out = []
    for form, lim, err in (("printed", printed_limit(problem, th[0]), "E2"),
                           ("corrected", predicted_limit(problem, th[0]), "E2")):
        e = float(np.linalg.norm(th[-1] - lim))
        scale = max(1.0, float(np.linalg.norm(lim)))
        d2 = np.sum((th - lim) ** 2, axis=1)
        try:
            fr = fit_rate(traj.t, d2).rate if form == "corrected" else None
        except ValueError:
            fr = None
        out.append(BoundCheck(
            "3.3", form, "‖θ(t_end) − limit‖", hyp, bool(converged and e <= tol * scale), None,
            fr, None, dict(c, **{f"limit_{form}": lim.tolist(), f"limit_error_{form}": e},
                 converged=converged),
            errata=err, theta0=th[0].tolist(), t=np.asarray(traj.t), observed=np.sqrt(d2),
            note=f"limit error {e:.3g}" + ("" if converged else " (run not converged)")))
    return out


def thm34(problem, traj) -> list[BoundCheck]:
    r"""Thm 3.4 along a flow: printed (β = min_t|1 − θ₂(t)|) and the two corrected bounds (E3)."""
    t = np.asarray(traj.t)
    th = np.asarray(traj.theta)
    c = linear_constants(problem, th[0])
    xi = np.asarray(problem.phi_star, float)
    v2 = np.sum((_phi(th) - xi) ** 2, axis=1)
    Rm = np.asarray(traj.risk) - float(problem.risk_star)
    lmin, r0sq, kappa = c["lambda_min"], c["w0"], c["kappa"]
    beta = float(np.min(np.abs(1 - LinearDEQ.split(th)[1])))
    hyp = {"Sigma_pd": lmin > 0, "theta2_0_ne_1": bool(th[0, -1] != 1.0)}
    out = []
    specs = [
        ("printed", "‖φ−ξ‖²", v2, v2[0] * np.exp(-4 * lmin * t / beta ** 2), 4 * lmin / beta ** 2,
         {"beta": beta}, "E3"),
        ("corrected", "R−R*", Rm, Rm[0] * np.exp(-4 * lmin * t / r0sq), 4 * lmin / r0sq, {}, "E3"),
        ("corrected", "‖φ−ξ‖²", v2, kappa * v2[0] * np.exp(-4 * lmin * t / r0sq),
         4 * lmin / r0sq, {}, "E3"),
    ]
    for form, qn, q, b, rate, extra, err in specs:
        cmp = compare_with_bound(t, q, b, rtol=_RTOL, atol=1e-15 * max(q[0], 1e-300))
        try:
            fr = fit_rate(t, q).rate
        except ValueError:
            fr = None
        out.append(BoundCheck("3.4", form, qn, hyp, cmp["holds"], cmp["max_ratio"], fr, rate,
                              dict(c, **extra), errata=err, theta0=th[0].tolist(), t=t,
                              observed=q, bound=b))
    return out


def _sample_side_set(theta0, beta, w0, p, n, rng):
    """Samples of Θ + B̄(β/2) (Lemma 3.7's set on θ₀'s side), incl. its inner boundary."""
    side = np.sign(1 - theta0[-1])
    rad = 2 * np.sqrt(w0) + beta / 2
    d = p - 1
    u = rng.normal(size=(n, d))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    r1 = rad * rng.random(n) ** (1 / d)
    gap = rng.uniform(beta / 2, rad, n)
    gap[: n // 3] = beta / 2                      # where |1 − θ₂| is smallest: ∇, ∇² largest
    th = np.concatenate([u * r1[:, None], (1 - side * gap)[:, None]], axis=1)
    return th


def lemma37_step_bound(problem, theta0, samples: int = 4000, seed: int = 0) -> dict:
    r"""η₀ of Lemma 3.7 with the E5 repair: min{1/L_Θ, β/(2G_Θ), β²/(4R(θ₀))}.

    L_Θ = sup‖∇²R‖₂ and G_Θ = sup‖∇R‖ over Θ + B̄(β/2) are sample maxima (random points
    plus the inner boundary |1 − θ₂| = β/2) — lower estimates of the suprema, so the
    returned η₀ is an upper estimate of the admissible step.
    """
    th0 = np.asarray(theta0, float)
    c = linear_constants(problem, th0)
    beta = c["beta_lemma37"]
    pts = _sample_side_set(th0, beta, c["w0"], th0.size, samples, np.random.default_rng(seed))
    H = np.asarray(_hessians(problem, jnp.asarray(pts)))
    G = np.asarray(_grads(problem, jnp.asarray(pts)))
    L = float(np.max(np.linalg.norm(H, ord=2, axis=(1, 2))))
    Gs = float(np.max(np.linalg.norm(G, axis=1)))
    R0 = float(problem.risk(th0))
    eta0 = min(1 / L, beta / (2 * Gs), beta ** 2 / (4 * R0) if R0 > 0 else np.inf)
    return {"beta": beta, "L_Theta": L, "G_Theta": Gs, "eta0": float(eta0)}


@eqx.filter_jit
def _hessians(problem, pts):
    return jax.vmap(jax.hessian(lambda th: problem.risk(th)))(pts)


@eqx.filter_jit
def _grads(problem, pts):
    return jax.vmap(problem.grad)(pts)


def thm36(problem, traj, step_size: float | None = None) -> list[BoundCheck]:
    r"""Thm 3.6 along a GD run: printed rate 1 − η/(4κw₀) and corrected 1 − ηλ_min/(2w₀) (E4),
    both with prefactor κ on ‖φ − ξ‖²; hypothesis η ≤ η₀ (Lemma 3.7, E5)."""
    s = np.asarray(traj.t, float)
    th = np.asarray(traj.theta)
    eta = float(step_size if step_size is not None else traj.per_member.get("step_size"))
    c = linear_constants(problem, th[0])
    lem = lemma37_step_bound(problem, th[0])
    xi = np.asarray(problem.phi_star, float)
    v2 = np.sum((_phi(th) - xi) ** 2, axis=1)
    kappa, w0, lmin = c["kappa"], c["w0"], c["lambda_min"]
    hyp = {"Sigma_pd": lmin > 0, "eta_le_eta0_lemma37": eta <= lem["eta0"],
           "no_crossing": str(traj.outcome) != "crossed"}
    out = []
    for form, q_rate, err in (("printed", eta / (4 * kappa * w0), "E4"),
                              ("corrected", eta * lmin / (2 * w0), "E4")):
        fac = 1 - q_rate
        b = kappa * v2[0] * np.power(max(fac, 0.0), s)
        cmp = compare_with_bound(s, v2, b, rtol=_RTOL, atol=1e-15 * max(v2[0], 1e-300))
        try:
            fr = fit_rate(s, v2).rate
        except ValueError:
            fr = None
        out.append(BoundCheck("3.6", form, "‖φ−ξ‖²", hyp, cmp["holds"], cmp["max_ratio"], fr,
                              float(-np.log(fac)) if fac > 0 else np.inf,
                              dict(c, **lem, eta=eta, contraction=fac), errata=err + ", E5",
                              theta0=th[0].tolist(), t=s, observed=v2, bound=b, kind="descent"))
    return out


# ======================================================== single-index DEQ (Sec. 3.2)
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


def _box_projector(R1, d2):
    def proj(th):
        th = np.array(th, float)
        n = np.linalg.norm(th[:-1])
        if n > R1:
            th[:-1] *= R1 / n
        th[-1] = np.clip(th[-1], -d2, d2)
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


def _extremum(problem, mask, pts, proj, which, refine=3):
    """min of λ_min (which=0) or max of E‖·‖⁴ (which=1) over pts, then Nelder–Mead refinement
    (projected onto the set) from the ``refine`` best points."""
    lam, m4 = (np.asarray(a) for a in _moments(problem, jnp.asarray(pts), mask))
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


def single_index_constants(problem, theta0, *, delta1=None, delta2=None, alpha=None,
                           seed: int = 0) -> dict:
    r"""Constants of Thms 3.8/3.9 for the single-index DEQ (see the module docstring).

    Returns L, delta1, delta2, alpha, beta_X, M, gamma, gamma_radius, rho_Theta (+ argmin),
    rho_ball (+ argmin, ball radius), lambda2 (+ argmax of E‖(X,y)‖⁴), lambda1_printed,
    lambda1_corrected, eta_max_printed/corrected (= λ₁/(2λ₂)), dist0 = ‖θ₀ − θ*‖, the
    printed and corrected initial-ball radii.
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
    if ok2:
        rho_T, arg_T = rho_infimum(problem, alpha=alpha, box=(R1, delta2), seed=seed)
        mask1 = jnp.ones(problem.w.shape)
        m4, arg_m4 = _extremum(problem, mask1, _grid("box", problem.n_params, R1, delta2,
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
    l1c = 4 * rho_B * gamma ** 2 / (1 + L * delta2)
    return {"L": L, "delta1": delta1, "delta2": delta2, "alpha": alpha, "beta_X": betaX,
            "sigma0": s0, "M": M, "gamma_radius": grad_r, "gamma": gamma,
            "rho_Theta": rho_T, "rho_Theta_argmin": None if arg_T is None else arg_T.tolist(),
            "rho_ball": rho_B, "rho_ball_argmin": arg_B.tolist(), "ball_radius_rho": ball_r,
            "sup_E_norm4": m4, "sup_E_norm4_argmax": None if arg_m4 is None else arg_m4.tolist(),
            "lambda2": lam2, "lambda1_printed": l1p, "lambda1_corrected": l1c,
            "eta_max_printed": l1p / (2 * lam2), "eta_max_corrected": l1c / (2 * lam2),
            "dist0": dist0, "radius_printed": min((1 + delta1) * nxi, delta2),
            "radius_corrected": min(delta1 * nxi, delta2), "theta_star": ts.tolist(),
            "monotone": bool(act.monotone)}


def _si_hyp(c, form):
    base = {"delta2_lt_1_over_L": c["L"] * c["delta2"] < 1, "beta_X_pos": c["beta_X"] > 0,
            "gamma_pos": c["gamma"] > 0, "sigma_monotone": c["monotone"]}
    if form == "printed":
        base["init_in_ball_(1+d1)|xi|,d2"] = c["dist0"] <= c["radius_printed"] * (1 + 1e-12)
        base["rho_Theta_pos"] = bool(c["rho_Theta"] > 1e-14)
    else:
        base["init_in_ball_d1|xi|,d2_(E7)"] = c["dist0"] <= c["radius_corrected"] * (1 + 1e-12)
        base["rho_ball_pos_(E8)"] = bool(c["rho_ball"] > 1e-14)
    return base


def _distance_to_minimiser(consts, t, th):
    """r = ‖θ − (ξ, 0)‖² along the run and its fitted exponential rate (None if unfittable)."""
    r = np.sum((th - np.asarray(consts["theta_star"])) ** 2, axis=1)
    try:
        return r, fit_rate(t, r).rate
    except ValueError:
        return r, None


def _distance_check(thm, form, t, th, r, fitted, bound, hyp, rate, consts, kind):
    cmp = compare_with_bound(t, r, bound, rtol=_RTOL, atol=1e-15 * max(r[0], 1e-300))
    return BoundCheck(thm, form, "‖θ−(ξ,0)‖²", hyp, cmp["holds"], cmp["max_ratio"], fitted,
                      rate, consts, errata="E6, E7, E8", theta0=th[0].tolist(), t=t,
                      observed=r, bound=bound, kind=kind)


def thm38(problem, traj, consts: dict) -> list[BoundCheck]:
    """Thm 3.8 along a flow: r(t) ≤ r(0)e^{−λ₁t}, λ₁ printed (2ργ²/(1+Lδ₂)) and corrected
    (4ρ_ballγ²/(1+Lδ₂); E6, E7, E8)."""
    t = np.asarray(traj.t)
    th = np.asarray(traj.theta)
    r, fitted = _distance_to_minimiser(consts, t, th)
    return [_distance_check("3.8", form, t, th, r, fitted, r[0] * np.exp(-lam * t),
                            _si_hyp(consts, form), float(lam), dict(consts), "flow")
            for form, lam in (("printed", consts["lambda1_printed"]),
                              ("corrected", consts["lambda1_corrected"]))]


def thm39(problem, traj, consts: dict, step_size: float | None = None) -> list[BoundCheck]:
    """Thm 3.9 along a GD run: r_s ≤ (1 − ηλ₁/2)^s r_0, hypothesis η ≤ λ₁/(2λ₂) (E6 for the
    corrected λ₁)."""
    s = np.asarray(traj.t, float)
    th = np.asarray(traj.theta)
    eta = float(step_size if step_size is not None else traj.per_member.get("step_size"))
    r, fitted = _distance_to_minimiser(consts, s, th)
    out = []
    for form, lam, emax in (("printed", consts["lambda1_printed"], consts["eta_max_printed"]),
                            ("corrected", consts["lambda1_corrected"], consts["eta_max_corrected"])):
        fac = 1 - eta * lam / 2
        hyp = dict(_si_hyp(consts, form), **{"eta_le_lambda1/(2lambda2)": bool(eta <= emax)})
        out.append(_distance_check("3.9", form, s, th, r, fitted,
                                   r[0] * np.power(max(fac, 0.0), s), hyp,
                                   float(-np.log(fac)) if fac > 0 else np.inf,
                                   dict(consts, eta=eta, contraction=fac), "descent"))
    return out


# ================================================================= one-call / the CLI
def check_theorems(cfg) -> list[BoundCheck]:
    """Run the flow (and GD if ``[descent]`` is given) of a :class:`RunConfig` (one θ₀) and
    check the theorems that apply: linear → 3.3, 3.4, 3.6; single-index → 3.8, 3.9 (also from
    a theory-appropriate start when θ₀ violates the corrected hypotheses)."""
    problem = cfg.problem
    th0 = np.asarray(cfg.theta0, float)
    if th0.ndim != 1:
        th0 = th0[0]
    t1 = float(cfg.flow.get("t1", 0.0))
    if t1 <= 0:
        raise ValueError("config [flow] needs `t1` > 0 for `flowdeq theory`.")
    eta = cfg.descent.get("step_size")
    steps = int(cfg.descent.get("steps", 0))
    kw = cfg.flow_kwargs()
    kw.setdefault("rtol", 1e-11)
    kw.setdefault("atol", 1e-13)
    out: list[BoundCheck] = []
    if problem.model.kind not in ("linear", "single-index"):
        raise ValueError("flowdeq theory checks the paper's theorems, which hold for its linear "
                         "and single-index DEQs only; use `diagnose` for any other model.")
    if problem.model.kind == "linear":
        fl = gradient_flow(problem, th0, t1, **kw)
        out += thm33(problem, fl) + thm34(problem, fl)
        if eta is not None and steps > 0:
            gd = gradient_descent(problem, th0, float(eta), steps)
            out += thm36(problem, gd, float(eta))
        return out
    th = cfg.table("theory", ("delta1", "delta2", "alpha"))
    starts = [("config", th0)]
    c0 = single_index_constants(problem, th0, **{k: th.get(k) for k in ("delta1", "delta2", "alpha")})
    if not (c0["dist0"] <= c0["radius_corrected"]):
        ts = np.asarray(c0["theta_star"])
        v = th0 - ts
        v = v / np.linalg.norm(v) if np.linalg.norm(v) > 0 else np.eye(ts.size)[0]
        starts.append(("theory", ts + 0.5 * min(c0["radius_corrected"], 0.5 / c0["L"]) * v))
    for label, s0 in starts:
        c = c0 if label == "config" else single_index_constants(
            problem, s0, **{k: th.get(k) for k in ("delta1", "delta2", "alpha")})
        try:
            fl = gradient_flow(problem, s0, t1, **kw)
        except ValueError as err:
            raise ValueError(f"flow from the {label} start failed: {err}") from None
        entries = thm38(problem, fl, c)
        if eta is not None and steps > 0:
            gd = gradient_descent(problem, s0, float(eta), steps)
            entries += thm39(problem, gd, c, float(eta))
        for e in entries:
            e.start = label
        out += entries
    return out


def _fmt(v, nd=3):
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "**no**"
    try:
        return f"{float(v):.{nd}g}"
    except (TypeError, ValueError):
        return str(v)


def theory_markdown(entries, title: str = "") -> str:
    """Markdown table of the checks (one row per theorem/form/quantity/start)."""
    lines = [f"# Theorem checks{': ' + title if title else ''}", "",
             "`holds`: the bound is met at every saved point (rtol 1e-9). `max ratio`: "
             "max_t observed/bound. `rate ratio`: fitted rate / bound rate (looseness of the "
             "exponent). Errata sections: docs/errata.md.", "",
             "| thm | form | start | run | quantity | hypotheses hold | failing hypotheses | "
             "holds | max ratio | fitted rate | bound rate | rate ratio | errata |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for e in entries:
        fail = ", ".join(k for k, v in e.hypotheses.items() if not v) or "–"
        lines.append(f"| {e.theorem} | {e.form} | {e.start} | {e.kind} | {e.quantity} | "
                     f"{_fmt(e.hypotheses_hold)} | {fail} | {_fmt(e.holds)} | {_fmt(e.max_ratio)} | "
                     f"{_fmt(e.fitted_rate)} | {_fmt(e.bound_rate)} | {_fmt(e.rate_ratio)} | "
                     f"{e.errata} |")
    keys = ["lambda_min", "lambda_max", "kappa", "w0", "beta", "beta_lemma37", "L_Theta",
            "G_Theta", "eta0", "eta", "L", "delta1", "delta2", "alpha", "beta_X", "M", "gamma",
            "rho_Theta", "rho_Theta_argmin", "rho_ball", "rho_ball_argmin", "lambda2",
            "lambda1_printed", "lambda1_corrected", "eta_max_printed", "eta_max_corrected",
            "dist0", "radius_printed", "radius_corrected", "limit_printed", "limit_error_printed",
            "limit_corrected", "limit_error_corrected"]
    seen = {}
    for e in entries:
        for k in keys:
            if k in e.constants and (e.start, k) not in seen:
                seen[(e.start, k)] = e.constants[k]
    if seen:
        lines += ["", "## Constants", "", "| start | constant | value |", "|---|---|---|"]
        for (st, k), v in seen.items():
            val = (np.array2string(np.asarray(v, float), precision=5) if isinstance(v, list)
                   else _fmt(v, 5))
            lines.append(f"| {st} | {k} | {val} |")
    return "\n".join(lines) + "\n"
