#!/usr/bin/env python
"""The numbers and figures of docs/findings.md (flowdeq's findings beyond arXiv 2511.16976).

    python studies/errata/findings.py --out results/findings           # every finding
    python studies/errata/findings.py --out /tmp/f --quick             # coarser grids, fewer runs
    python studies/errata/findings.py --out /tmp/f F1 F3               # some of F1 F2 F3 F4

F1  −r′/r = 2(θ−θ*)ᵀ∇R/‖θ−θ*‖² over the contraction strip: the Sec. 4.2 set-up (U[0,1],
    ξ = 2, θ₁ ∈ [−8, 8], |θ₂| ≤ 0.99/L, 321 × 199 grid, 96 Gauss–Legendre nodes) for sigmoid,
    tanh, softplus, then a map over data laws × ξ × activations.
F2  Cor. 3.1 for tanh with ξ = 0.5 on the ball of radius 0.99 (which holds θ₁ = 0, where ρ = 0):
    λ* = min −r′/r over the ball, and 8 flows from its boundary region checked against it.
F3  The corrected Thm 3.6 rate on the 60 first problems of the errata's E4 sweep
    (studies/errata/reproduce.py, seeds 3600+k, its step-size rule).
F4  ρ = 0 with a bias feature: λ_min along θ₁ = (a, b) through a = 0 for three activations.
Writes findings.json and F1, F2, F3, F4 (.png and .pdf).
"""
import argparse
import json
import os
import sys
import time

import matplotlib
import numpy as np

matplotlib.use("Agg")

import flowdeq as fd  # noqa: E402
from flowdeq.analysis.continuous import FlowPath  # noqa: E402
from flowdeq.analysis.theory import single_index  # noqa: E402
from flowdeq.analysis.theory.findings import bias_rho_zero, decrease_table, gd_rate_slack  # noqa: E402
from flowdeq.plot import save_fig  # noqa: E402
from flowdeq.plot.findings import bias_figure, decay_figure, slack_figure, strip_figure  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def _si(act, xi, data):
    xi = np.atleast_1d(np.asarray(xi, float))
    return fd.Problem(fd.SingleIndexDEQ(act, xi.size), fd.SingleIndexTarget(xi, act), data)


def f1(out, quick):
    n1, n2 = (81, 51) if quick else (321, 199)
    res, panels = {}, []
    for act in ("sigmoid", "tanh", "softplus"):
        pr = _si(act, 2.0, fd.Uniform(0, 1, 1, nodes=96))
        T1, T2, v = single_index.strip_decrease(pr, (-8.0, 8.0), n1, n2)
        ok = np.isfinite(v)
        i = int(np.nanargmin(v))
        res[act] = {"min_rate": float(v.flat[i]), "argmin": [float(T1.flat[i]), float(T2.flat[i])],
                    "nonpositive": int(np.sum(v[ok] <= 0)), "points": int(ok.sum())}
        panels.append((act, T1, T2, v, pr.model.lipschitz, [2.0, 0.0]))
        print(f"F1 {act}: {res[act]}", flush=True)
    save_fig(strip_figure(panels, "F1: −r′/r over the contraction strip, U[0,1], ξ = 2")[0],
             out, "F1")
    laws = {"U[0,1]": fd.Uniform(0, 1, 1, nodes=48), "U[-1,1]": fd.Uniform(-1, 1, 1, nodes=48),
            "N(0,1)": fd.Gaussian([0.0], [[1.0]], nodes=40),
            "U[0,1]^2": fd.Uniform(0, 1, 2, nodes=16)}
    xis = [0.5, 2.0, 8.0] if not quick else [0.5, 4.0]
    cases = []
    for act in ("sigmoid", "tanh", "softplus"):
        for law, data in laws.items():
            for x in xis:
                xi = [x] if data.dim == 1 else [x / np.sqrt(2), -x / np.sqrt(2)]
                cases.append((f"{act} | {law} | ‖ξ‖ = {x:g}", _si(act, xi, data)))
    table = decrease_table(cases, n=41 if quick else 121)
    for row in table:
        print(f"F1 map {row['case']}: min {row['min_rate']:.3g}, ≤ 0 at {row['nonpositive']}"
              f"/{row['points']}", flush=True)
    res["map"] = table
    return res


def f2(out, quick):
    pr = _si("tanh", 0.5, fd.Uniform(0, 1, 1, nodes=32))
    lam, arg = single_index.decrease_rate(pr, 0.99)
    ts = np.array([0.5, 0.0])
    runs, checks = [], []
    angles = np.linspace(0, 2 * np.pi, 3 if quick else 8, endpoint=False) + 0.3
    for a in angles:
        th0 = ts + 0.98 * np.array([np.cos(a), np.sin(a)])
        c = single_index.single_index_constants(pr, th0, alpha=1.0, rate=False)
        c["lambda_star"] = lam
        tr = fd.gradient_flow(pr, th0, 500.0 if quick else 3000.0, rtol=1e-11, atol=1e-13,
                              save_steps=True)
        row = [e for e in single_index.cor31(pr, FlowPath(pr, tr), c, forms=("flowdeq",))][0]
        runs.append((np.asarray(tr.t), np.sum((np.asarray(tr.theta) - ts) ** 2, axis=1)))
        checks.append({"theta0": th0.tolist(), "verdict": row.verdict, "worst": row.worst,
                       "rho_ball": c["rho_ball"], "outcome": str(tr.outcome)})
        print(f"F2 θ₀ = {np.round(th0, 3)}: {row.verdict} (worst {row.worst:.4g})", flush=True)
    save_fig(decay_figure(runs, lam, "F2: tanh, ξ = 0.5, flows from ‖θ₀ − θ*‖ = 0.98")[0],
             out, "F2")
    return {"lambda_star": lam, "argmin": arg.tolist(), "flows": checks}


def f3(out, quick):
    sys.path.insert(0, HERE)
    import reproduce as ref   # the errata's independent generator and step-size rule
    rows = []
    for k in range(20 if quick else 60):
        rng = np.random.default_rng(3600 + k)
        d, S, xi, th0 = ref.random_linear_problem(rng)
        eta = ref.gd_check(th0, S, xi, 400)["eta"]
        pr = fd.Problem(fd.LinearDEQ(d), fd.LinearTarget(xi), fd.Gaussian(np.zeros(d), S, nodes=2))
        r = gd_rate_slack(pr, th0, eta, 400)
        rows.append({"seed": 3600 + k, "d": d, "eta": eta, **r})
    slack = np.array([r["step_slack"] for r in rows])
    mr = np.array([r["max_ratio"] for r in rows])
    at = np.array([r["at_step"] for r in rows])
    print(f"F3: max ratio {mr.max():.5f} (at steps {sorted(set(at.tolist()))}); step slack min "
          f"{slack.min():.3g}, median {np.median(slack):.3g}", flush=True)
    save_fig(slack_figure(slack, mr, at, "F3: the corrected Thm 3.6 rate on the E4 sweep")[0],
             out, "F3")
    return {"runs": rows, "max_ratio": float(mr.max()), "at_steps": sorted(set(at.tolist())),
            "slack_min": float(slack.min()), "slack_median": float(np.median(slack))}


def f4(out, quick):
    res, curves = {}, []
    a = np.linspace(-2, 2, 81)
    for act in ("sigmoid", "tanh", "softplus"):
        lam0, ystar, lam1 = bias_rho_zero(act)
        pr = fd.Problem(fd.SingleIndexDEQ(act, 1, bias=True), fd.SingleIndexTarget([2.0], act),
                        fd.Uniform(0.0, 1.0, 1, nodes=32))
        th = np.stack([a, np.full_like(a, 0.7), np.full_like(a, 0.3)], axis=1)
        lam, _ = single_index._moments(pr, th, np.ones(32))
        curves.append((act, a, np.asarray(lam)))
        c = single_index.single_index_constants(pr, np.array([1.9, 0.05, 0.1]), alpha=2.0,
                                                rate=False)
        res[act] = {"lambda_min_at_a0": lam0, "y_star": ystar, "lambda_min_at_a1": lam1,
                    "rho_Theta": c["rho_Theta_raw"], "rho_Theta_argmin": c["rho_Theta_argmin"],
                    "nu_A3": c["nu_A3"], "structural_zero": c["structural_zero"]}
        print(f"F4 {act}: {res[act]}", flush=True)
    save_fig(bias_figure(curves, "F4: with a bias feature λ_min = 0 at a = 0")[0], out, "F4")
    return res


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("items", nargs="*", default=["F1", "F2", "F3", "F4"])
    ap.add_argument("--out", required=True)
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args(argv)
    os.makedirs(a.out, exist_ok=True)
    got = {}
    for item in a.items:
        t0 = time.time()
        got[item] = {"F1": f1, "F2": f2, "F3": f3, "F4": f4}[item](a.out, a.quick)
        print(f"[{item}: {time.time() - t0:.0f} s]", flush=True)
    path = os.path.join(a.out, "findings.json")
    old = json.load(open(path)) if os.path.exists(path) else {}
    old.update(got)
    with open(path, "w") as fh:
        json.dump(old, fh, indent=1, default=float)
    return 0


if __name__ == "__main__":
    sys.exit(main())
