r"""Study ``activations``: local convergence rates of GD vs the theory's ρ and γ.

A deliberately small stand-in for the theory/rates modules being written separately:
γ = inf σ′(ω) for ω ∈ [0, ‖ξ‖] (the pre-activations ξx, x ∈ [0, 1], at the target),
ρ = λ_min E[(X, y)(X, y)ᵀ] at θ* = (ξ, 0) (y = f(X)), and the fitted rate is a
log-linear least-squares fit of ‖θ_s − θ*‖ over the last half of the GD run, per unit
flow time (per step / η).  Thm 3.8 predicts a rate ≥ 2ργ²/(1+Lδ₂) (errata E6: up to 4ργ²).
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ...models.activations import get_activation
from ...data import Uniform
from ...dynamics.descent import gradient_descent
from ...models import SingleIndexDEQ
from ...problem import Problem
from ...models.targets import SingleIndexTarget
from ._common import OI, fmt, loglinear_rate, save_fig, write_json, write_md
from ..._progress import Stages

NAME = "activations"
DESCRIPTION = "GD convergence rates vs ρ, γ (small local estimates) for sigmoid/tanh/softplus"
ACTS = ("sigmoid", "tanh", "softplus")


def run(out, quick=False):
    eta, steps = 0.5, (1500 if quick else 6000)
    fig, ax = plt.subplots(figsize=(6.4, 4.4), constrained_layout=True)
    summ = {"eta": eta, "steps": steps}
    cols = [OI["blue"], OI["vermillion"], OI["green"]]
    stages = Stages("study activations", total=len(ACTS))
    for act, c in zip(ACTS, cols):
        stages(f"{act}: GD, {steps} steps, and the rate fit")
        a = get_activation(act)
        P = Problem(SingleIndexDEQ(act, 1), SingleIndexTarget([2.0], act), Uniform(0, 1, 1, nodes=32))
        om = np.linspace(0, 2.0, 401)
        gamma = float(np.min(np.asarray(a.derivative(om))))
        X = np.asarray(P.X)[:, 0]
        y = np.asarray(P.f)
        w = np.asarray(P.w)
        M = np.array([[w @ (X * X), w @ (X * y)], [w @ (X * y), w @ (y * y)]])
        rho = float(np.linalg.eigvalsh(M)[0])
        th0 = np.array([1.7, 0.15])
        g = gradient_descent(P, th0, eta, steps, converged_tol=0.0)
        d = np.linalg.norm(g.theta - np.array([2.0, 0.0]), axis=1)
        half = len(d) // 2
        k = loglinear_rate(g.t[half:] * eta, d[half:], lo=1e-12)
        ax.semilogy(g.t * eta, d, color=c, label=f"{act}: fit {k:.3g}/t, 2ργ² = {2 * rho * gamma ** 2:.2g}")
        summ[act] = {"gamma": gamma, "rho": rho, "L": float(a.lipschitz), "fitted_rate": k,
                     "two_rho_gamma2": 2 * rho * gamma ** 2, "ratio": k / (2 * rho * gamma ** 2),
                     "final_distance": float(d[-1])}
    ax.set_xlabel("flow time t = s·η")
    ax.set_ylabel("‖θ − (ξ, 0)‖")
    ax.set_title("GD distance to the target per activation")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    save_fig(fig, out, "activation_rates")
    write_json(out, "summary.json", summ)
    L = ["# Study `activations`", "",
         f"GD η = {eta}, {steps} steps from θ₀ = (1.7, 0.15), f = σ(2x), X ~ Unif[0, 1]. "
         "Small local estimates (the full theory module is separate): γ = min σ′ on [0, 2], "
         "ρ = λ_min E[(X, f(X))(X, f(X))ᵀ]; the distance-to-target decay rate is fitted per unit "
         "flow time over the last half of the run.", "",
         "| activation | L | γ | ρ | 2ργ² (Thm 3.8 bound, δ₂→0) | fitted rate | ratio |", "|---|---|---|---|---|---|---|"]
    for a in ACTS:
        s = summ[a]
        L.append(f"| {a} | {fmt(s['L'])} | {fmt(s['gamma'])} | {fmt(s['rho'], '.3e')} | "
                 f"{fmt(s['two_rho_gamma2'], '.3e')} | {fmt(s['fitted_rate'], '.3e')} | {fmt(s['ratio'], '.3g')} |")
    L += ["", "- ratio ≥ 1 means the observed rate respects the theorem's lower bound; a large "
          "ratio means the bound is loose.", "", "Figure: activation_rates.png/pdf."]
    write_md(out, L)
    return summ
