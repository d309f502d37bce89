r"""flowdeq's own findings beyond the paper (docs/findings.md) and the random-problem audit.

* **F1** :func:`decrease_table` — −r′/r = 2(θ − θ*)ᵀ∇R/‖θ − θ*‖² on the contraction strip
  for several data laws, targets ξ and activations (its sign is proved in findings.md).
* **F2** :func:`~flowdeq.analysis.theory.single_index.decrease_rate` — Cor. 3.1's rate
  λ* for tanh (any σ), and the flows that obey it.
* **F3** :func:`gd_rate_slack` — how far the corrected Thm 3.6 rate is from the GD run.
* **F4** :func:`bias_rho_zero` — ρ = 0 at θ₁ = (0, b) with a bias feature.
* **Audit** :func:`audit_linear`, :func:`audit_single_index` — every corrected form on one
  random problem (d ≤ 4, κ up to 10³, both sides of θ₂ = 1, near and far); the verdict of
  each check is returned, and none may be ``violated``.
"""
from __future__ import annotations

import numpy as np

from ...data import Gaussian, Uniform
from ...dynamics.descent import gradient_descent
from ...dynamics.flow import gradient_flow
from ...models import LinearDEQ, LinearTarget, SingleIndexDEQ, SingleIndexTarget
from ...problem import Problem
from ..continuous import DescentPath, FlowPath
from . import general, linear, single_index
from ._verdict import VIOLATED

__all__ = ["decrease_table", "gd_rate_slack", "bias_rho_zero", "random_linear",
           "random_single_index", "audit_linear", "audit_single_index", "AUDIT_FLOW"]

AUDIT_FLOW = {"rtol": 1e-11, "atol": 1e-13, "max_steps": 20_000, "save_steps": True}


# ============================================================================ F1
def decrease_table(cases, n: int = 121) -> list[dict]:
    r"""min over a grid of the strip {L|θ₂| ≤ 0.99} (θ₁ ∈ θ*₁ + [−5‖ξ‖, 4‖ξ‖]·ξ̂... see
    :func:`~flowdeq.analysis.theory.single_index.strip_decrease`) of −r′/r, one row per
    (activation, data law, ξ) in ``cases`` = [(label, problem), …]."""
    rows = []
    for label, pr in cases:
        ts = single_index.theta_star(pr)
        nxi = float(np.linalg.norm(ts[:-1]))
        T1, T2, v = single_index.strip_decrease(pr, (-4 * nxi - 1, 5 * nxi + 1), n, n)
        ok = np.isfinite(v)
        i = int(np.argmin(np.where(ok, v, np.inf)))
        rows.append({"case": label, "min_rate": float(v.flat[i]),
                     "argmin": [float(T1.flat[i]), float(T2.flat[i])],
                     "nonpositive": int(np.sum(v[ok] <= 0)), "points": int(ok.sum())})
    return rows


# ============================================================================ F3
def gd_rate_slack(problem, theta0, eta, steps) -> dict:
    r"""The corrected Thm 3.6 bound R_s ≤ (1 − c)^s R₀, c = ηλ_min/(2w₀), against a GD run:
    ``max_ratio`` = max_{s≥1} R_s/bound_s and the step where it is attained (s = 1: both
    are ≈ R₀(1 − small), so a ratio near 1 there says nothing about the rate), and
    ``step_slack`` = min_s (1 − R_{s+1}/R_s)/c, how many times faster than the bound's the
    slowest step contracts (≥ 3.2 under Lemma 3.7's step conditions, docs/findings.md F3)."""
    c = linear.linear_constants(problem, theta0)
    gd = gradient_descent(problem, theta0, eta, steps)
    R = np.asarray(gd.risk) - float(problem.risk_star)
    rate = eta * c["lambda_min"] / (2 * c["w0"])
    s = np.arange(len(R))
    live = R > 1e-20 * R[0]
    ratio = np.where(live, R / (R[0] * (1 - rate) ** s), -np.inf)
    ratio[0] = -np.inf
    i = int(np.argmax(ratio))
    step = np.where(live[1:] & live[:-1], (1 - R[1:] / np.where(live[:-1], R[:-1], 1.0)) / rate,
                    np.inf)
    return {"max_ratio": float(ratio[i]), "at_step": i, "step_slack": float(np.min(step)),
            "rate": rate, "steps": len(R) - 1}


# ============================================================================ F4
def bias_rho_zero(activation="sigmoid", theta2: float = 0.3, b: float = 0.7):
    r"""λ_min E[(X̃, y)(X̃, y)ᵀ] at θ = (0, b, θ₂) for a single-index DEQ with a bias feature
    on U[0,1]: y_θ ≡ y* (the fixed point of y = σ(b + θ₂y)), so uᵀ(X, 1, y) = 0 for
    u = (0, y*, −1) and λ_min = 0.  Returns (λ_min, y*, λ_min at θ = (1, b, θ₂))."""
    pr = Problem(SingleIndexDEQ(activation, 1, bias=True), SingleIndexTarget([2.0], activation),
                 Uniform(0.0, 1.0, 1, nodes=32))
    mask = np.ones(len(np.asarray(pr.w)))
    lam0, _ = single_index._moments(pr, np.array([[0.0, b, theta2]]), mask)
    lam1, _ = single_index._moments(pr, np.array([[1.0, b, theta2]]), mask)
    y = np.asarray(pr.output(np.array([0.0, b, theta2])))
    return float(lam0[0]), float(y[0]), float(lam1[0])


# ========================================================================= audit
def random_linear(seed: int):
    r"""A random linear problem: d ∈ {1..4}, Σ with κ ∈ [1, 10³] (log-uniform) and scale
    e^{U(−2, 1)}, ξ ~ N(0, I), θ₂(0) = 1 ± u (u log-uniform in [0.02, 3]: near and far from
    the singular hyperplane, both sides), θ₁(0) = a(1 − θ₂(0))ξ + noise (noise scale
    log-uniform in [1e-2, 3]: near and far from the minimiser line).  X ~ N(0, Σ) by
    2-node Gauss–Hermite per axis (Σ exact)."""
    rng = np.random.default_rng(seed)
    d = int(rng.integers(1, 5))
    Q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    kappa = 10 ** rng.uniform(0, 3)
    ev = np.exp(rng.uniform(-2, 1)) * np.geomspace(1.0, 1.0 / kappa, d) if d > 1 else \
        np.array([np.exp(rng.uniform(-2, 1))])
    S = (Q * ev) @ Q.T
    S = (S + S.T) / 2
    xi = rng.standard_normal(d)
    side = rng.choice([-1.0, 1.0])
    u = 10 ** rng.uniform(np.log10(0.02), np.log10(3.0))
    noise = 10 ** rng.uniform(-2, np.log10(3.0))
    th2 = 1 - side * u
    th1 = rng.uniform(0.2, 1.5) * (1 - th2) * xi + noise * rng.standard_normal(d)
    pr = Problem(LinearDEQ(d), LinearTarget(xi), Gaussian(np.zeros(d), S, nodes=2))
    return pr, np.concatenate([th1, [th2]]), {"d": d, "kappa": float(np.linalg.cond(S)),
                                              "side": side, "gap": u, "noise": noise}


def random_single_index(seed: int):
    r"""A random single-index problem: σ ∈ {sigmoid, tanh, softplus}, d ∈ {1..4}, X ~
    U[0,1]^d or N(0, I) (quadrature), ‖ξ‖ ∈ [0.5, 3], θ₀ at distance ρ₀ from θ* (ρ₀
    log-uniform in [0.02, 0.9]/L: near and far, θ₂ of either sign), δ₁ = ρ₀/‖ξ‖, δ₂ = ρ₀."""
    rng = np.random.default_rng(seed)
    act = ["sigmoid", "tanh", "softplus"][int(rng.integers(0, 3))]
    d = int(rng.integers(1, 5))
    nodes = {1: 24, 2: 8, 3: 5, 4: 4}[d]
    data = (Uniform(0.0, 1.0, d, nodes=nodes) if rng.random() < 0.5 else
            Gaussian(np.zeros(d), np.eye(d), nodes=nodes))
    xi = rng.standard_normal(d)
    xi *= rng.uniform(0.5, 3.0) / np.linalg.norm(xi)
    pr = Problem(SingleIndexDEQ(act, d), SingleIndexTarget(xi, act), data)
    L = float(pr.model.lipschitz)
    r0 = 10 ** rng.uniform(np.log10(0.02), np.log10(0.9)) / L
    v = rng.standard_normal(d + 1)
    v /= np.linalg.norm(v)
    th0 = np.concatenate([xi, [0.0]]) + r0 * v
    return pr, th0, {"activation": act, "d": d, "law": data.describe()["law"], "r0_L": r0 * L}


def _verdicts(checks):
    return [(c.theorem, c.form, c.quantity, c.verdict, c.reason) for c in checks]


def audit_linear(seed: int, t_factor: float = 60.0, gd_steps: int = 200) -> dict:
    r"""Every corrected linear statement on :func:`random_linear` ``(seed)``: the flow to
    t₁ = t_factor·w₀/(4λ_min) (Thm 3.1, Lemma 3.2 explicit, Thm 3.3 corrected, Thm 3.4
    corrected, Lyapunov) and GD at η = η₀ (E5) for ``gd_steps`` steps (Lemma 3.5 with L_Θ,
    Lemma 3.7 corrected and (8), Thm 3.6 corrected and its PL step)."""
    pr, th0, info = random_linear(seed)
    c = linear.linear_constants(pr, th0)
    t1 = t_factor * c["w0"] / (4 * c["lambda_min"])
    fl = FlowPath(pr, gradient_flow(pr, th0, t1, **AUDIT_FLOW))
    checks = [linear.thm31(pr, fl)] + linear.lemma32(pr, fl, c)[1:]
    checks += [e for e in linear.thm33(pr, fl) + linear.thm34(pr, fl) if e.form == "corrected"]
    checks.append(general.lyapunov(pr, fl))
    c37 = linear.lemma37_constants(pr, th0)
    dp = DescentPath(pr, gradient_descent(pr, th0, c37["eta0"], gd_steps), c37["eta0"])
    checks.append(general.lemma35(pr, dp, L=c37["L_Theta"], L_name="L_Θ"))
    checks += [e for e in linear.lemma37(pr, dp, c37) if e.form != "printed"]
    checks += [e for e in linear.thm36(pr, dp, consts=c37) if "corrected" in e.form]
    return {"seed": seed, "kind": "linear", **info, "eta0": c37["eta0"],
            "flow_outcome": fl.outcome, "checks": _verdicts(checks),
            "violated": [v for v in _verdicts(checks) if v[3] == VIOLATED]}


def audit_single_index(seed: int, t1: float = 200.0, gd_steps: int = 100) -> dict:
    r"""Every corrected single-index statement on :func:`random_single_index` ``(seed)``:
    Assumptions, Thm 3.8 corrected (+ ρ_ball > 0, (17)), F1 along the flow, Cor. 3.1
    (corrected, flowdeq), Lyapunov; GD at η = λ₁/(2λ₂) (corrected): Lemma 3.5, Thm 3.9
    corrected and its proof steps."""
    pr, th0, info = random_single_index(seed)
    d0 = float(np.linalg.norm(th0 - single_index.theta_star(pr)))
    nxi = float(np.linalg.norm(np.asarray(pr.target.xi)))
    c = single_index.single_index_constants(pr, th0, delta1=d0 / nxi, delta2=d0)
    fl = FlowPath(pr, gradient_flow(pr, th0, t1, **AUDIT_FLOW))
    checks = [e for e in single_index.thm38(pr, fl, c) if "printed" not in e.form]
    checks += single_index.flowdeq_decrease(pr, fl, c)
    checks += single_index.cor31(pr, fl, c, forms=("corrected", "flowdeq"))
    checks.append(general.lyapunov(pr, fl))
    eta = c["eta_max_corrected"]
    if np.isfinite(eta) and eta > 0:
        dp = DescentPath(pr, gradient_descent(pr, th0, eta, gd_steps), eta)
        checks.append(general.lemma35(pr, dp))
        checks += [e for e in single_index.thm39(pr, dp, c) if "printed" not in e.form]
    return {"seed": seed, "kind": "single-index", **info, "lambda_star": c.get("lambda_star"),
            "flow_outcome": fl.outcome, "checks": _verdicts(checks),
            "violated": [v for v in _verdicts(checks) if v[3] == VIOLATED]}
