#!/usr/bin/env python
"""Property audit of every corrected form of Section 3 (arXiv 2511.16976) on random problems.

    python studies/errata/audit.py --out results/theory-audit          # 400 linear + 100 single-index
    python studies/errata/audit.py --quick --out /tmp/audit            # 24 + 6 (a smoke run)
    python studies/errata/audit.py --linear 600 --single-index 150 --out DIR
    python studies/errata/audit.py --out DIR --merge DIR1 DIR2         # summarise parallel runs

Linear problems (flowdeq.analysis.theory.findings.random_linear): d ∈ {1..4}, κ(Σ) up to 10³,
θ₂(0) on both sides of 1, near (|1 − θ₂| ≥ 0.02) and far (≤ 3) from the singular hyperplane,
θ₁(0) near and far from the minimiser line.  Single-index problems (random_single_index):
sigmoid/tanh/softplus, d ∈ {1..4}, X ~ U[0,1]^d or N(0, I), θ₀ from 0.02/L to 0.9/L from θ*.
Each problem runs the flow (checked along the whole solution) and GD (every iterate) and every
corrected statement's check (:func:`audit_linear`, :func:`audit_single_index`).  The audit
passes when no check is ``violated``; every verdict is written to ``audit.json`` and counted in
``summary.md``.
"""
import argparse
import json
import os
import sys
import time
from collections import Counter

import numpy as np

from flowdeq.analysis.theory.findings import audit_linear, audit_single_index


def _run(kind_seed):
    kind, seed = kind_seed
    try:
        return (audit_linear if kind == "linear" else audit_single_index)(seed)
    except Exception as err:  # an audit must report, not stop: the error is a finding too
        return {"seed": seed, "kind": kind, "error": f"{type(err).__name__}: {err}",
                "checks": [], "violated": []}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--linear", type=int, default=400)
    ap.add_argument("--single-index", type=int, default=100)
    ap.add_argument("--quick", action="store_true", help="24 linear + 6 single-index problems")
    ap.add_argument("--seed", type=int, default=14_000)
    ap.add_argument("--merge", nargs="+", metavar="DIR",
                    help="no runs: summarise the audit.json of earlier (e.g. parallel) runs")
    a = ap.parse_args(argv)
    n_lin, n_si = (24, 6) if a.quick else (a.linear, a.single_index)
    os.makedirs(a.out, exist_ok=True)
    t0 = time.time()
    if a.merge:
        seen = {}
        for d in a.merge:           # a problem run twice (overlapping seeds) counts once
            for r in json.load(open(os.path.join(d, "audit.json"))):
                seen.setdefault((r["kind"], r["seed"]), r)
        results = list(seen.values())
        with open(os.path.join(a.out, "audit.json"), "w") as fh:
            json.dump(results, fh, indent=1, default=float)
        return _summary(results, a.out, None)
    jobs = [("linear", a.seed + k) for k in range(n_lin)] + \
           [("single-index", a.seed + 10_000 + k) for k in range(n_si)]
    results = []
    for i, job in enumerate(jobs):
        results.append(_run(job))
        r = results[-1]
        flag = "VIOLATED" if r["violated"] else ("error" if "error" in r else "ok")
        print(f"[{i + 1}/{len(jobs)}] {job[0]} seed {job[1]}: {flag} "
              f"({time.time() - t0:.0f} s)", flush=True)
        with open(os.path.join(a.out, "audit.json"), "w") as fh:   # progress survives a stop
            json.dump(results, fh, indent=1, default=float)
    return _summary(results, a.out, t0)


def _summary(results, out, t0):
    n_lin = sum(r["kind"] == "linear" for r in results)
    n_si = len(results) - n_lin
    counts = Counter((r["kind"], c[0], c[1], c[3]) for r in results for c in r["checks"])
    viol = [r for r in results if r["violated"]]
    errs = [r for r in results if "error" in r]
    lines = [f"# Theory audit: {n_lin} linear + {n_si} single-index random problems", "",
             f"{len(viol)} problem(s) with a violated corrected form; {len(errs)} error(s); "
             + ("merged from earlier runs." if t0 is None else f"{time.time() - t0:.0f} s."), "", "| model | statement | form | verdict | count |",
             "|---|---|---|---|---|"]
    lines += [f"| {k[0]} | {k[1]} | {k[2]} | {k[3]} | {v} |" for k, v in sorted(counts.items())]
    for kind in ("linear", "single-index"):
        rs = [r for r in results if r["kind"] == kind and "error" not in r]
        if not rs:
            continue
        lines += ["", f"## {kind} problems covered", ""]
        for key in ("d", "side", "activation", "law"):
            vals = Counter(str(r.get(key)) for r in rs if key in r)
            if vals:
                lines.append(f"- {key}: " + ", ".join(f"{k}: {v}" for k, v in sorted(vals.items())))
        for key in ("kappa", "gap", "noise", "r0_L"):
            vals = np.array([r[key] for r in rs if key in r], float)
            if vals.size:
                lines.append(f"- {key}: min {vals.min():.3g}, median {np.median(vals):.3g}, "
                             f"max {vals.max():.3g}")
    if viol:
        lines += ["", "## Violations", ""] + [f"- {r['kind']} seed {r['seed']}: {r['violated']}"
                                              for r in viol]
    if errs:
        lines += ["", "## Errors", ""] + [f"- {r['kind']} seed {r['seed']}: {r['error']}"
                                          for r in errs]
    with open(os.path.join(out, "summary.md"), "w") as fh:
        fh.write("\n".join(lines) + "\n")
    print("\n".join(lines[:4]))
    return 1 if viol else 0


if __name__ == "__main__":
    sys.exit(main())
