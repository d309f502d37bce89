"""How time and memory grow with the work (issue 16): flow ensembles of 10³–10⁵ members, a
GD map over 10³ starts × 10² step sizes, and a 10⁵-member sweep through the sweep engine, in
this process's chunks and on a 2-worker Dask LocalCluster.

Each case runs in a fresh process, so its peak memory is its own (``ru_maxrss``; for the
cluster, the workers' peak resident sizes are added, sampled with psutil).  The process first
runs the same work at a small size with the same compiled shapes (warm-up), then the measured
size; the time reported is the measured run alone, the memory the process's peak minus its peak
after the warm-up, beside the size of the result it returns (what it must hold).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

_CASE = textwrap.dedent('''
    import json, resource, sys, tempfile, time
    import numpy as np
    import flowdeq as fd
    KIND, N = sys.argv[1], int(sys.argv[2])

    def peak_mb():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0

    def problem(kind):
        if kind == "sigmoid":
            return fd.Problem(fd.SingleIndexDEQ("sigmoid", 1), fd.SingleIndexTarget([2.0], "sigmoid"),
                              fd.Uniform(0, 1, 1, nodes=64)), 400.0
        return fd.Problem(fd.LinearDEQ(1), fd.LinearTarget([2.0]),
                          fd.Uniform(0, 1, 1).monte_carlo(1000, 0)), 2.0

    def starts(n, std):
        return np.random.default_rng(1).normal(0, std, (n, 2))

    def nbytes(tree):
        return sum(v.nbytes for v in tree.values() if hasattr(v, "nbytes")) / 2**20

    if KIND in ("linear", "sigmoid"):
        P, t1 = problem(KIND)
        th = starts(N, 0.5 if KIND == "linear" else 0.1)
        kw = dict(rtol=1e-10, atol=1e-12, n_save=21)
        fd.gradient_flow(P, th[: min(N, 2048)], t1, **kw)   # compiles the chunk shapes
        base = peak_mb()
        t = time.perf_counter()
        tr = fd.gradient_flow(P, th, t1, **kw)
        wall = time.perf_counter() - t
        held = (tr.t.nbytes + tr.theta.nbytes + tr.risk.nbytes + tr.grad_norm.nbytes
                + tr.valid.nbytes) / 2**20
        extra = {"outcomes": tr.outcome_counts(), "steps_max": int(np.max(tr.stats["num_steps"]))}
    elif KIND == "gdmap":
        P, _ = problem("sigmoid")
        n_eta = max(N // 1000, 1)
        th, etas = starts(N // n_eta, 0.5), np.geomspace(0.01, 10.0, n_eta)
        fd.gradient_descent(P, th[:2], etas[:2], 100)
        base = peak_mb()
        t = time.perf_counter()
        tr = fd.gradient_descent(P, th, etas, 100)
        wall = time.perf_counter() - t
        held = (tr.t.nbytes + tr.theta.nbytes + tr.risk.nbytes + tr.grad_norm.nbytes
                + tr.valid.nbytes) / 2**20
        extra = {"outcomes": tr.outcome_counts(), "members": len(tr)}
    else:  # the sweep engine: linear flows, chunks written to disk
        from flowdeq.ensembles.sweep import run_sweep
        P, t1 = problem("linear")
        th = starts(N, 0.5)
        sched = None if KIND == "sweep" else "local:2"
        settings = {"t1": t1, "n_save": 21}
        run_sweep(P, th[:2048], tempfile.mkdtemp(), settings=settings, chunk_size=1024,
                  progress=False)
        base = peak_mb()
        t = time.perf_counter()
        res = run_sweep(P, th, tempfile.mkdtemp(), settings=settings, chunk_size=1024,
                        progress=False, executor=sched)
        wall = time.perf_counter() - t
        held = nbytes(res)
        extra = {"outcomes": {k: int(v) for k, v in zip(*np.unique(res["outcome"], return_counts=True))}}
    print(json.dumps({"wall": wall, "peak_mb": peak_mb(), "base_mb": base, "held_mb": held, **extra}))
''')

_WORKERS = textwrap.dedent('''
    import subprocess, sys, time, json, psutil
    proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, text=True)
    me, peak = psutil.Process(proc.pid), 0.0
    while proc.poll() is None:
        try:
            kids = me.children(recursive=True)
            peak = max(peak, sum(k.memory_info().rss for k in kids) / 2**20)
        except psutil.Error:
            pass
        time.sleep(0.2)
    out = json.loads(proc.stdout.read().strip().splitlines()[-1])
    out["workers_peak_mb"] = peak
    print(json.dumps(out))
''')


def run_case(kind, n, env):
    cmd = [sys.executable, "-c", _CASE, kind, str(n)]
    if kind == "cluster":
        cmd = [sys.executable, "-c", _WORKERS, *cmd]
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"scale case {kind} {n}: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def bench_scale(q, rows, notes, verdict):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
               FLOWDEQ_NO_CACHE="1")
    sizes = q["scale_sizes"]
    for kind, what in (("linear", "linear d=1 flows (1000 samples, t1 = 2)"),
                       ("sigmoid", "sigmoid flows (64 nodes, t1 = 400)")):
        per = {}
        for n in sizes:
            r = run_case(kind, n, env)
            per[n] = r["wall"] / n
            grow = r["peak_mb"] - r["base_mb"]
            status, target = "", "—"
            if n == sizes[-1] and len(sizes) > 1:
                ratio = per[n] / per[sizes[-2]]
                target = f"per-member ≤ 1.2× the {sizes[-2]:.0e} cost"
                status = verdict(ratio <= 1.2, f"{ratio:.2f}×",
                                 f"{n:.0e} {what}: {per[n] * 1e3:.3g} ms per member against "
                                 f"{per[sizes[-2]] * 1e3:.3g} ms at {sizes[-2]:.0e}.")
            rows.append((f"scale: {n:.0e} {what}", r["wall"], float("nan"), float("nan"),
                         f"{per[n] * 1e3:.3g} ms/member; peak memory +{grow:.0f} MB over the "
                         f"warm-up (result held: {r['held_mb']:.0f} MB); slowest member "
                         f"{r['steps_max']} steps; {r['outcomes']}", target, status))
    n = q["gdmap"]
    r = run_case("gdmap", n, env)
    rows.append((f"scale: GD map {n // max(n // 1000, 1)} starts × {max(n // 1000, 1)} step sizes "
                 "(sigmoid, 64 nodes, 100 steps)", r["wall"], float("nan"), float("nan"),
                 f"{r['wall'] / n * 1e3:.3g} ms/member; peak memory +{r['peak_mb'] - r['base_mb']:.0f} "
                 f"MB (every iterate held: {r['held_mb']:.0f} MB); {r['outcomes']}", "—", ""))
    n = q["sweep"]
    for kind, where in (("sweep", "in this process"), ("cluster", "on a 2-worker LocalCluster")):
        r = run_case(kind, n, env)
        mem = f"driver peak +{r['peak_mb'] - r['base_mb']:.0f} MB"
        if "workers_peak_mb" in r:
            mem += f", workers (with the driver) {r['workers_peak_mb']:.0f} MB resident at peak"
        rows.append((f"scale: sweep engine, {n:.0e} linear flows {where} (chunks of 1024 written "
                     "to disk)", r["wall"], float("nan"), float("nan"),
                     f"{r['wall'] / n * 1e3:.3g} ms/member; {mem}; per-member results held "
                     f"{r['held_mb']:.0f} MB; {r['outcomes']}", "—", ""))
    notes.append("Scale rows: each case is a fresh process (studies/performance/scale.py) that "
                 "first runs the same chunk shapes at a small size, so the time is the measured "
                 "run's alone; memory = the process's peak resident size minus its peak after "
                 "that warm-up, beside the bytes of the result it returns.  Flow batches run in "
                 "chunks of 1024 (gradient_flow's chunk_size), margin-ordered.")
