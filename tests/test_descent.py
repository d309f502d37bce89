"""gradient_descent: the hand-written update, identity (8), crossing and other events."""
import numpy as np
import pytest

import flowdeq as fd
from flowdeq.descent import gradient_descent


def test_reproduces_hand_written_update(linear_aniso):
    th = np.array([0.3, -0.2, 0.4])
    eta = 0.05
    tr = gradient_descent(linear_aniso, th, eta, 5, converged_tol=0.0)
    mean, cov = np.array([0.3, -0.2]), np.array([[1.0, 0.3], [0.3, 0.2]])
    S = cov + np.outer(mean, mean)
    xi = np.array([2.0, -1.0])
    for s in range(6):
        np.testing.assert_allclose(tr.theta[s], th, rtol=1e-13, atol=1e-15)
        phi = th[:2] / (1 - th[2])
        g = 2 / (1 - th[2]) * np.r_[S @ (phi - xi), phi @ S @ (phi - xi)]
        th = th - eta * g


def test_sigmoid_update_matches_numpy_brentq_reference():
    from scipy.optimize import brentq
    data = fd.Uniform(0, 1, 1).monte_carlo(50, seed=2)
    p = fd.Problem(fd.SingleIndexDEQ("sigmoid", 1), fd.SingleIndexTarget([2.0], "sigmoid"), data)
    x = data.nodes_weights()[0][:, 0]
    sig = lambda z: 1 / (1 + np.exp(-z))
    th = np.array([0.05, -0.1])
    tr = gradient_descent(p, th, 0.1, 3, converged_tol=0.0)
    for s in range(4):
        np.testing.assert_allclose(tr.theta[s], th, rtol=1e-12, atol=1e-14)
        y = np.array([brentq(lambda v: v - sig(th[0] * xi + th[1] * v), -10, 10, xtol=1e-15)
                      for xi in x])
        sp = sig(th[0] * x + th[1] * y) * (1 - sig(th[0] * x + th[1] * y))
        k = 2 * (y - sig(2 * x)) * sp / (1 - th[1] * sp) / len(x)
        th = th - 0.1 * np.array([k @ x, k @ y])


@pytest.mark.parametrize("th0", [[0.1, 0.05], [-1.0, 1.8], [0.3, 0.9]])
def test_gd_identity_eq8(th0):
    p = fd.Problem(fd.LinearDEQ(1), fd.LinearTarget([2.0]), fd.Uniform(0, 1, 1).monte_carlo(1000, 0))
    eta = 0.01
    tr = gradient_descent(p, th0, eta, 200, converged_tol=0.0)
    w = tr.theta[:, 0] ** 2 + (tr.theta[:, 1] - 1) ** 2
    pred = w[:-1] + eta ** 2 * tr.grad_norm[:-1] ** 2
    assert np.max(np.abs(w[1:] - pred) / w[1:]) < 1e-12


def test_crossed_detected_and_points_kept():
    p = fd.Problem(fd.LinearDEQ(1), fd.LinearTarget([2.0]), fd.Uniform(0, 1, 1, nodes=8))
    th0 = np.array([0.1, 0.9])
    tr = gradient_descent(p, th0, 1.0, 50)
    g = np.asarray(p.grad(th0))
    assert tr.outcome == "crossed" and tr.event_step == 1
    np.testing.assert_allclose(tr.theta[1], th0 - g, rtol=1e-14)
    assert (1 - tr.theta[0, 1]) * (1 - tr.theta[1, 1]) < 0
    assert len(tr.t) == 2
    ok = gradient_descent(p, th0, 0.001, 50, converged_tol=0.0)
    assert ok.outcome == "max_steps" and ok.event_step == -1 and len(ok.t) == 51
    assert np.all(ok.theta[:, 1] < 1)


def test_noncontractive_and_diverged():
    p = fd.Problem(fd.SingleIndexDEQ("tanh", 1), fd.SingleIndexTarget([2.0], "tanh"),
                   fd.Uniform(0, 1, 1, nodes=16))
    tr = gradient_descent(p, [0.0, 0.9], 2.0, 100)   # big step pushes θ₂ past 1/L = 1
    assert tr.outcome == "ill_posed"
    assert abs(tr.theta[-1, -1]) >= 1 - 1e-6
    assert np.isnan(tr.risk[-1]) and np.all(np.isfinite(tr.risk[:-1]))
    q = fd.Problem(fd.LinearDEQ(1), fd.LinearTarget([2.0]), fd.Uniform(0, 1, 1, nodes=8))
    # large steps from (30, -2) fling θ₂ away from 1: ‖θ‖ passes the cap of 1e3
    d = gradient_descent(q, [30.0, -2.0], 100.0, 100, divergence_cap=1e3)
    assert d.outcome == "diverged"
    th, k = np.array([30.0, -2.0]), 0
    while np.linalg.norm(th) <= 1e3:  # brute-force reference for the event step
        th, k = th - 100.0 * np.asarray(q.grad(th)), k + 1
    assert d.event_step == k
    np.testing.assert_allclose(d.theta[-1], th, rtol=1e-12)


def test_batch_over_starts_and_step_sizes():
    p = fd.Problem(fd.LinearDEQ(1), fd.LinearTarget([2.0]), fd.Uniform(0, 1, 1, nodes=8))
    th = np.array([[0.1, 0.05], [0.5, 0.5]])
    etas = [0.01, 0.5, 5.0]
    b = gradient_descent(p, th, etas, 100)
    assert len(b) == 6
    np.testing.assert_array_equal(b.per_member["step_size"], np.repeat(etas, 2))
    for i in range(6):
        single = gradient_descent(p, th[b.per_member["start"][i]], b.per_member["step_size"][i], 100)
        assert single.outcome == b.outcome[i]
        np.testing.assert_allclose(single.theta, b[i].theta, rtol=1e-14)


def test_single_sigmoid_member_equals_its_batch_row(sigmoid_problem):
    """One member runs without vmap (a cheaper trace); it must be the batch's own row."""
    th = np.array([[0.1, 0.1], [-0.4, 0.3], [1.0, -2.0]])
    b = gradient_descent(sigmoid_problem, th, 0.5, 300)
    for i in range(3):
        single = gradient_descent(sigmoid_problem, th[i], 0.5, 300)
        assert single.outcome == b.outcome[i]
        np.testing.assert_allclose(single.theta, b[i].theta, rtol=1e-14, atol=1e-15)


def test_bad_step_size():
    p = fd.Problem(fd.LinearDEQ(1), fd.LinearTarget([2.0]), fd.Uniform(0, 1, 1, nodes=8))
    with pytest.raises(ValueError, match="step_size"):
        gradient_descent(p, [0.1, 0.5], -0.1, 10)
    with pytest.raises(ValueError, match="θ₂ = 1"):
        gradient_descent(p, [0.1, 1.0], 0.1, 10)
