"""Shared test set-up: float64 (importing flowdeq enables it) and SciPy references.

The suite runs with ``FLOWDEQ_NO_CACHE=1`` (inherited by subprocesses), so CLI tests do
not write JAX's compilation cache into the home directory; tests/test_recompile.py
checks the cache with a temporary directory of its own."""
import os

os.environ["FLOWDEQ_NO_CACHE"] = "1"

import jax  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from scipy.integrate import solve_ivp  # noqa: E402

import flowdeq as fd  # noqa: E402


def scipy_flow(problem, theta0, t1, t_eval=None, events=None, rtol=1e-12, atol=1e-14):
    """Independent reference: θ' = −∇R(θ) by SciPy's Radau at tight tolerance.

    ∇R is jitted once (eager calls would re-trace the equilibrium loop every time)."""
    grad = jax.jit(lambda t: problem.grad(t))
    jac = jax.jit(jax.jacfwd(lambda t: -problem.grad(t)))
    return solve_ivp(lambda t, y: -np.asarray(grad(y)), (0.0, t1), np.asarray(theta0, float),
                     method="Radau", rtol=rtol, atol=atol, t_eval=t_eval, events=events,
                     jac=lambda t, y: np.asarray(jac(y)))


@pytest.fixture
def linear_aniso():
    """Linear DEQ, d = 2, anisotropic correlated Gaussian inputs (Σ = cov + mean meanᵀ)."""
    data = fd.Gaussian([0.3, -0.2], [[1.0, 0.3], [0.3, 0.2]], nodes=6)
    return fd.Problem(fd.LinearDEQ(2), fd.LinearTarget([2.0, -1.0]), data)


@pytest.fixture
def linear_1d():
    return fd.Problem(fd.LinearDEQ(1), fd.LinearTarget([2.0]), fd.Uniform(0, 1, 1, nodes=8))


@pytest.fixture
def sigmoid_problem():
    """The paper's Sec. 4.2 population problem: sigmoid DEQ, f = σ(2x), X ~ Unif[0, 1]."""
    return fd.Problem(fd.SingleIndexDEQ("sigmoid", 1), fd.SingleIndexTarget([2.0], "sigmoid"),
                      fd.Uniform(0, 1, 1, nodes=32))
