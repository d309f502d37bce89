"""Width-m rows of the performance suite (issue 12): a 1000-sample, m = 8 tanh DEQ.

    z = tanh(Wz + Ux̃) ∈ ℝ⁸, ŷ = vᵀz, x ~ N(0, I₄) (1000 samples, bias: d′ = 5; p = 112),
    taught by a width-4 teacher of the same family (L‖W*‖₂ = 0.5).

Rows: GD for 4000 steps (η = 0.1) and a flow ensemble of 1000 starts, each against
(a) a NumPy/SciPy loop with ``scipy.optimize.root`` (hybr, analytic Jacobian, tol 1e-12)
per sample and the implicit-function gradient by one batched NumPy solve, and (b) torchdeq
(float64, ``ift=True``, its default fixed-point solver forward and backward to 1e-10, the
residual flowdeq certifies; warm-started from the previous step's equilibrium like
flowdeq's GD map), where installed.  Of torchdeq's solvers at 1e-10 on this problem one
step took 0.19 s (fixed_point_iter), 0.34 s (broyden), 1.7 s (anderson).  The flow baselines
integrate θ′ = −∇R with ``scipy.integrate.solve_ivp`` (DOP853, the tolerances flowdeq's
Tsit5 uses).  The baselines run a prefix of the GD steps and a few of the flows; their
times are scaled up (each row's note says by how much).  Run by ``run.py``; on its own:

    python studies/performance/multi.py [--quick]
"""
from __future__ import annotations

import time

import numpy as np
from scipy.integrate import solve_ivp
from scipy.optimize import root

import flowdeq as fd
from flowdeq.descent import gradient_descent
from flowdeq.flow import gradient_flow

SIZES = {  # full run / --quick
    False: dict(n=1000, steps=4000, prefix=20, torch_prefix=20, starts=1000, t1=5.0,
                flow_subset=2, repeats=3),
    True: dict(n=200, steps=200, prefix=5, torch_prefix=10, starts=16, t1=2.0,
               flow_subset=1, repeats=1),
}
ETA, WIDTH, DIM = 0.1, 8, 4
FLOW = dict(solver="tsit5", rtol=1e-8, atol=1e-10, n_save=11)


def problem(n):
    model = fd.MultiNeuronDEQ("tanh", DIM, WIDTH, bias=True, output="readout")
    teacher = fd.MultiNeuronDEQ("tanh", DIM, 4, bias=True, output="readout")
    data = fd.Gaussian(np.zeros(DIM), np.eye(DIM)).monte_carlo(n, 0)
    return fd.Problem(model, fd.TeacherTarget(teacher, teacher.random_theta(1, 0.5)), data)


def starts(P, count, seed=2):
    """θ₀ ~ N(0, 0.1²) entrywise (‖W‖₂ ≈ 0.6: contractive)."""
    return 0.1 * np.random.default_rng(seed).standard_normal((count, P.n_params))


# ----------------------------------------------------------------------- baseline (a)
class ScipyRoot:
    """R and ∇R with one ``scipy.optimize.root`` per sample (warm-started if asked)."""

    def __init__(self, P):
        self.model = P.model
        self.X, self.w, self.f = (np.asarray(a) for a in (P.X, P.w, P.f))
        self.z = None

    def risk_and_grad(self, theta, warm=False):
        p = {k: np.asarray(v) for k, v in self.model.unravel(np.asarray(theta)).items()}
        W, U, v = p["W"], p["U"], p["v"]
        A = self.X @ U.T
        eye = np.eye(len(W))
        Z = np.empty_like(A)
        for i, a in enumerate(A):
            z0 = self.z[i] if (warm and self.z is not None) else np.tanh(a)
            res = root(lambda z: z - np.tanh(W @ z + a), z0, method="hybr", tol=1e-12,
                       jac=lambda z: eye - (1 - np.tanh(W @ z + a) ** 2)[:, None] * W)
            Z[i] = res.x
        self.z = Z
        s = 1 - np.tanh(Z @ W.T + A) ** 2
        e = Z @ v - self.f
        r = 2 * (self.w * e)[:, None] * v[None]
        J = eye[None] - s[:, :, None] * W[None]                       # (n, m, m)
        lam = np.linalg.solve(np.swapaxes(J, 1, 2), r[..., None])[..., 0]
        mu = s * lam
        grads = {"U": mu.T @ self.X, "W": mu.T @ Z, "v": Z.T @ (2 * self.w * e)}
        return float(self.w @ e ** 2), np.concatenate([grads[k].ravel() for k in sorted(grads)])


def reference_gd(ref, theta0, steps):
    """GD with a reference's gradient (``ScipyRoot`` or ``TorchDEQ``), warm-started."""
    th = np.array(theta0, float)
    path = [th.copy()]
    for _ in range(steps):
        th = th - ETA * ref.risk_and_grad(th, warm=True)[1]
        path.append(th.copy())
    return np.array(path)


def _ivp(grad, theta0, t1):
    ts = np.linspace(0.0, t1, FLOW["n_save"])
    sol = solve_ivp(lambda t, th: -grad(th), (0.0, t1), np.asarray(theta0, float),
                    method="DOP853", t_eval=ts, rtol=FLOW["rtol"], atol=FLOW["atol"])
    return sol.y.T


# ----------------------------------------------------------------------- baseline (b)
class TorchDEQ:
    """R and ∇R by torchdeq at equal tolerance (None if it is not installed)."""

    def __init__(self, P):
        import torch  # import cost: optional reference, loaded only here
        import torchdeq
        self.torch = torch
        self.deq = torchdeq.get_deq(ift=True, f_solver="fixed_point_iter",
                                    b_solver="fixed_point_iter", f_tol=1e-10, b_tol=1e-10,
                                    f_max_iter=1000, b_max_iter=1000)
        self.deq.train()
        self.model = P.model
        self.X, self.w, self.f = (torch.tensor(np.asarray(a), dtype=torch.float64)
                                  for a in (P.X, P.w, P.f))
        self.z = None

    @classmethod
    def available(cls):
        try:
            import torch  # noqa: F401  (import cost: optional reference)
            import torchdeq  # noqa: F401
        except ImportError:
            return False
        return True

    def risk_and_grad(self, theta, warm=False):
        torch = self.torch
        p = {k: torch.tensor(np.asarray(v), dtype=torch.float64, requires_grad=True)
             for k, v in self.model.unravel(np.asarray(theta)).items()}
        drive = self.X @ p["U"].T
        z0 = self.z if (warm and self.z is not None) else torch.tanh(drive.detach())
        z = self.deq(lambda z: torch.tanh(z @ p["W"].T + drive), z0)[0][-1]
        self.z = z.detach()
        risk = self.w @ (z @ p["v"] - self.f) ** 2
        risk.backward()
        return risk.item(), np.concatenate([p[k].grad.numpy().ravel() for k in sorted(p)])


# ----------------------------------------------------------------------------- rows
def _timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def bench_multi(quick, rows, notes, verdict, median_time):
    q = SIZES[bool(quick)]
    P = problem(q["n"])
    th0 = starts(P, 1)[0]
    steps = q["steps"]
    label = f"m = {WIDTH} tanh DEQ ({q['n']} samples, p = {P.n_params})"

    # ---- GD
    gradient_descent(P, th0, ETA, steps)  # compile
    warm, _ = median_time(lambda: gradient_descent(P, th0, ETA, steps), q["repeats"])
    traj = gradient_descent(P, th0, ETA, steps)
    pre = min(q["prefix"], steps)
    t_a, path_a = _timed(lambda: reference_gd(ScipyRoot(P), th0, pre))
    base_a = t_a * steps / pre
    err_a = float(np.max(np.abs(traj.theta[: pre + 1] - path_a)))
    rows.append((f"{label}: GD {steps} steps vs scipy.optimize.root per sample", warm, base_a,
                 base_a / warm, f"max|Δθ| {err_a:.1e} over {pre} steps", "≥ 100× warm",
                 verdict(base_a / warm >= 100, f"{base_a / warm:.0f}× of 100×", _GD_WHY)))
    note = (f"{label} GD (η = {ETA}, outcome {traj.outcome}, R {traj.risk[-1]:.3g}): the SciPy "
            f"loop (root per sample, warm-started from the previous step, hybr with the "
            f"analytic Jacobian, tol 1e-12; batched NumPy adjoint solve) ran {pre} steps in "
            f"{t_a:.2f} s, scaled ×{steps / pre:g}")
    if TorchDEQ.available():
        tp = min(q["torch_prefix"], steps)
        t_b, path_b = _timed(lambda: reference_gd(TorchDEQ(P), th0, tp))
        base_b = t_b * steps / tp
        err_b = float(np.max(np.abs(traj.theta[: tp + 1] - path_b)))
        rows.append((f"{label}: GD {steps} steps vs torchdeq (IFT, fixed point to 1e-10)", warm,
                     base_b, base_b / warm, f"max|Δθ| {err_b:.1e} over {tp} steps",
                     "faster than torchdeq", verdict(base_b > warm, f"{base_b / warm:.2f}×")))
        note += (f"; torchdeq (float64, ift=True, fixed-point iteration forward and backward to "
                 f"1e-10, warm start) ran {tp} steps in {t_b:.2f} s, scaled ×{steps / tp:g}")
    notes.append(note + ".")

    # ---- flow ensemble
    th = starts(P, q["starts"], seed=3)
    t1 = q["t1"]
    first, _ = _timed(lambda: gradient_flow(P, th, t1, **FLOW))
    warm_f, tr = _timed(lambda: gradient_flow(P, th, t1, **FLOW))
    sub = np.arange(q["flow_subset"])
    ref = ScipyRoot(P)
    calls = [0]

    def grad_a(x):
        calls[0] += 1
        return ref.risk_and_grad(x)[1]

    t_a, ys = _timed(lambda: [_ivp(grad_a, th[i], t1) for i in sub])
    base_a = t_a * len(th) / len(sub)
    err_a = max(float(np.max(np.abs(tr.theta[i][tr.valid[i]] - y))) for i, y in zip(sub, ys))
    rows.append((f"{label}: {len(th)} flows (t1 = {t1:g}, Tsit5 rtol 1e-8) vs SciPy root + "
                 "DOP853", warm_f, base_a, base_a / warm_f, f"max|Δθ| {err_a:.1e}",
                 "≥ 100× warm", verdict(base_a / warm_f >= 100, f"{base_a / warm_f:.0f}×",
                                        _FLOW_WHY)))
    note = (f"{label} flow ensemble ({len(th)} starts θ₀ ~ N(0, 0.1²), t1 = {t1:g}, Tsit5 "
            f"rtol 1e-8/atol 1e-10; outcomes {tr.outcome_counts()}, steps mean "
            f"{tr.stats['num_steps'].mean():.0f}; first call {first:.1f} s with compile, "
            f"warm {warm_f:.1f} s): solve_ivp(DOP853) at the same tolerances on {len(sub)} "
            f"start(s), the gradient by a SciPy root per sample ({calls[0]} gradients): "
            f"{t_a:.1f} s, scaled ×{len(th) / len(sub):g}")
    if TorchDEQ.available():
        # torchdeq's flow = DOP853's gradient count × torchdeq's measured time per gradient
        tref = TorchDEQ(P)
        k = 3
        t_g, _ = _timed(lambda: [tref.risk_and_grad(th[0]) for _ in range(k)])
        base_b = t_g / k * calls[0] * len(th) / len(sub)
        rows.append((f"{label}: {len(th)} flows vs torchdeq + DOP853 (estimated)", warm_f,
                     base_b, base_b / warm_f, "same solver and steps as the row above",
                     "faster than torchdeq", verdict(base_b > warm_f, f"{base_b / warm_f:.2f}×")))
        note += (f"; torchdeq's: DOP853's {calls[0]} gradients × {t_g / k:.3f} s per torchdeq "
                 f"gradient (cold start, measured over {k}), scaled the same")
    notes.append(note + ".")


_GD_WHY = ("Width-8 GD: a step is two warm-started Newton solves and one adjoint solve per "
           "sample (~1.1 µs per sample single-threaded); scipy.optimize.root warm-started needs "
           "~50–150 µs per sample, so the ratio sits near 100× and moves with the machine "
           "(docs/performance.md, \"multi-neuron\").")
_FLOW_WHY = ("Width-8 flows: each gradient is a cold Newton solve (3 iterations to rounding "
             "from σ(Ux̃)) and an adjoint solve per sample, ~1.4 µs per sample single-threaded, "
             "against ~50 µs for one scipy.optimize.root; an explicit solver cannot carry the "
             "equilibrium between stages as the GD map does, and Tsit5 with the event costs ~7 "
             "gradients per step (docs/performance.md, \"multi-neuron\").")


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()

    def median_time(fn, repeats):
        ts = [_timed(fn)[0] for _ in range(repeats)]
        return float(np.median(ts)), ts

    rows, notes = [], []
    bench_multi(args.quick, rows, notes, lambda ok, miss, why="": "met" if ok else
                f"**missed** ({miss})", median_time)
    for r in rows:
        print(" | ".join(str(c) if not isinstance(c, float) else f"{c:.3g}" for c in r))
    for n in notes:
        print("-", n)
