"""Risk, gradient and equilibrium against closed forms, finite differences and brentq."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.optimize import brentq

import flowdeq as fd
from flowdeq.equilibrium import solve_equilibrium


def central_fd(f, theta, h=1e-6):
    theta = np.asarray(theta, float)
    g = np.zeros_like(theta)
    for i in range(theta.size):
        e = np.zeros_like(theta)
        e[i] = h
        g[i] = (float(f(theta + e)) - float(f(theta - e))) / (2 * h)
    return g


@pytest.mark.parametrize("theta", [[0.3, -0.7, 0.2], [-1.0, 0.5, 1.7], [0.1, 0.1, -3.0]])
def test_linear_risk_closed_form_and_gradient(linear_aniso, theta):
    p = linear_aniso
    X, w = (np.asarray(a) for a in p.data.nodes_weights())
    xi = np.array([2.0, -1.0])
    th = np.asarray(theta)
    # closed form through Σ = E[XXᵀ] = cov + mean meanᵀ (independent of the quadrature)
    mean, cov = np.array([0.3, -0.2]), np.array([[1.0, 0.3], [0.3, 0.2]])
    Sigma = cov + np.outer(mean, mean)
    phi = th[:2] / (1 - th[2])
    r_closed = (phi - xi) @ Sigma @ (phi - xi)
    r_nodes = w @ ((X @ th[:2]) / (1 - th[2]) - X @ xi) ** 2
    assert float(p.risk(th)) == pytest.approx(r_closed, rel=1e-12)
    assert r_nodes == pytest.approx(r_closed, rel=1e-12)
    g_closed = 2 / (1 - th[2]) * np.concatenate([Sigma @ (phi - xi), [phi @ Sigma @ (phi - xi)]])
    np.testing.assert_allclose(np.asarray(p.grad(th)), g_closed, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(np.asarray(p.grad(th)), central_fd(p.risk, th), rtol=1e-7, atol=1e-8)


def test_linear_model_with_single_index_target_uses_moments():
    """A linear DEQ fitted to σ(ξx): closed form via Σ and E[X f(X)] equals the node sum."""
    p = fd.Problem(fd.LinearDEQ(1, bias=True), fd.SingleIndexTarget([2.0], "sigmoid"),
                   fd.Uniform(0, 1, 1, nodes=40))
    th = np.array([0.4, 0.2, 0.3])
    X, w = p.data.nodes_weights()
    y = (0.4 * X[:, 0] + 0.2) / 0.7
    f = 1 / (1 + np.exp(-2 * X[:, 0]))
    assert float(p.risk(th)) == pytest.approx(w @ (y - f) ** 2, rel=1e-10)
    np.testing.assert_allclose(np.asarray(p.grad(th)), central_fd(p.risk, th), rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("act", ["sigmoid", "tanh", "softplus"])
@pytest.mark.parametrize("theta", [[0.3, 0.5], [2.5, -0.6], [-1.0, 0.9]])
def test_single_index_ift_gradient_vs_finite_differences(act, theta):
    L = fd.get_activation(act).lipschitz
    th = np.array([theta[0], theta[1] * min(1.0, 0.95 / L)])
    p = fd.Problem(fd.SingleIndexDEQ(act, 1), fd.SingleIndexTarget([2.0], act),
                   fd.Uniform(0, 1, 1, nodes=24))
    g = np.asarray(p.grad(th))
    np.testing.assert_allclose(g, central_fd(p.risk, th, h=1e-6), rtol=1e-6, atol=1e-9)
    # the autodiff gradient through the custom_jvp agrees with the closed form (eq. 14)
    np.testing.assert_allclose(np.asarray(jax.grad(lambda t: p.risk(t))(jnp.asarray(th))), g,
                               rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("act,theta2", [("sigmoid", 3.9), ("sigmoid", -3.99), ("tanh", 0.999),
                                        ("softplus", -0.95), ("relu", 0.5), ("linear", -0.9)])
def test_equilibrium_matches_brentq(act, theta2):
    a = fd.get_activation(act)
    avals = np.linspace(-5, 5, 41)
    y = np.asarray(solve_equilibrium(a, jnp.asarray(avals), jnp.asarray(theta2)))
    for ai, yi in zip(avals, y):
        f = lambda v: v - float(a.fn(ai + theta2 * v))
        ref = brentq(f, -200, 200, xtol=1e-15, rtol=1e-15)
        assert yi == pytest.approx(ref, rel=1e-12, abs=1e-12)


def test_equilibrium_reports_noncontractive_as_nan_and_error():
    m = fd.SingleIndexDEQ("tanh", 1)
    y = np.asarray(m.output(np.array([1.0, 1.2]), np.array([[0.5], [0.7]])))
    assert np.all(np.isnan(y))
    with pytest.raises(ValueError, match="L\\|θ₂\\|"):
        m.solve(np.array([1.0, 1.2]), np.array([[0.5]]))
    y = m.solve(np.array([1.0, 0.5]), np.array([[0.5]]))
    assert y[0] == pytest.approx(np.tanh(0.5 + 0.5 * y[0]), abs=1e-14)


def test_ift_derivative_of_equilibrium():
    a = fd.get_activation("sigmoid")
    f = lambda av, t2: solve_equilibrium(a, jnp.atleast_1d(av), t2)[0]
    fl = lambda av, t2: float(f(av, t2))
    av, t2 = 0.7, 2.5
    da, dt = jax.grad(f, argnums=(0, 1))(av, t2)
    h = 1e-6
    assert float(da) == pytest.approx((fl(av + h, t2) - fl(av - h, t2)) / (2 * h), rel=1e-7)
    assert float(dt) == pytest.approx((fl(av, t2 + h) - fl(av, t2 - h)) / (2 * h), rel=1e-7)


def test_custom_activation_and_bias():
    act = fd.Activation.custom(lambda z: jnp.arctan(z), lipschitz=1.0, name="arctan")
    p = fd.Problem(fd.SingleIndexDEQ(act, 1, bias=True), fd.SingleIndexTarget([1.5], act),
                   fd.Uniform(-1, 1, 1, nodes=16))
    assert p.n_params == 3
    th = np.array([1.0, 0.2, 0.3])
    np.testing.assert_allclose(np.asarray(p.grad(th)), central_fd(p.risk, th), rtol=1e-6, atol=1e-9)
    assert float(p.risk(np.array([1.5, 0.0, 0.0]))) == pytest.approx(0.0, abs=1e-28)


def test_problem_rejects_mismatched_dimensions():
    with pytest.raises(ValueError, match="dim"):
        fd.Problem(fd.LinearDEQ(2), fd.LinearTarget([1.0]), fd.Uniform(0, 1, 2, nodes=4))
    with pytest.raises(ValueError, match="dim"):
        fd.Problem(fd.LinearDEQ(1), fd.LinearTarget([1.0]), fd.Uniform(0, 1, 2, nodes=4))


def test_problem_output_at_new_inputs_matches_the_closed_form(linear_aniso):
    # the paper study draws ŷ_θ on a plotting grid: x is not the rule's nodes
    th = np.array([0.3, -0.7, 0.2])
    x = np.array([[0.5, -1.0], [2.0, 0.25], [0.0, 0.0]])
    np.testing.assert_allclose(np.asarray(linear_aniso.output(th, x)), x @ th[:2] / (1 - th[2]),
                               rtol=1e-13, atol=1e-15)
    assert np.asarray(linear_aniso.output(th)).shape == (linear_aniso.X.shape[0],)
