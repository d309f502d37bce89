"""Diagnostics pass on honest runs and report a violation on deliberately perturbed ones."""
import copy

import jax
import numpy as np
import pytest
from scipy.integrate import solve_ivp

from flowdeq import LinearDEQ, LinearTarget, Problem, SingleIndexDEQ, SingleIndexTarget, Uniform
from flowdeq.descent import gradient_descent
from flowdeq.diagnostics import (conservation_check, diagnose, energy_residual, lasalle_check,
                                 lyapunov_check, predicted_limit)
from flowdeq.flow import gradient_flow
from flowdeq.plot import report_figure


@pytest.fixture(scope="module")
def lin():
    return Problem(LinearDEQ(1), LinearTarget([2.0]), Uniform(0.0, 1.0, 1, nodes=8))


@pytest.fixture(scope="module")
def flow_run(lin):
    return gradient_flow(lin, np.array([0.3, -0.5]), 4.0, rtol=1e-11, atol=1e-13)


@pytest.fixture(scope="module")
def gd_run(lin):
    return gradient_descent(lin, np.array([0.3, -0.5]), 0.01, 400)


def _copy(tr):
    return copy.deepcopy(tr)


def test_honest_runs_pass(lin, flow_run, gd_run):
    for tr in (flow_run, gd_run):
        rep = diagnose(tr, lin)
        assert rep.passed, str(rep)
        assert "| check |" in str(rep)


def test_limit_matches_scipy_radau(lin):
    # independent reference: Radau on the closed-form gradient (eq. 4 corrected, errata E1)
    th0 = np.array([0.3, 1.5])
    s, xi = 1 / 3, 2.0

    def f(t, th):
        u = 1 - th[1]
        phi = th[0] / u
        g = s * (phi - xi)
        return -(2 / u) * np.array([g, phi * g])
    sol = solve_ivp(f, (0, 400), th0, method="Radau", rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(predicted_limit(lin, th0), sol.y[:, -1], atol=1e-8)
    assert abs(predicted_limit(lin, th0)[1] - 1.2607680962) < 1e-9   # errata E2 table


def test_lyapunov_flags_increase(lin, flow_run):
    tr = _copy(flow_run)
    tr.risk[50] = tr.risk[49] * 1.5
    res = lyapunov_check(tr, lin)
    assert not res[0].passed and not res[1].passed


def test_energy_identity_flags_wrong_gradient(lin, flow_run):
    tr = _copy(flow_run)
    assert np.nanmax(energy_residual(tr)) < 1e-3
    tr.grad_norm = tr.grad_norm * 1.1          # ‖∇R‖² off by 21 %
    assert not lyapunov_check(tr, lin)[1].passed


def test_conservation_flags_drift(lin, flow_run, gd_run):
    assert conservation_check(flow_run, lin).passed
    tr = _copy(flow_run)
    tr.theta[100:, 0] *= 1.001
    assert not conservation_check(tr, lin).passed
    g = _copy(gd_run)
    assert conservation_check(g, lin).passed
    g.theta[10:, 1] += 1e-6                    # breaks w(s+1) = w(s) + η²‖∇R‖² at s = 9
    assert not conservation_check(g, lin).passed


def test_descent_lemma_flags_violation(lin, gd_run):
    g = _copy(gd_run)
    g.risk[5] = g.risk[4]                      # no decrease although ‖∇R‖ > 0
    chk = lyapunov_check(g, lin)
    assert not chk[1].passed


def test_lasalle_flags_wrong_limit(lin, flow_run, gd_run):
    assert all(c.passed for c in lasalle_check(flow_run, lin))
    tr = _copy(flow_run)
    tr.theta[-1] = tr.theta[-1] + np.array([0.01, 0.0])
    res = lasalle_check(tr, lin)
    assert not res[0].passed and not res[1].passed
    g = _copy(gd_run)
    g.theta[-1, 1] += 1e-3
    assert not all(c.passed for c in lasalle_check(g, lin))


def test_single_index_limit_and_figure(tmp_path):
    pr = Problem(SingleIndexDEQ("sigmoid", 1), SingleIndexTarget([2.0], "sigmoid"),
                 Uniform(0.0, 1.0, 1, nodes=16))
    tr = gradient_flow(pr, np.array([1.8, 0.2]), 3000.0, rtol=1e-10, atol=1e-12, n_save=3001)
    rep = diagnose(tr, pr, limit_tol=1e-3)
    assert rep.passed, str(rep)
    bad = _copy(tr)
    bad.theta[-1] = np.array([1.5, 0.3])
    assert not diagnose(bad, pr).passed
    fig, axes = report_figure(rep)
    fig.savefig(tmp_path / "d.png")
    assert (tmp_path / "d.png").stat().st_size > 1000


def test_bad_input(lin, flow_run):
    pr = Problem(SingleIndexDEQ("sigmoid", 1), SingleIndexTarget([2.0], "sigmoid"),
                 Uniform(0.0, 1.0, 1, nodes=4))
    with pytest.raises(ValueError, match="linear-DEQ"):
        conservation_check(flow_run, pr)
    batch = gradient_flow(lin, np.array([[0.3, -0.5], [0.1, 0.2]]), 1.0)
    with pytest.raises(ValueError, match="batch"):
        diagnose(batch, lin)
