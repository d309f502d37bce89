"""Modified (backward-error) flows of GD: the field against finite differences, the error
orders against GD itself, the linear DEQ's radius identity, the CLI verb.

References are independent of the code under test: central finite differences of R̃ and of
∇R (no HVP), the exact GD iterates (a NumPy recursion), and the exact modified equation of
GD on a quadratic, θ′ = (log(1 − ηa)/η)θ, whose Taylor series in η fixes the order-1 and
order-2 coefficients."""
import json

import equinox as eqx
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.integrate import simpson

import flowdeq as fd
from flowdeq.cli import main
from flowdeq.dynamics.modified import modified_field, modified_flow, modified_risk

TIGHT = {"rtol": 1e-13, "atol": 1e-15, "converged_tol": 0.0, "solver": "tsit5", "n_save": 201}


class ScalarDEQ(fd.AbstractDEQ):
    """y = a·x (no feedback): R(a) = E(a x − f)², a 1-D quadratic with R″ = 2E x²."""

    dim: int = eqx.field(static=True, default=1)
    width: int = eqx.field(static=True, default=1)

    def param_template(self):
        return {"a": ()}

    def layer(self, params, x, z):
        return params["a"] * x

    def margin(self, params):
        return jnp.ones(())


@pytest.fixture(scope="module")
def linear():
    return fd.Problem(fd.LinearDEQ(1), fd.LinearTarget([2.0]), fd.Uniform(0, 1, 1, nodes=8))


@pytest.fixture(scope="module")
def sigmoid():
    return fd.Problem(fd.SingleIndexDEQ("sigmoid", 1), fd.SingleIndexTarget([2.0], "sigmoid"),
                      fd.Uniform(0, 1, 1, nodes=8))


def _fd_grad(f, x, h):
    e = np.eye(x.size)
    return np.array([(f(x + h * e[i]) - f(x - h * e[i])) / (2 * h) for i in range(x.size)])


@pytest.mark.parametrize("which, theta", [("linear", [0.3, 0.2]), ("sigmoid", [0.8, 0.4])])
def test_order1_field_is_minus_fd_gradient_of_modified_risk(which, theta, request):
    P = request.getfixturevalue(which)
    th = np.asarray(theta)
    eta = 0.07
    rt = lambda x: modified_risk(P, x, eta)  # noqa: E731
    ref = -_fd_grad(rt, th, 1e-5)
    np.testing.assert_allclose(modified_field(P, th, eta, 1), ref, rtol=1e-7, atol=1e-9)
    # R̃ itself: R + (η/4)‖∇R‖² with ∇R by finite differences of R
    g = _fd_grad(lambda x: float(P.risk(x)), th, 1e-5)
    assert rt(th) == pytest.approx(float(P.risk(th)) + eta / 4 * g @ g, rel=1e-9)


def test_order2_correction_matches_finite_differences(linear):
    """f̃₂ − f̃₁ = −η²(⅓H²g + (1/12)T[g, g]); H v and T[g, g] by differences of ∇R (the
    linear DEQ's R is not quadratic in θ: T ≠ 0)."""
    P = linear
    th = np.array([0.3, 0.2])
    eta = 0.05
    grad = lambda x: np.asarray(P.grad(x))  # noqa: E731
    g = grad(th)
    h = 1e-4
    Hv = lambda v: (grad(th + h * v) - grad(th - h * v)) / (2 * h)  # noqa: E731
    H2g = Hv(Hv(g))
    hg = 1e-3 / np.linalg.norm(g)
    Tgg = (grad(th + hg * g) - 2 * g + grad(th - hg * g)) / hg ** 2
    ref = -eta ** 2 * (H2g / 3 + Tgg / 12)
    got = modified_field(P, th, eta, 2) - modified_field(P, th, eta, 1)
    np.testing.assert_allclose(got, ref, rtol=2e-4, atol=1e-6 * np.abs(ref).max())


def test_coefficients_against_the_exact_modified_equation_of_a_quadratic():
    """GD on R = E(a x − f)² is θ ↦ (1 − ηλ)θ + …, whose exact modified field is
    (log(1 − ηλ)/η)(a − a*) = −λ(a − a*)(1 + ηλ/2 + η²λ²/3 + …), λ = 2E x²."""
    x = np.linspace(0.1, 1.0, 7)
    P = fd.Problem(ScalarDEQ(), fd.LinearTarget([1.5]), fd.Empirical(x[:, None]))
    lam = 2 * np.mean(x ** 2)
    a = np.array([0.4])
    for eta in (0.01, 0.05):
        e = eta * lam
        base = -lam * (a - 1.5)
        assert modified_field(P, a, eta, 1) == pytest.approx(base * (1 + e / 2), rel=1e-12)
        assert modified_field(P, a, eta, 2) == pytest.approx(base * (1 + e / 2 + e ** 2 / 3),
                                                             rel=1e-12)


def test_gd_follows_modified_flows_to_their_orders(linear):
    """‖θ_GD(T/η) − θ̃(T)‖ ∝ η^(order+1) for the modified flows of order 1 and 2: fitted slopes
    over η ∈ [0.005, 0.04] (0.9 decades; the study fits the plain flow's order 1 too)."""
    th0 = np.array([0.035, 0.082])
    T = 1.0
    etas = 0.04 / 2.0 ** np.arange(4)
    n = np.rint(T / etas).astype(int)
    gd = fd.gradient_descent(linear, th0, etas, int(n.max()), converged_tol=0.0)
    errs = {o: [] for o in (1, 2)}
    for i, eta in enumerate(etas):
        for o in errs:
            m = modified_flow(linear, th0, eta, o, T, **TIGHT)
            errs[o].append(np.linalg.norm(gd.theta[i, n[i]] - m.theta[-1]))
    for o, e in errs.items():
        slope = np.polyfit(np.log(etas), np.log(e), 1)[0]
        assert abs(slope - (o + 1)) < 0.2, (o, slope, e)
    assert errs[2][-1] < errs[1][-1]


def test_linear_radius_grows_at_eta_grad_squared(linear):
    """(θ − c)ᵀ∇R ≡ 0 ⇒ H(θ − c) = −∇R, so along the order-1 flow w = ‖θ − (0, 1)‖² obeys
    w′ = 2(θ − c)ᵀf̃ = η‖∇R‖² (the plain flow conserves w: Thm 3.1, tests/test_flow.py)."""
    th0 = np.array([0.035, 0.082])
    eta = 0.05
    m = modified_flow(linear, th0, eta, 1, 1.0, **TIGHT)
    c = np.array([0.0, 1.0])
    rate = 2 * np.sum((m.theta - c) * modified_field(linear, m.theta, eta, 1), axis=1)
    np.testing.assert_allclose(rate, eta * m.grad_norm ** 2, rtol=1e-9, atol=1e-14)
    w = np.sum((m.theta - c) ** 2, axis=1)
    assert np.all(np.diff(w) >= -1e-14) and w[-1] > w[0] * 1.001
    # and the growth is η∫‖∇R‖²dt (Simpson on the save grid, fine enough here)
    assert w[-1] - w[0] == pytest.approx(eta * simpson(m.grad_norm ** 2, x=m.t), rel=1e-4)
    assert m.settings["field"] == {"name": "modified", "step_size": eta, "order": 1}


def test_bad_arguments_are_one_line_errors(linear):
    with pytest.raises(ValueError, match="order is 3"):
        modified_field(linear, [0.1, 0.2], 0.1, 3)
    with pytest.raises(ValueError, match="step_size"):
        modified_flow(linear, [0.1, 0.2], -0.1, 1, 1.0)
    with pytest.raises(ValueError, match="margin"):
        modified_flow(linear, [0.1, 1.0], 0.1, 1, 1.0)


CONFIG = """
[model]
kind = "linear"
[target]
xi = [2.0]
[data]
law = "uniform"
nodes = 8
[init]
theta0 = [0.035, 0.082]
[flow]
t1 = 1.0
solver = "tsit5"
rtol = 1e-13
atol = 1e-15
converged_tol = 0.0
[descent]
step_size = 0.05
steps = 20
"""


def test_cli_modified(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text(CONFIG + "[modified]\norder = 2\n")
    assert main(["modified", str(cfg), "--out", str(tmp_path / "out")]) == 0
    tr = fd.Trajectory.load(tmp_path / "out" / "trajectory.npz")
    assert tr.settings["field"] == {"name": "modified", "step_size": 0.05, "order": 2}
    with open(tmp_path / "out" / "summary.json") as fh:
        assert json.load(fh)["outcome"] == "max_time"
    # a strict table: unknown key, bad order, no η anywhere
    for extra, msg in [("[modified]\nordr = 1\n", "did you mean 'order'"),
                       ("[modified]\norder = 3\n", "order is 3"),
                       ("[modified]\nstep_size = -1.0\n", "step_size")]:
        cfg.write_text(CONFIG + extra)
        assert main(["modified", str(cfg), "--out", str(tmp_path / "bad")]) == 2
        assert msg in capsys.readouterr().err
    cfg.write_text(CONFIG.replace("step_size = 0.05\n", ""))
    assert main(["modified", str(cfg), "--out", str(tmp_path / "bad")]) == 2
    assert "step size" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()
