"""Sharpness λ_max(∇²R), GD's stability threshold, edge-of-stability detection, the Hessian at
minimisers, and step-size maps.

References: jax.hessian of the *risk* (autodiff through the model's prediction, not the
gradient code the HVPs use) and central differences of ∇R; the closed form on the linear
DEQ's minimiser line; GD itself, run by brute force over a fine grid of step sizes."""
import jax
import numpy as np
import pytest

import flowdeq as fd
from flowdeq.analysis.sharpness import (edge_of_stability, gd_stability, hessian, lanczos_sharpness,
                                        linear_line_sharpness, linear_line_spectrum,
                                        minimiser_spectrum, sharpness, sharpness_along)
from flowdeq.ensembles.stepsize import step_size_map

from test_modified import ScalarDEQ


@pytest.fixture(scope="module")
def linear():
    return fd.Problem(fd.LinearDEQ(1), fd.LinearTarget([2.0]), fd.Uniform(0, 1, 1, nodes=8))


@pytest.fixture(scope="module")
def linear3():
    """d = 3, anisotropic, correlated: Σ is far from a multiple of I."""
    rng = np.random.default_rng(3)
    X = rng.standard_normal((400, 3)) @ np.array([[2.0, 0.0, 0.0], [0.5, 1.0, 0.0], [0.0, 0.3, 0.4]])
    return fd.Problem(fd.LinearDEQ(3), fd.LinearTarget([1.0, -0.5, 2.0]), fd.Empirical(X))


def _risk_hessian(P, th):
    return np.asarray(jax.hessian(lambda t: P.risk(t))(np.asarray(th, float)))


def test_closed_form_on_the_minimiser_line_d1(linear):
    """λ_max = 2Σ(1 + ξ²)/α² at (αξ, 1 − α), one zero eigenvalue along the line."""
    S = float(linear.sigma[0, 0])
    for alpha in (0.3, -0.8, 2.0):
        th = np.array([2.0 * alpha, 1.0 - alpha])
        want = 2 * S * (1 + 4.0) / alpha ** 2
        assert linear_line_sharpness(linear, alpha) == pytest.approx(want, rel=1e-13)
        assert sharpness(linear, th) == pytest.approx(want, rel=1e-10)
        assert np.linalg.eigvalsh(_risk_hessian(linear, th))[-1] == pytest.approx(want, rel=1e-8)
        sp = minimiser_spectrum(linear, th, tangent=[2.0, -1.0])
        assert sp.null_dim == 1 and sp.tangent_outside_null < 1e-12
        assert sp.normal_in_tangent < 1e-12 and sp.grad_norm < 1e-12
        st = gd_stability(linear, th, 0.999 * 2 / want)
        assert st["stable"] and st["eta_max"] == pytest.approx(2 / want, rel=1e-10)
        assert not gd_stability(linear, th, 1.001 * 2 / want)["stable"]


def test_closed_form_on_the_minimiser_line_d3(linear3):
    """d > 1: spec H \\ {0} = (2/α²) spec(Σ(I + φ*φ*ᵀ)); the null vector is (φ*, −1)."""
    for alpha in (0.4, -1.3):
        vals, th, tangent = linear_line_spectrum(linear3, alpha)
        ref = np.linalg.eigvalsh(_risk_hessian(linear3, th))
        assert abs(ref[0]) < 1e-9 * ref[-1]
        np.testing.assert_allclose(ref[1:], vals, rtol=1e-8)
        sp = minimiser_spectrum(linear3, th, tangent=tangent)
        assert sp.null_dim == 1 and sp.tangent_outside_null < 1e-10 and sp.normal_in_tangent < 1e-10
        np.testing.assert_allclose(sp.eigenvalues[1:], vals, rtol=1e-10)


def test_sharpness_against_a_dense_hessian_dense_and_lanczos(linear3):
    """Off the minimisers, at random points: dense path and Lanczos path (fewer iterations
    than p, and iters = p) against eigvalsh of jax.hessian(R) and of a finite-difference
    Hessian of ∇R; and sharpness_along reads a run's points."""
    rng = np.random.default_rng(0)
    th = 0.4 * rng.standard_normal((5, 4))
    th[:, -1] = np.abs(th[:, -1])           # θ₂ below 1 … fine either side of 0
    ref = np.array([np.linalg.eigvalsh(_risk_hessian(linear3, t))[-1] for t in th])
    np.testing.assert_allclose(sharpness(linear3, th), ref, rtol=1e-9)
    lam, res = lanczos_sharpness(linear3, th, iters=4)
    np.testing.assert_allclose(lam, ref, rtol=1e-9)
    lam3, res3 = lanczos_sharpness(linear3, th, iters=3)
    # with fewer iterations than p the Ritz value is a lower bound within its residual bound
    assert np.all(lam3 <= ref * (1 + 1e-12)) and np.all(ref - lam3 <= res3 * (1 + 1e-9) + 1e-12)
    grad = lambda x: np.asarray(linear3.grad(x))  # noqa: E731
    h = 1e-6
    Hfd = np.stack([(grad(th[0] + h * e) - grad(th[0] - h * e)) / (2 * h) for e in np.eye(4)])
    np.testing.assert_allclose(hessian(linear3, th[0]), 0.5 * (Hfd + Hfd.T), rtol=1e-6, atol=1e-6)
    gd = fd.gradient_descent(linear3, th[0], 0.01, 5)
    t, l5 = sharpness_along(gd, linear3)
    assert t.tolist() == list(range(6)) and l5[0] == pytest.approx(ref[0], rel=1e-9)


def test_stability_threshold_of_a_quadratic_by_brute_force():
    """R(a) = E(a x − f)²: GD is a ↦ a − ηλ(a − a*), stable iff η < 2/λ, λ = 2E x²; the
    threshold read off GD runs over a fine η grid matches 2/sharpness."""
    x = np.linspace(0.1, 1.0, 7)
    P = fd.Problem(ScalarDEQ(), fd.LinearTarget([1.5]), fd.Empirical(x[:, None]))
    pred = 2.0 / sharpness(P, [0.4])
    assert pred == pytest.approx(1.0 / np.mean(x ** 2), rel=1e-12)
    etas = pred * np.linspace(0.98, 1.02, 80)   # 1.0 itself (|1 − ηλ| = 1) is not on it
    gd = fd.gradient_descent(P, [1.4], etas, 400, converged_tol=0.0)
    grows = np.abs(gd.theta[:, -1, 0] - 1.5) > 0.1       # started 0.1 away
    first = etas[np.argmax(grows)]
    assert not grows[0] and grows[-1] and np.all(np.diff(grows.astype(int)) >= 0)
    assert first == pytest.approx(pred, rel=1e-3)


def test_stability_threshold_on_the_linear_deq_by_brute_force(linear):
    """At a minimiser (αξ, 1 − α), a GD step size below 2/λ_max lets a small normal
    perturbation decay, above it grow; the threshold found over a fine η grid is 2/λ_max."""
    alpha = 0.5
    lam = linear_line_sharpness(linear, alpha)
    th_star = np.array([2.0 * alpha, 1.0 - alpha])
    vals, vecs = np.linalg.eigh(hessian(linear, th_star))
    start = th_star + 1e-7 * vecs[:, -1]
    etas = 2.0 / lam * np.linspace(0.99, 1.01, 100)   # not 1.0 itself
    gd = fd.gradient_descent(linear, start, etas, 60, converged_tol=0.0)
    dist = np.linalg.norm(gd.theta[:, -1] - th_star, axis=1)
    grows = dist > 1e-7
    first = etas[np.argmax(grows)]
    assert not grows[0] and grows[-1]
    assert first == pytest.approx(2.0 / lam, rel=3e-4)


def test_edge_of_stability_detection():
    eta = 0.1
    lam_eos = np.r_[np.linspace(2, 19, 50), 20 * (1 + 0.05 * np.sin(np.arange(200)))]   # rise, hover
    e = edge_of_stability(lam_eos, eta)
    assert e.detected and e.reached and 45 <= e.first <= 50 and e.above_count >= 10
    e = edge_of_stability(np.r_[np.linspace(25, 19.6, 5), np.full(100, 19.6)], eta)  # settles below
    assert e.reached and not e.detected and e.above_count == 5 - 1
    e = edge_of_stability(np.full(50, 5.0), eta)
    assert not e.reached and e.first == -1 and not e.detected
    risk = np.r_[1.0, 0.5, 0.7, 0.3, 0.35, 0.1]
    e = edge_of_stability(np.full(6, 30.0), eta, risk=risk, min_points=3)
    assert e.detected is False and e.risk_increases == pytest.approx(2 / 5)  # never in band
    with pytest.raises(ValueError, match="step_size"):
        edge_of_stability(lam_eos, 0.0)


def test_step_size_map_linear(linear, tmp_path):
    """Per member: GD's radius never below the flow's conserved one (identity (8)), the
    sharpness at every converged limit below 2/η, the same branch; per start η_pred equals
    the closed form at the corrected Thm 3.3 limit (errata E2)."""
    starts = np.array([[0.035, 0.082], [0.1, -0.5], [-0.2, 1.6]])
    etas = np.array([0.01, 0.1, 0.5, 2.0])
    an = step_size_map(linear, starts, etas, str(tmp_path / "map"), steps=300, chunk_size=3,
                       flow={"t1": 400.0, "solver": "tsit5"}, progress=False)
    m, ps = an["members"], an["per_start"]
    assert (tmp_path / "map" / "descent" / "manifest.json").exists()
    assert (tmp_path / "map" / "flow" / "manifest.json").exists()
    ok = np.all(np.isfinite(m["theta_final"]), axis=1)
    assert np.all(m["radius_final"][ok] >= m["radius_flow"][ok] * (1 - 1e-12))
    conv = m["outcome"] == "converged"
    assert conv.sum() >= 4
    assert np.all(m["eta_lambda_over_2"][conv] < 1.0) and np.all(m["same_branch"][conv])
    S = float(linear.sigma[0, 0])
    r0 = np.hypot(starts[:, 0], starts[:, 1] - 1.0)
    alpha = np.sign(1 - starts[:, 1]) * r0 / np.sqrt(5.0)
    np.testing.assert_allclose(ps["eta_pred"], alpha ** 2 / (S * 5.0), rtol=1e-6)
    crossed = m["outcome"] == "crossed"
    np.testing.assert_array_equal(m["first_cross_step"] >= 0, crossed)
    # a rerun resumes both sweeps from disk and gives the same tables
    again = step_size_map(linear, starts, etas, str(tmp_path / "map"), steps=300, chunk_size=3,
                          flow={"t1": 400.0, "solver": "tsit5"}, progress=False, resume=True)
    np.testing.assert_array_equal(again["members"]["theta_final"], m["theta_final"])
