r"""Study ``basins`` (Open Question 4): where GD from θ₀ reaches (ξ, 0), per activation.

Single-index DEQ, f(x) = σ(2x), X ~ Unif[0, 1] (quadrature).  GD (η = 0.5) from a grid of
θ₀ over θ₁ ∈ [−4, 6] and the whole contractive strip |θ₂| < 0.95/L.  Label: ``reached``
(‖θ − (ξ, 0)‖ < 0.05 at the end), otherwise GD's event (noncontractive = left the strip,
diverged, …) or ``max_steps`` (still on its way).  The theorem's ball has radius δ₁‖ξ‖
(errata E7) — far smaller than this grid.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ...data import Uniform
from ...models import SingleIndexDEQ
from ...plot.portraits import outcome_map_figure
from ...problem import Problem
from ...ensembles.sweep import grid_starts, run_sweep
from ...models.targets import SingleIndexTarget
from ._common import save_fig, write_json, write_md
from ..._progress import Stages

NAME = "basins"
DESCRIPTION = "Open Question 4: GD basin of (ξ, 0) for sigmoid/tanh/softplus/ReLU, with event labels"
ACTS = ("sigmoid", "tanh", "softplus", "relu")


def run(out, quick=False):
    n = 9 if quick else 25
    steps = 400 if quick else 3000
    fig, axes = plt.subplots(2, 2, figsize=(11, 9), constrained_layout=True)
    summ = {"grid": n, "steps": steps, "eta": 0.5}
    stages = Stages("study basins", total=len(ACTS))
    for act, ax in zip(ACTS, axes.ravel()):
        stages(f"{act}: GD from a {n}×{n} grid of starts, {steps} steps")
        P = Problem(SingleIndexDEQ(act, 1), SingleIndexTarget([2.0], act), Uniform(0, 1, 1, nodes=16))
        lim = 0.95 / float(P.model.lipschitz)
        xs, ys = np.linspace(-4, 6, n), np.linspace(-lim, lim, n)
        st = grid_starts(P, (-4, 6, n), (-lim, lim, n))
        r = run_sweep(P, st, None, kind="descent", step_sizes=[0.5],
                      settings={"steps": steps, "converged_tol": 1e-9}, chunk_size=len(st),
                      progress=False)
        d = np.linalg.norm(r["theta_final"] - np.array([2.0, 0.0]), axis=1)
        lab = np.where(d < 0.05, "reached", r["outcome"])
        rf = r["risk_final"]
        conv = (lab == "converged") & (d >= 0.05)
        # a zero-risk end point away from (ξ, 0) is another global minimiser (ReLU on x ≥ 0 is
        # linear, so the whole line θ₁/(1−θ₂) = ξ fits); otherwise a spurious stationary point
        lab = np.where(conv & (rf < 1e-12), "other minimiser", lab)
        lab = np.where(conv & (rf >= 1e-12), "stuck (R > 0)", lab)
        ev = np.where(r["event_step"] >= 0, r["event_step"], np.nan).astype(float)
        outcome_map_figure(xs, ys, lab.reshape(n, n), ev.reshape(n, n), ax=ax,
                           title=f"{act}: GD η = 0.5, {steps} steps", time_label="event step")
        ax.plot([2], [0], "*", color="k", ms=12)
        vals, cnt = np.unique(lab, return_counts=True)
        stuck = lab == "stuck (R > 0)"
        summ[act] = {"counts": {str(k): int(c) for k, c in zip(vals, cnt)},
                     "stuck_risk_median": float(np.median(rf[stuck])) if stuck.any() else None,
                     "stuck_theta1_max": float(np.max(r["theta_final"][stuck, 0])) if stuck.any() else None,
                     "reached_fraction": float(np.mean(lab == "reached"))}
    save_fig(fig, out, "basins")
    write_json(out, "summary.json", summ)
    L = ["# Study `basins` (Open Question 4)", "",
         f"GD, η = 0.5, {steps} steps, {n}×{n} grid of θ₀ over θ₁ ∈ [−4, 6], |θ₂| ≤ 0.95/L.", "",
         "| activation | reached (ξ, 0) | labels |", "|---|---|---|"]
    for a in ACTS:
        L.append(f"| {a} | {summ[a]['reached_fraction']:.2f} | {summ[a]['counts']} |")
    L += [""] + [f"- {a}: stuck points have median R = {summ[a]['stuck_risk_median']:.3g}, "
                 f"max θ₁ = {summ[a]['stuck_theta1_max']:.3g}." for a in ACTS
                 if summ[a]["stuck_risk_median"] is not None]
    L += ["", "- `noncontractive` = GD left the strip |θ₂| < 1/L (the equilibrium is lost); "
          "`max_steps` = still travelling (slow, not failed); `reached` = within 0.05 of (ξ, 0).",
          "- Read the counts with the step budget in mind: a large `max_steps` share means the "
          "budget, not the basin, is the limit (convergence near (ξ, 0) is slow, cf. the paper study). "
          "Hard failures are `noncontractive` (exit from the strip); "
          "`other minimiser` = zero risk away from (ξ, 0): ReLU(2x) is linear on x ≥ 0, so every θ "
          "with θ₁/(1−θ₂) = ξ, θ₁ > 0, |θ₂| < 1 fits exactly — the target is not identifiable and the "
          "theorem's uniqueness fails for ReLU; `stuck (R > 0)` = zero-gradient points with positive "
          "risk (ReLU off on every x, θ₁ ≤ 0 region).",
          "", "Figure: basins.png/pdf (colour = label, pale = early event)."]
    write_md(out, L)
    return summ
