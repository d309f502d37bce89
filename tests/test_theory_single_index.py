"""Section 3.2 checks: the constants against a NumPy brute force, each assumption and claim
failing on a constructed counterexample, and the proof steps of Thms 3.8/3.9 on perturbed runs."""
import copy

import numpy as np
import pytest
from scipy.optimize import brentq

from flowdeq import Problem, SingleIndexDEQ, SingleIndexTarget, Uniform
from flowdeq.analysis.theory import (assumptions, cor31, decrease_rate, remark31,
                                     single_index_constants, thm38, thm39)
from flowdeq.analysis.theory.findings import bias_rho_zero
from flowdeq.analysis.theory.single_index import flowdeq_decrease
from flowdeq.descent import gradient_descent
from flowdeq.flow import gradient_flow

_ACT = {
    "sigmoid": (lambda z: 1 / (1 + np.exp(-z)), lambda z: np.exp(-z) / (1 + np.exp(-z)) ** 2),
    "tanh": (np.tanh, lambda z: 1 / np.cosh(z) ** 2),
    "softplus": (lambda z: np.logaddexp(0, z), lambda z: 1 / (1 + np.exp(-z))),
}


def _problem(act, xi=2.0, nodes=32):
    return Problem(SingleIndexDEQ(act, 1), SingleIndexTarget([xi], act),
                   Uniform(0.0, 1.0, 1, nodes=nodes))


def _bisect_equilibrium(s, a, t2, L):
    """y = σ(a + θ₂y) by bisection on the increasing map y − σ(a + θ₂y) (numpy, vectorised)."""
    B = (abs(s(0.0)) + L * np.abs(a)) / (1 - L * np.abs(t2)) + 1
    lo, hi = -B, B + 0 * a
    for _ in range(120):
        mid = (lo + hi) / 2
        neg = mid - s(a + t2 * mid) < 0
        lo, hi = np.where(neg, mid, lo), np.where(neg, hi, mid)
    return (lo + hi) / 2


@pytest.mark.parametrize("name,d1,d2", [("sigmoid", 0.5, 1.0), ("tanh", 0.25, 0.5),
                                        ("softplus", 0.25, 0.5)])
def test_constants_match_brute_force(name, d1, d2):
    s, ds = _ACT[name]
    xg, wg = np.polynomial.legendre.leggauss(32)
    x, w = (xg + 1) / 2, wg / 2
    L = float(np.max(ds(np.linspace(-60, 60, 400001))))
    pr = _problem(name)
    c = single_index_constants(pr, np.array([2.0 + 0.3, 0.2]), delta1=d1, delta2=d2, alpha=1.0,
                               rate=False)
    assert abs(c["L"] - L) < 1e-6
    M = (abs(s(0.0)) + L * 1.0 * (1 + d1) * 2.0) / (1 - L * d2)
    assert abs(c["M"] - M) < 1e-5 * M
    rad = (1 + d1) * 2.0 + M * d2
    gam = float(np.min(ds(np.linspace(-rad, rad, 200001))))
    assert abs(c["gamma"] - gam) < 1e-6 * gam
    R1 = (1 + d1) * 2.0
    g1, g2 = np.meshgrid(np.linspace(-R1, R1, 161), np.linspace(-d2, d2, 161))
    a = g1.ravel()[:, None] * x[None, :]
    y = _bisect_equilibrium(s, a, g2.ravel()[:, None], L)
    Z = np.stack([np.broadcast_to(x, y.shape), y], -1)
    lam = np.linalg.eigvalsh(np.einsum("n,kni,knj->kij", w, Z, Z))[:, 0]
    k = int(np.argmin(lam))
    th = (g1.ravel()[k], g2.ravel()[k])
    yb = [brentq(lambda v: v - s(th[0] * xx + th[1] * v), -50, 50, xtol=1e-15) for xx in x[:4]]
    np.testing.assert_allclose(yb, y[k, :4], atol=1e-12)
    if name == "tanh":                                         # errata E8: θ₁ = 0 is in Θ
        assert c["rho_Theta"] == 0.0 and abs(lam[k]) < 1e-12 and c["rho_Theta_raw"] < 1e-12
        assert c["nu_A3"] < 1e-14 and "σ(0) = 0" in c["structural_zero"]
        assert {e.theorem: e.verdict for e in assumptions(pr, c)}["A3"] == "hypothesis fails"
    else:
        assert c["rho_Theta"] <= lam[k] + 1e-12 and abs(c["rho_Theta"] - lam[k]) < 2e-3 * lam[k]
        assert c["nu_A3"] > 1e-4


def test_assumption_rows_fail_on_counterexamples():
    relu = Problem(SingleIndexDEQ("relu", 1), SingleIndexTarget([2.0], "relu"),
                   Uniform(0.0, 1.0, 1, nodes=8))
    c = single_index_constants(relu, np.array([2.2, 0.1]), delta1=0.5, delta2=0.5, alpha=1.0,
                               rate=False)
    rows = {e.theorem: e.verdict for e in assumptions(relu, c)}
    assert rows["A2(i)"] == rows["A2(ii)"] == "hypothesis fails"   # σ′ jumps at 0; γ = 0
    assert rows["A1(i)"] == rows["A1(ii)"] == "holds"
    tiny = single_index_constants(relu, np.array([2.2, 0.1]), delta1=0.5, delta2=0.5,
                                  alpha=1e-4, rate=False)          # no node has ‖x‖ ≤ α
    assert {e.theorem: e.verdict for e in assumptions(relu, tiny)}["A1(ii)"] == "hypothesis fails"
    # F4: with a bias feature ρ vanishes at θ₁ = (0, b) for any σ — y is constant there
    lam0, ystar, lam1 = bias_rho_zero("sigmoid")
    assert abs(lam0) < 1e-14 and lam1 > 1e-7
    assert abs(ystar - 1 / (1 + np.exp(-(0.7 + 0.3 * ystar)))) < 1e-12


@pytest.fixture(scope="module")
def sigmoid():
    return _problem("sigmoid", nodes=16)


@pytest.fixture(scope="module")
def sig_run(sigmoid):
    th0 = np.array([1.5, 0.6])
    c = single_index_constants(sigmoid, th0, delta1=0.5, delta2=1.0, alpha=1.0)
    tr = gradient_flow(sigmoid, th0, 60.0, rtol=1e-11, atol=1e-13, save_steps=True)
    return th0, c, tr


def test_thm38_holds_and_fails_when_perturbed(sigmoid, sig_run):
    th0, c, tr = sig_run
    rows = {(e.form, e.quantity[:4]): e for e in thm38(sigmoid, tr, c)}
    assert all(e.verdict == "holds" for e in rows.values()), [e.reason for e in rows.values()]
    bad = copy.deepcopy(tr)
    bad.theta[len(bad.t) // 2] = th0                          # back to the start: r jumps up
    assert thm38(sigmoid, bad, c)[1].verdict == "violated"
    zero = dict(c, rho_Theta=0.0, rho_Theta_raw=0.0)          # ρ = 0 while A3's witness > 0
    assert [e for e in thm38(sigmoid, tr, zero) if e.quantity.startswith("ρ over the printed")
            ][0].verdict == "violated"
    fast = dict(c, lambda1_corrected=1e3 * c["lambda_star"])  # a rate no flow attains
    seventeen = [e for e in thm38(sigmoid, tr, fast) if e.form == "corrected proof step"][0]
    assert seventeen.verdict == "violated"
    # F1 along the flow: r non-increasing, and not on the run moved back to its start
    assert flowdeq_decrease(sigmoid, tr, c)[0].verdict == "holds"
    assert flowdeq_decrease(sigmoid, bad, c)[0].verdict == "violated"


def test_thm39_proof_steps_fail_when_perturbed(sigmoid, sig_run):
    th0, c, _ = sig_run
    eta = 0.5
    gd = gradient_descent(sigmoid, th0, eta, 40)
    rows = thm39(sigmoid, gd, c)
    names = [(e.form, e.quantity[:6]) for e in rows]
    assert [e.verdict for e in rows[:2]] == ["hypothesis fails"] * 2   # η ≫ λ₁/(2λ₂)
    step13, grad_bound = rows[2], rows[3]
    assert step13.verdict == "holds" and grad_bound.verdict == "holds", names
    assert grad_bound.worst < 1
    shrunk = thm39(sigmoid, gd, dict(c, lambda2=0.5 * c["lambda2"] * grad_bound.worst))[3]
    assert shrunk.verdict == "violated"
    # bound (13) fails when its constants are wrong: σ(0) dropped and L halved
    assert thm39(sigmoid, gd, dict(c, sigma0=0.0, L=0.5 * c["L"]))[2].verdict == "violated"
    # the one-step contraction, on a GD run moved back to its start at step 20
    bad = copy.deepcopy(gd)
    bad.theta[20] = th0
    small = dict(c, eta_max_corrected=1.0)                     # so its hypothesis holds
    step = [e for e in thm39(sigmoid, bad, small) if e.form == "corrected proof step"][0]
    assert step.verdict == "violated"
    assert thm39(sigmoid, bad, small)[1].verdict == "violated"    # the bound itself


def test_cor31_tanh_rate_and_remark31():
    """E8/F2: tanh, ξ = 0.5, the ball of radius 0.99 holds θ₁ = 0 (ρ = 0 there), yet the worst
    −r′/r over it is 1.42e-5 > 0 — against a NumPy brute force on a polar grid."""
    pr = _problem("tanh", xi=0.5, nodes=32)
    lam, arg = decrease_rate(pr, 0.99)
    s, ds = _ACT["tanh"]
    xg, wg = np.polynomial.legendre.leggauss(32)
    x, w = (xg + 1) / 2, wg / 2
    rr, aa = np.meshgrid(np.linspace(0.99 / 100, 0.99, 100), np.linspace(0, 2 * np.pi, 721))
    T1, T2 = 0.5 + rr.ravel() * np.cos(aa.ravel()), rr.ravel() * np.sin(aa.ravel())
    y = _bisect_equilibrium(s, T1[:, None] * x, T2[:, None], 1.0)
    om = T1[:, None] * x + T2[:, None] * y
    k = 2 * w * (y - s(0.5 * x)) * ds(om) / (1 - T2[:, None] * ds(om))
    G1, G2 = k @ x, np.sum(k * y, axis=1)
    brute = np.min(2 * ((T1 - 0.5) * G1 + T2 * G2) / ((T1 - 0.5) ** 2 + T2 ** 2))
    assert lam <= brute * (1 + 1e-9) and lam > brute * (1 - 1e-2)
    assert abs(lam - 1.42e-5) < 0.01e-5
    th0 = np.array([0.5 + 0.9 * np.cos(2.2), 0.9 * np.sin(2.2)])
    c = single_index_constants(pr, th0, alpha=1.0, rate=False)
    c["lambda_star"] = decrease_rate(pr, c["dist0"])[0]
    assert c["rho_ball"] < 1e-12 < c["lambda_star"]           # ρ = 0 on the ball, λ* > 0
    tr = gradient_flow(pr, th0, 300.0, rtol=1e-11, atol=1e-13, save_steps=True)
    rows = {e.form: e for e in cor31(pr, tr, c)}
    assert rows["flowdeq"].verdict == "holds", rows["flowdeq"].reason
    assert rows["corrected"].verdict == "hypothesis fails"     # E8: ‖θ₀ − θ*‖ ≥ ‖ξ‖
    r = np.sum((tr.theta - [0.5, 0.0]) ** 2, axis=1)
    fake = dict(c, lambda_star=3 * np.log(r[0] / r[-1]) / tr.t[-1])   # 3× the mean rate
    assert {e.form: e for e in cor31(pr, tr, fake)}["flowdeq"].verdict == "violated"
    assert remark31(pr, c).verdict == "violated"               # tanh is in the Remark's list
