"""Activations (σ′, L) and the data rules (quadrature exactness, sampling, file input)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import flowdeq as fd


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "softplus", "linear"])
def test_derivative_and_lipschitz(name):
    a = fd.get_activation(name)
    z = jnp.linspace(-8, 8, 4001)
    auto = jax.vmap(jax.grad(lambda s: a.fn(s)))(z)
    np.testing.assert_allclose(np.asarray(a.derivative(z)), np.asarray(auto), rtol=1e-12, atol=1e-15)
    assert float(jnp.max(jnp.abs(auto))) == pytest.approx(a.lipschitz, rel=1e-3)


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "softplus", "relu", "linear"])
def test_host_form_equals_the_jax_form(name):
    """Problems evaluate targets with the NumPy form (no compile); it must be σ itself,
    to rounding, including far tails where a naive 1/(1+e^{-z}) over/underflows."""
    a = fd.get_activation(name)
    z = np.concatenate([np.linspace(-40, 40, 8001), [-700.0, -50.0, 50.0, 700.0]])
    np.testing.assert_allclose(a.host(z), np.asarray(a.fn(jnp.asarray(z))), rtol=4e-15, atol=0)


def test_custom_activation_host_form_uses_jax():
    a = fd.Activation.custom(lambda z: jnp.tanh(z) / 2, lipschitz=0.5)
    np.testing.assert_allclose(a.host(np.array([0.3, -1.0])), np.tanh([0.3, -1.0]) / 2, rtol=1e-15)


def test_relu_and_unknown_activation():
    r = fd.get_activation("relu")
    assert float(r.derivative(jnp.asarray(2.0))) == 1.0 and float(r.derivative(jnp.asarray(-2.0))) == 0.0
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        fd.get_activation("swish")
    with pytest.raises(ValueError, match="lipschitz"):
        fd.Activation.custom(jnp.tanh, lipschitz=float("nan"))


def test_inf_derivative_sigmoid():
    # σ′ is even and decreasing in |z|: inf over |z| ≤ r is σ′(r)
    s = 1 / (1 + np.exp(-3.0))
    assert fd.get_activation("sigmoid").inf_derivative(3.0) == pytest.approx(s * (1 - s), rel=1e-12)


def test_uniform_quadrature_is_exact_for_moments():
    X, w = fd.Uniform([0.0, -1.0], [1.0, 3.0], dim=2, nodes=5).nodes_weights()
    assert w.sum() == pytest.approx(1.0, abs=1e-15)
    assert w @ X[:, 0] ** 4 == pytest.approx(1 / 5, rel=1e-13)          # E U⁴, U ~ U[0,1]
    assert w @ (X[:, 1] ** 3) == pytest.approx((3 ** 4 - 1) / 16, rel=1e-13)   # E V³, V ~ U[-1,3]
    assert w @ (X[:, 0] * X[:, 1]) == pytest.approx(0.5 * 1.0, rel=1e-13)


def test_gaussian_quadrature_moments_and_singular_cov():
    mean, cov = np.array([0.5, -1.0]), np.array([[2.0, 0.6], [0.6, 0.5]])
    X, w = fd.Gaussian(mean, cov, nodes=8).nodes_weights()
    np.testing.assert_allclose(w @ X, mean, atol=1e-13)
    np.testing.assert_allclose((X * w[:, None]).T @ X, cov + np.outer(mean, mean), atol=1e-12)
    Xs, ws = fd.Gaussian([0.0, 0.0], [[1.0, 1.0], [1.0, 1.0]], nodes=8).nodes_weights()
    assert Xs.shape == (8, 2)  # one direction only: no wasted nodes on the null space
    np.testing.assert_allclose(Xs[:, 0], Xs[:, 1])


def test_gaussian_rejects_non_psd_and_asymmetric():
    with pytest.raises(ValueError, match="not positive semi-definite"):
        fd.Gaussian([0.0, 0.0], [[1.0, 2.0], [2.0, 1.0]])
    with pytest.raises(ValueError, match="not symmetric"):
        fd.Gaussian([0.0, 0.0], [[1.0, 0.5], [0.0, 1.0]])


def test_monte_carlo_is_seeded():
    a = fd.Uniform(0, 1, 1).monte_carlo(50, seed=3).nodes_weights()[0]
    b = fd.Uniform(0, 1, 1).monte_carlo(50, seed=3).nodes_weights()[0]
    c = fd.Uniform(0, 1, 1).monte_carlo(50, seed=4).nodes_weights()[0]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert np.all((a >= 0) & (a <= 1))


def test_empirical_from_files(tmp_path):
    x = np.random.default_rng(0).normal(size=(20, 2))
    np.save(tmp_path / "x.npy", x)
    np.testing.assert_array_equal(fd.Empirical.from_file(tmp_path / "x.npy").samples, x)
    (tmp_path / "x.csv").write_text("a,b\n" + "\n".join(f"{float(r[0])!r},{float(r[1])!r}" for r in x))
    np.testing.assert_array_equal(fd.Empirical.from_file(tmp_path / "x.csv").samples, x)


@pytest.mark.parametrize("content,match", [("1,2\n3\n", "malformed"), ("1,2\nx,3\n", "malformed"),
                                           ("1,nan\n2,3\n", "non-finite"), ("", "shape")])
def test_empirical_malformed_file(tmp_path, content, match):
    f = tmp_path / "bad.csv"
    f.write_text(content)
    with pytest.raises(ValueError, match=match):
        fd.Empirical.from_file(f)


def test_empirical_missing_file(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        fd.Empirical.from_file(tmp_path / "nope.csv")
