r"""Study ``rank-deficient`` (Open Question 2): linear DEQ with singular E[XXᵀ].

d = 2, X ~ N(0, C) with C = [[1, 1], [1, 1]] (rank 1), ξ = (2, −1).  Only the
component of φ = θ₁/(1−θ₂) along range C is identified.  Because ∇_{θ₁}R = 2Σv/(1−θ₂)
lies in range Σ, the null-space component of θ₁ is frozen; the flow keeps
‖θ₁‖² + (θ₂−1)² (Thm 3.1) and converges to a minimiser with φ − ξ ∈ null Σ.
"""
from __future__ import annotations

import numpy as np

from ...data import Gaussian
from ...models import LinearDEQ
from ...problem import Problem
from ...ensembles.sweep import run_sweep, sample_starts
from ...models.targets import LinearTarget
from ._common import fmt, write_json, write_md
from ...ensembles.singularity import analyze_sweep
from ...plot.sweeps import write_analysis
from ..._progress import report

NAME = "rank-deficient"
DESCRIPTION = "Open Question 2: linear DEQ flow with singular E[XXᵀ] (d = 2, rank 1)"


def run(out, quick=False):
    P = Problem(LinearDEQ(2), LinearTarget([2.0, -1.0]), Gaussian([0.0, 0.0], [[1, 1], [1, 1]], nodes=6))
    S = np.asarray(P.sigma)
    w, V = np.linalg.eigh(S)
    null = V[:, np.argmin(w)]
    n = 12 if quick else 64
    st = sample_starts(P, [0.0, 0.0, 0.0], 1.0, n, seed=3)
    report(f"study rank-deficient: {n} flows to t = 50 (d = 2, rank-1 Σ)")
    res = run_sweep(P, st, None, kind="flow", settings={"t1": 50.0, "n_save": 101},
                    chunk_size=n, progress=False)
    an = analyze_sweep(P, res)
    write_analysis(an, out, problem=P)
    thf = res["theta_final"]
    ok = res["outcome"] != "ill_posed_start"
    null0, nullf = st[:, :2] @ null, thf[:, :2] @ null
    r0 = np.sqrt(np.sum(st[:, :2] ** 2, 1) + (st[:, 2] - 1) ** 2)
    rf = np.sqrt(np.sum(thf[:, :2] ** 2, 1) + (thf[:, 2] - 1) ** 2)
    phi = thf[:, :2] / (1 - thf[:, 2:3])
    resid = (phi - np.array([2.0, -1.0])) @ V[:, np.argmax(w)]
    side = np.sign(1 - st[:, 2]) == np.sign(1 - thf[:, 2])
    summ = {"eigenvalues_sigma": w, "members": n, "outcomes": an["summary"]["outcome_counts"],
            "max_null_component_drift": float(np.max(np.abs(nullf - null0)[ok])),
            "max_rel_radius_drift": float(np.max(np.abs(rf - r0)[ok] / r0[ok])),
            "max_final_risk": float(np.nanmax(res["risk_final"][ok])),
            "max_identified_residual": float(np.max(np.abs(resid[ok]))),
            "closest_approach_min": an["summary"]["closest_approach"]["min"],
            "all_stay_on_their_side": bool(np.all(side[ok])),
            "phi_null_component_spread": float(np.std((phi @ null)[ok]))}
    write_json(out, "summary.json", summ)
    write_md(out, ["# Study `rank-deficient` (Open Question 2)", "",
                   "Linear DEQ, d = 2, X ~ N(0, [[1,1],[1,1]]) (Σ has eigenvalues "
                   f"{fmt(w[0], '.2e')}, {fmt(w[1])}), ξ = (2, −1); {n} flows from θ₀ ~ N(0, I₃), t ≤ 50.", "",
                   f"- Outcomes: {summ['outcomes']}.",
                   f"- The flow stays well defined: the null-space component of θ₁ never moves "
                   f"(max drift {fmt(summ['max_null_component_drift'], '.1e')}), the radius ‖θ − (0, 0, 1)‖ is conserved "
                   f"(max rel. drift {fmt(summ['max_rel_radius_drift'], '.1e')}), and no flow crosses θ₂ = 1 "
                   f"(all stay on their side: {summ['all_stay_on_their_side']}; closest approach min |1−θ₂| = "
                   f"{fmt(summ['closest_approach_min'], '.3g')}).",
                   f"- Where it goes: to the risk-zero set (max final R {fmt(summ['max_final_risk'], '.1e')}); the identified "
                   f"part of φ − ξ vanishes (max {fmt(summ['max_identified_residual'], '.1e')}), while φ's null-space "
                   f"component is not learned — it is set by θ₀ (spread across starts {fmt(summ['phi_null_component_spread'])}).",
                   "", "Files: members.csv, analysis.json, closest_approach.png/pdf."])
    return summ
