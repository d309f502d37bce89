"""Theory checks that cannot miss: flows checked along the whole solution (not the save
grid), verdicts with their resolution, every Section 3 statement against an independent
reference or a constructed counterexample, and the linear constants against brute force."""
import copy

import numpy as np
import pytest
from scipy.integrate import solve_ivp
from scipy.optimize import minimize_scalar

from flowdeq import (Activation, Gaussian, LinearDEQ, LinearTarget, Problem, SingleIndexDEQ,
                     SingleIndexTarget, Uniform)
from flowdeq.analysis.continuous import FlowPath
from flowdeq.analysis.rates import compare_with_bound
from flowdeq.analysis.theory import (decide, lemma32, lemma35, lemma37, lemma37_constants,
                                     linear_constants, lyapunov, thm31, thm33, thm34, thm36)
from flowdeq.descent import gradient_descent
from flowdeq.flow import gradient_flow

TIGHT = {"rtol": 1e-11, "atol": 1e-13}


# ------------------------------------------------------------- independent reference
def _lin_grad(th, S, xi):
    c = 1.0 - th[-1]
    phi = th[:-1] / c
    g = S @ (phi - xi)
    return (2.0 / c) * np.concatenate([g, [phi @ g]])


def _radau_printed_thm34(S, xi, th0, T, window):
    """max over t ∈ window of ‖φ−ξ‖²/(‖φ₀−ξ‖² e^{−4λt/β²}), β = min_t |1 − θ₂| on [0, T]
    (SciPy Radau, rtol 1e-12, dense output; bounded Brent around the grid maximum)."""
    sol = solve_ivp(lambda t, y: -_lin_grad(y, S, xi), (0, T), th0, method="Radau",
                    rtol=1e-12, atol=1e-14, dense_output=True)
    beta = float(np.min(np.abs(1 - sol.sol(np.linspace(0, T, 200001))[-1])))
    lmin = np.linalg.eigvalsh(S)[0]
    phi = lambda y: y[:-1] / (1 - y[-1])
    q0 = np.sum((phi(th0) - xi) ** 2)
    ratio = lambda t: np.sum((phi(sol.sol(t)) - xi) ** 2) / (q0 * np.exp(-4 * lmin * t / beta ** 2))
    tt = np.linspace(*window, 20001)
    k = int(np.argmax([ratio(t) for t in tt]))
    r = minimize_scalar(lambda t: -ratio(t), bounds=(tt[max(k - 1, 0)], tt[min(k + 1, 20000)]),
                        method="bounded", options={"xatol": 1e-12})
    return -r.fun, r.x


@pytest.fixture(scope="module")
def case_a():
    """The audit's first save-grid case: Gaussian Σ = diag(1, 0.5), ξ = (4, 6.5)."""
    pr = Problem(LinearDEQ(2), LinearTarget([4.0, 6.5]),
                 Gaussian([0.0, 0.0], [[1.0, 0.0], [0.0, 0.5]], nodes=2))
    return pr, np.array([5.0, 5.0, 0.0])


@pytest.fixture(scope="module")
def unif():
    return Problem(LinearDEQ(1), LinearTarget([2.0]), Uniform(0.0, 1.0, 1, nodes=16))


# ---------------------------------------------------------------- save-grid cases
def test_save_grid_case_a_violated_at_default_n_save(case_a):
    pr, th0 = case_a
    # default n_save = 201 (Δt = 0.5); the step ends come with it (case b re-runs for them)
    tr = gradient_flow(pr, th0, 100.0, save_steps=True, **TIGHT)
    printed = thm34(pr, tr)[0]
    # the grid alone reads "holds" (the audit's 0.786) ...
    grid = np.isin(tr.t, np.linspace(0, 100, 201))
    v2 = np.sum((tr.theta[grid, :2] / (1 - tr.theta[grid, 2:]) - [4.0, 6.5]) ** 2, axis=1)
    beta = printed.constants["beta_thm34"]
    bound = v2[0] * np.exp(-4 * 0.5 * tr.t[grid] / beta ** 2)
    assert grid.sum() > 20 and compare_with_bound(tr.t[grid], v2, bound)["holds"]
    # ... the whole solution does not, and SciPy Radau agrees on the worst ratio and its time
    ref, t_ref = _radau_printed_thm34(np.diag([1.0, 0.5]), np.array([4.0, 6.5]), th0, 100.0,
                                      (1e-6, 0.5))
    assert printed.verdict == "violated", printed.reason
    assert abs(printed.worst - ref) < 1e-6 and abs(printed.at - t_ref) < 1e-5
    assert abs(ref - 1.051) < 5e-4 and abs(t_ref - 0.039) < 5e-4
    assert "step ends" in printed.resolution and "re-integrated" in printed.resolution
    assert [e.verdict for e in thm34(pr, tr)[1:]] == ["holds", "holds"]


def test_save_grid_case_b_violated_at_default_n_save(unif):
    tr = gradient_flow(unif, np.array([0.0, 0.9]), 100.0, **TIGHT)
    assert len(tr.t) == 2                                     # the converged event at t ≈ 0.024
    printed = thm34(unif, tr)[0]
    ref, t_ref = _radau_printed_thm34(np.array([[1 / 3]]), np.array([2.0]),
                                      np.array([0.0, 0.9]), 0.05, (1e-7, 0.02))
    assert printed.verdict == "violated"
    assert abs(printed.worst - ref) < 1e-6 * ref and abs(printed.at - t_ref) < 1e-6
    assert abs(ref - 15.75) < 5e-3 and abs(t_ref - 0.0066) < 1e-4


def test_sign0_printed_limit_reports_0116():
    pr = Problem(LinearDEQ(2), LinearTarget([2.0, 5.0]),
                 Gaussian([0.0, 0.0], [[1.0, 0.0], [0.0, 0.1]], nodes=2))
    th0 = np.array([3.0, 3.0, 0.0])
    tr = gradient_flow(pr, th0, 2000.0, save_steps=True, **TIGHT)
    p, c = thm33(pr, tr)
    sol = solve_ivp(lambda t, y: -_lin_grad(y, np.diag([1.0, 0.1]), np.array([2.0, 5.0])),
                    (0, 4000), th0, method="Radau", rtol=1e-12, atol=1e-14)
    a = np.linalg.norm(th0) / np.sqrt(30.0)                   # the paper's sign(0) = +1
    err_ref = np.linalg.norm(np.array([2 * a, 5 * a, 1 - a]) - sol.y[:, -1])
    assert abs(p.constants["limit_error_printed"] - 0.116) < 5e-4
    assert abs(p.constants["limit_error_printed"] - err_ref) < 1e-7
    assert p.verdict == "violated" and c.verdict == "holds"
    # an unconverged run decides nothing about a limit (the audit saw VIOLATED here)
    short = gradient_flow(pr, th0, 1.0, save_steps=True, **TIGHT)
    assert [e.verdict for e in thm33(pr, short)] == ["inconclusive", "inconclusive"]


@pytest.fixture(scope="module")
def steps_run(unif):
    return gradient_flow(unif, np.array([0.3, -0.5]), 4.0, save_steps=True, **TIGHT)


# ---------------------------------------------------------------- verdict rules
def test_decide_rules():
    ok = {"h": True}
    assert decide(ok, 0.5, band=1e-9, n_points=10)[0] == "holds"
    assert decide(ok, 1.2, band=1e-9, n_points=10)[0] == "violated"
    assert decide(ok, 1 + 1e-10, band=1e-9, n_points=10)[0] == "inconclusive"   # in the band
    assert decide(ok, 1 + 1e-15, band=1e-9, n_points=10)[0] == "holds"          # rounding
    assert decide(ok, 0.5, band=1e-9, n_points=2)[0] == "inconclusive"          # few points
    assert decide(ok, 0.5, band=0, n_points=9, complete=False)[0] == "inconclusive"
    assert decide(ok, 1.5, band=0, n_points=9, complete=False)[0] == "violated"
    v, r, met = decide({"h": False}, 1.5, band=0, n_points=9)
    assert v == "hypothesis fails" and met is False and "conclusion fails" in r
    assert decide({"h": None}, 0.5, band=0, n_points=9)[0] == "inconclusive"


def test_refinement_finds_a_peak_between_step_ends(unif, steps_run):
    path = FlowPath.of(unif, steps_run)
    k = int(np.argmax(np.diff(path.t)))                       # the longest step
    tm = path.t[k] + 0.37 * (path.t[k + 1] - path.t[k])
    width = 1e-3 * (path.t[k + 1] - path.t[k])
    ext = path.sup(lambda t, th: np.exp(-((t - tm) / width) ** 2))
    assert ext.value > 1 - 1e-6 and abs(ext.t - tm) < 1e-3 * width
    assert np.max(np.exp(-((path.t - tm) / width) ** 2)) < 1e-6   # step ends alone miss it
    # where DOP853 would need too many steps, Radau (exact Jacobian) re-integrates instead
    stiff = FlowPath(unif, steps_run, max_steps_refine=1)
    ext2 = stiff.sup(lambda t, th: np.exp(-((t - tm) / width) ** 2))
    assert "Radau" in ext2.resolution and abs(ext2.t - tm) < 1e-2 * width


# ------------------------------------------------------ flow statements, perturbed
def test_flow_statements_hold_and_fail_when_perturbed(unif, steps_run):
    good = [thm31(unif, steps_run), *lemma32(unif, steps_run), lyapunov(unif, steps_run)]
    assert [e.verdict for e in good] == ["holds"] * 4, [e.reason for e in good]
    bad = copy.deepcopy(steps_run)
    k = len(bad.t) // 2
    bad.theta[k, 0] *= 1.01                                   # off the sphere, up in R
    assert thm31(unif, bad).verdict == "violated"
    assert lyapunov(unif, bad).verdict == "violated"
    near = copy.deepcopy(steps_run)
    near.theta[k, 1] = 1 - 0.5 * linear_constants(unif, near.theta[0])["beta0_E10"]
    assert lemma32(unif, near)[1].verdict == "violated"       # below the explicit β₀
    near.theta[k, 1] = 1 - 1e-7                               # within ε of θ₂ = 1
    assert lemma32(unif, near)[0].verdict == "violated"


# -------------------------------------------------------------- Lemma 3.7, exact L
def test_lemma37_L_is_the_maximum_over_the_set(unif):
    th0 = np.array([0.0346, 0.0822])
    c = lemma37_constants(unif, th0)
    assert abs(c["L_Theta"] - 3.86e5) < 0.01e5 and abs(c["eta0"] - 2.59e-6) < 0.01e-6
    # brute force: jax Hessian of R on the exact set Θ + B̄(β/2) — a grid of its interior,
    # its face |1 − θ₂| = β/2 and its rounded edge, densely (‖∇²R‖ grows as |1 − θ₂| falls)
    import jax
    beta, R = c["beta"], 2 * np.sqrt(c["w0"])
    rho, u = np.meshgrid(np.linspace(0, R + beta / 2, 101), np.linspace(beta / 2, R + beta / 2, 101))
    keep = np.hypot(np.maximum(rho - R, 0), np.maximum(beta - u, 0)) <= beta / 2
    a = np.linspace(0, np.pi / 2, 4001)
    rho = np.concatenate([rho[keep], np.linspace(0, R, 4001), R + beta / 2 * np.cos(a)])
    u = np.concatenate([u[keep], np.full(4001, beta / 2), beta - beta / 2 * np.sin(a)])
    pts = np.concatenate([np.stack([s * rho, 1 - u], 1) for s in (1, -1)])
    H = np.asarray(jax.jit(jax.vmap(jax.hessian(unif.risk)))(pts))
    brute = np.max(np.linalg.norm(H, ord=2, axis=(1, 2)))
    assert c["L_Theta"] * (1 - 1e-6) < brute <= c["L_Theta"] * (1 + 1e-9)


def test_thm36_printed_fails_E4_and_gd_statements(case_a):
    pr = Problem(LinearDEQ(1), LinearTarget([2.0]), Uniform(0.0, 0.1, 1, nodes=16))
    th0 = np.array([0.1, 0.05])
    c = lemma37_constants(pr, th0)
    eta = c["eta0"]
    gd = gradient_descent(pr, th0, eta, 60)
    p, corr, pl_p, pl_c = thm36(pr, gd, eta, consts=c)
    assert p.hypotheses_hold and p.verdict == "violated"      # λ_max = 1/300 < 1/2 (E4)
    assert corr.verdict == "holds" and pl_c.verdict == "holds"
    l37 = lemma37(pr, gd, c)
    assert [e.verdict for e in l37] == ["holds", "holds", "holds"]
    assert lemma35(pr, gd, L=c["L_Theta"]).verdict == "holds"
    # constructed counterexamples: an iterate moved out of Θ, identity (8) and the descent
    # lemma broken, and the printed PL step at θ = 0 (errata E4 table)
    bad = copy.deepcopy(gd)
    bad.theta[30, 1] = 1 - 0.5 * c["beta"]
    bad.risk[31] = bad.risk[30] * 1.01
    l37b = lemma37(pr, bad, c)
    assert l37b[1].verdict == "violated" and l37b[2].verdict == "violated"
    assert lemma35(pr, bad, L=c["L_Theta"]).verdict == "violated"
    pr2 = Problem(LinearDEQ(2), LinearTarget([0.0, 1.0]),
                  Gaussian([0.0, 0.0], [[1.0, 0.0], [0.0, 0.01]], nodes=2))
    g2 = gradient_descent(pr2, np.zeros(3), 1e-6, 3)
    pl = thm36(pr2, g2, 1e-6)[2:]
    assert pl[0].verdict == "violated" and pl[1].verdict == "holds"
    assert pl[1].worst == pytest.approx(1.0, abs=1e-6)        # the corrected step: equality
