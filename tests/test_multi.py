"""Width-m DEQs (MultiLinearDEQ, MultiNeuronDEQ), their targets, margins and events.

References, all independent of the code under test: the paper's own models (m = 1 must
reproduce them to rounding), a per-sample ``scipy.optimize.root`` fixed-point solve and
NumPy linear solves for the risk, central finite differences of that SciPy risk for ∇R,
NumPy's SVD/determinant for the margins, SciPy's Radau with its own event root finding for
event times.
"""
import numpy as np
import pytest
from scipy.optimize import brentq, root

import flowdeq as fd

from conftest import scipy_flow

UNIF = fd.Uniform(0, 1, 1, nodes=16)
GAUSS2 = fd.Gaussian([0.3, -0.2], [[1.0, 0.3], [0.3, 0.5]], nodes=4)  # 16 nodes in d = 2


# ------------------------------------------------------------ m = 1 is the paper
# the problems, calls and shapes of tests/test_flow.py and test_descent.py, so that in a suite
# run the paper side reuses their compiled solves
TIGHT = dict(rtol=1e-12, atol=1e-14, converged_tol=0.0)


def test_width_one_linear_is_the_papers():
    tgt, data = fd.LinearTarget([2.0]), fd.Uniform(0, 1, 1, nodes=8)
    paper, multi = (fd.Problem(m, tgt, data) for m in (fd.LinearDEQ(1), fd.MultiLinearDEQ(1, 1)))
    _same_risk_and_grad(paper, multi, [np.array([0.1, 0.5]), np.array([-1.0, 1.7])])
    assert float(multi.risk_min) == float(paper.risk_min) == 0.0
    # converged_tol 1e-6: far above ‖∇R‖'s rounding floor, so the event time is well defined
    for th0, eps, outcome in (([0.1, 0.5], 0.3, "ill_posed"), ([1.0, 0.2], 1e-6, "converged")):
        f0, f1 = (fd.gradient_flow(p, th0, 10.0, singular_eps=eps, rtol=1e-12, atol=1e-14,
                                   converged_tol=1e-6) for p in (paper, multi))
        assert f0.outcome == f1.outcome == outcome
        assert f0.stats["ill_posed_kind"] == f1.stats["ill_posed_kind"] == \
            ("singular" if outcome == "ill_posed" else "")
        np.testing.assert_allclose(f1.theta, f0.theta, rtol=1e-12, atol=1e-13)
        assert f1.event_time == pytest.approx(f0.event_time, rel=1e-12)
    assert f1.stats["ill_posed_kind"] == ""
    d0, d1 = (fd.gradient_descent(p, [0.1, 0.5], 0.5, 300) for p in (paper, multi))
    assert d0.outcome == d1.outcome
    np.testing.assert_allclose(d1.theta, d0.theta, rtol=1e-12, atol=1e-13)
    _same_chart(paper, multi)


def test_width_one_single_index_is_the_papers():
    tgt, data = fd.SingleIndexTarget([2.0], "sigmoid"), fd.Uniform(0, 1, 1, nodes=32)
    paper, multi = (fd.Problem(m, tgt, data) for m in (fd.SingleIndexDEQ("sigmoid", 1),
                                                         fd.MultiNeuronDEQ("sigmoid", 1, 1)))
    _same_risk_and_grad(paper, multi, [np.array([0.1, 0.1]), np.array([-2.0, 3.5])])
    assert float(multi.risk_min) == float(paper.risk_min) == 0.0
    ts = np.linspace(0, 60, 13)
    f0, f1 = (fd.gradient_flow(p, [0.1, 0.1], 60.0, ts=ts, **TIGHT) for p in (paper, multi))
    assert f0.outcome == f1.outcome
    np.testing.assert_allclose(f1.theta, f0.theta, rtol=1e-12, atol=1e-13)
    d0, d1 = (fd.gradient_descent(p, [0.1, 0.1], 0.5, 300) for p in (paper, multi))
    assert d0.outcome == d1.outcome
    np.testing.assert_allclose(d1.theta, d0.theta, rtol=1e-12, atol=1e-13)
    _same_chart(paper, multi)


def _same_risk_and_grad(paper, multi, thetas):
    for th in thetas:
        r0, g0 = paper.risk_and_grad(th)
        r1, g1 = multi.risk_and_grad(th)
        assert float(r1) == pytest.approx(float(r0), rel=1e-12, abs=1e-15)
        np.testing.assert_allclose(np.asarray(g1), np.asarray(g0), rtol=1e-12, atol=1e-14)


def _same_chart(paper, multi):
    for a, b in zip(paper.model.default_chart(paper.target)[:3],
                    multi.model.default_chart(multi.target)[:3]):
        np.testing.assert_array_equal(a, b)


# ------------------------------------------------ equilibria and gradients, width 3
def _scipy_equilibrium(model, params, x):
    """z with z = σ(Wz + Ux̃) by scipy.optimize.root (hybr, analytic Jacobian), one sample."""
    W, U = params["W"], params["U"]
    fn, dfn = model.activation.host, lambda a: 1.0 - np.tanh(a) ** 2  # tanh in these tests
    F = lambda z: z - fn(W @ z + U @ x)  # noqa: E731
    res = root(F, np.zeros(len(W)), jac=lambda z: np.eye(len(W)) - dfn(W @ z + U @ x)[:, None] * W,
               method="hybr", tol=1e-14)
    # hybr may stop with "xtol too small" at the root: the residual is the certificate
    assert np.max(np.abs(F(res.x))) <= 1e-15
    return res.x


def _ref_risk(problem, theta):
    """R(θ) with every equilibrium from SciPy (nonlinear) or numpy.linalg.solve (linear)."""
    model = problem.model
    params = {k: np.asarray(v) for k, v in model.unravel(np.asarray(theta)).items()}
    X, w, f = (np.asarray(a) for a in (problem.X, problem.w, problem.f))
    if isinstance(model, fd.MultiNeuronDEQ):
        Z = np.array([_scipy_equilibrium(model, params, x) for x in X])
    else:
        Z = np.linalg.solve(np.eye(model.width) - params["W"], params["U"] @ X.T).T
    yhat = Z if model.output == "state" else Z @ params["v"]
    return float(w @ np.sum(((yhat - f.reshape(yhat.shape)) ** 2).reshape(len(w), -1), axis=1))


def _fd_grad(problem, theta, h=1e-6):
    return np.array([(_ref_risk(problem, theta + h * e) - _ref_risk(problem, theta - h * e))
                     / (2 * h) for e in np.eye(len(theta))])


@pytest.fixture(scope="module")
def teacher3():
    rng = np.random.default_rng(0)
    t = fd.MultiNeuronDEQ("tanh", 2, 3)
    U, W = rng.standard_normal((3, 2)), rng.standard_normal((3, 3))
    return fd.TeacherTarget(t, {"U": U, "W": 0.6 * W / np.linalg.norm(W, 2)})


@pytest.mark.parametrize("output", ["state", "readout"])
def test_multi_neuron_risk_and_gradient_match_scipy_root_and_fd(output, teacher3):
    model = fd.MultiNeuronDEQ("tanh", 2, 3, bias=True, output=output)
    target = teacher3 if output == "state" else fd.SingleIndexTarget([1.0, -0.5], "tanh")
    problem = fd.Problem(model, target, GAUSS2)
    theta = 0.25 * np.random.default_rng(1).standard_normal(model.n_params)
    r, g = problem.risk_and_grad(theta)
    assert float(r) == pytest.approx(_ref_risk(problem, theta), rel=1e-12)
    assert float(problem.risk(theta)) == pytest.approx(float(r), rel=1e-13)
    np.testing.assert_allclose(np.asarray(g), _fd_grad(problem, theta), rtol=1e-6, atol=1e-9)
    # the generic path (autodiff through the implicit equilibrium) gives the same ∇R
    r2, g2, _ = fd.AbstractDEQ.risk_and_grad(model, np.asarray(theta), problem.arrays)
    np.testing.assert_allclose(np.asarray(g2), np.asarray(g), rtol=1e-11, atol=1e-14)


@pytest.mark.parametrize("output", ["state", "readout"])
def test_multi_linear_risk_and_gradient_match_numpy_and_fd(output):
    model = fd.MultiLinearDEQ(2, 3, bias=True, output=output)
    target = (fd.MultiLinearTarget([[2.0, 0.5], [0.0, 1.0], [-1.0, 0.3]]) if output == "state"
              else fd.LinearTarget([1.0, -0.5]))
    problem = fd.Problem(model, target, GAUSS2)
    theta = 0.3 * np.random.default_rng(2).standard_normal(model.n_params)
    r, g = problem.risk_and_grad(theta)
    assert float(r) == pytest.approx(_ref_risk(problem, theta), rel=1e-11)
    np.testing.assert_allclose(np.asarray(g), _fd_grad(problem, theta), rtol=1e-6, atol=1e-8)
    assert float(problem.risk_min) == pytest.approx(0.0, abs=1e-12)  # Ax is reachable


def test_margins_side_and_jacobian_margin_against_numpy(teacher3):
    rng = np.random.default_rng(3)
    lin = fd.MultiLinearDEQ(2, 3)
    th = rng.standard_normal((5, lin.n_params))
    W = th[:, 6:].reshape(5, 3, 3)
    np.testing.assert_allclose(np.asarray(lin.margin(lin.unravel(th))),
                               np.linalg.svd(np.eye(3) - W, compute_uv=False)[:, -1], rtol=1e-12)
    np.testing.assert_array_equal(np.asarray(lin.side(lin.unravel(th))),
                                  np.sign(np.linalg.det(np.eye(3) - W)))
    nl = fd.MultiNeuronDEQ("sigmoid", 2, 3)
    np.testing.assert_allclose(np.asarray(nl.margin(nl.unravel(th))),
                               1 - 0.25 * np.linalg.norm(W, 2, axis=(1, 2)), rtol=1e-12)
    # the data-dependent margin: min over the data of σ_min(I − diag(σ′(ω))W)
    jac = fd.MultiNeuronDEQ("tanh", 2, 3, ill_posed="jacobian")
    problem = fd.Problem(jac, teacher3, GAUSS2)
    theta = 0.3 * rng.standard_normal(jac.n_params)
    p = {k: np.asarray(v) for k, v in jac.unravel(theta).items()}
    X = np.asarray(problem.X)
    Z = np.array([_scipy_equilibrium(jac, p, x) for x in X])
    s = 1 - np.tanh(Z @ p["W"].T + X @ p["U"].T) ** 2
    ref = min(np.linalg.svd(np.eye(3) - si[:, None] * p["W"], compute_uv=False)[-1] for si in s)
    r, g = problem.risk_and_grad(theta)
    assert float(jac.jacobian_margin(jac.unravel(theta), problem.X)) == pytest.approx(ref, rel=1e-10)
    assert np.isinf(float(jac.margin(jac.unravel(theta))))  # no data-free margin in this mode
    # while contractive the Jacobian margin is at least the contraction margin
    assert ref >= 1 - np.linalg.norm(p["W"], 2) or np.linalg.norm(p["W"], 2) >= 1


# ------------------------------------------------------------------ events, GD
@pytest.fixture(scope="module")
def linear2():
    return fd.Problem(fd.MultiLinearDEQ(2, 2), fd.MultiLinearTarget([[2.0, 0.5], [0.0, 1.0]]),
                      fd.Gaussian([0.0, 0.0], np.eye(2), nodes=4))


def test_singular_event_of_width_two_matches_radau(linear2):
    th0 = np.array([0.1, 0.05, 0.0, 0.2, 0.6, 0.2, -0.1, 0.3])
    eps = 0.3
    tr = fd.gradient_flow(linear2, th0, 20.0, singular_eps=eps)
    assert tr.outcome == "ill_posed" and tr.stats["ill_posed_kind"] == "singular"

    def event(t, y):
        return np.linalg.svd(np.eye(2) - y[4:].reshape(2, 2), compute_uv=False)[-1] - eps
    event.terminal = True
    ref = scipy_flow(linear2, th0, 20.0, events=event)
    assert ref.status == 1
    assert tr.event_time == pytest.approx(ref.t_events[0][0], rel=1e-7)
    np.testing.assert_allclose(tr.theta[-1], ref.y_events[0][0], rtol=1e-7, atol=1e-9)


def test_gd_reports_the_step_that_jumps_det_zero(linear2):
    th0 = np.array([0.1, 0.0, 0.0, 0.1, 0.5, 0.1, 0.0, 0.4])
    tr = fd.gradient_descent(linear2, th0, 0.5, 50)
    assert tr.outcome == "crossed"
    k = tr.event_step
    dets = [np.linalg.det(np.eye(2) - tr.theta[j, 4:].reshape(2, 2)) for j in (k - 1, k)]
    assert dets[0] > 0 > dets[1]
    # the step before never crossed: every earlier iterate has det(I − W) > 0
    assert all(np.linalg.det(np.eye(2) - t[4:].reshape(2, 2)) > 0 for t in tr.theta[:k])
    assert tr.stats["message"].startswith(f"step {k} jumped across the singular set: side +1 → -1")


def test_jacobian_kind_event_at_a_fold():
    """ill_posed="jacobian" allows θ₂ = 1.3 > 1/L, where z = tanh(θ₂z + a) has three roots
    for small a > 0.  Newton from tanh(a) finds the middle one (1 − θ₂σ′ < 0 there: a
    root the fixed-point iteration would not find, but one with an implicit gradient); as
    the flow lowers a, that branch folds into the upper one at the largest x, and the event
    min over the data of σ_min(1 − θ₂σ′(ω)) = ε fires before the fold."""
    problem = fd.Problem(fd.MultiNeuronDEQ("tanh", 1, 1, ill_posed="jacobian"),
                         fd.SingleIndexTarget([2.0], "tanh"), fd.Uniform(0, 1, 1, nodes=8))
    th0, eps = np.array([0.1, 1.3]), 0.02
    tr = fd.gradient_flow(problem, th0, 1.0, singular_eps=eps)
    assert tr.outcome == "ill_posed" and tr.stats["ill_posed_kind"] == "jacobian"
    x = np.asarray(problem.X)[:, 0]

    def middle_root(y):  # brentq between the turning points of F(z) = z − tanh(θ₂z + a)
        a1, a2 = y
        wc = np.arctanh(np.sqrt(1 - 1 / a2))
        return np.array([brentq(lambda z: z - np.tanh(a2 * z + a1 * xi), (-wc - a1 * xi) / a2,
                                (wc - a1 * xi) / a2, xtol=1e-15) for xi in x])

    def margin(y):
        return np.min(np.abs(1 - y[1] * (1 - np.tanh(y[1] * middle_root(y) + y[0] * x) ** 2)))

    model = problem.model
    z = np.asarray(model.equilibrium(model.unravel(tr.theta[-1]), problem.X))[:, 0]
    np.testing.assert_allclose(z, middle_root(tr.theta[-1]), rtol=1e-9, atol=1e-12)
    # the located state is on the event surface, every saved point before it above it
    assert margin(tr.theta[-1]) == pytest.approx(eps, abs=1e-10)
    assert all(margin(y) > eps for y in tr.theta[:-1])
    assert margin(th0) > 2 * eps  # a real crossing, not a start on the surface


# ------------------------------------------------------------------------ targets
def test_targets_and_output_counts(teacher3):
    A = [[2.0, 0.5], [0.0, 1.0]]
    t = fd.MultiLinearTarget(A)
    x = np.array([[1.0, 2.0], [0.5, -1.0]])
    np.testing.assert_allclose(t.host(x), x @ np.array(A).T)
    with pytest.raises(ValueError, match="2 output"):
        fd.Problem(fd.MultiLinearDEQ(2, 3), t, GAUSS2)
    with pytest.raises(ValueError, match="ill-posed"):
        fd.TeacherTarget(fd.MultiNeuronDEQ("tanh", 1, 1), [0.5, 1.5])
    # pytree and flat θ* give one teacher; at θ = θ* the risk is 0 and R* is known
    pt = fd.TeacherTarget(teacher3.model, teacher3.params)
    np.testing.assert_array_equal(np.asarray(pt.theta), np.asarray(teacher3.theta))
    problem = fd.Problem(fd.MultiNeuronDEQ("tanh", 2, 3), teacher3, GAUSS2)
    assert float(problem.risk_min) == 0.0
    assert float(problem.risk(np.asarray(teacher3.theta))) == pytest.approx(0.0, abs=1e-28)
    o, u, v, _ = problem.model.default_chart(teacher3)
    np.testing.assert_allclose(o + np.linalg.norm(teacher3.params["U"]) * u + v,
                               np.asarray(teacher3.theta), atol=1e-15)


def test_flow_chunks_are_sized_by_the_per_sample_arrays():
    # a 1000-start m = 8 flow on 1000 samples held 16 GB in one chunk of 1024 members: the chunk
    # is lowered until members × samples × m² ≤ 2²⁴ elements; a paper model keeps chunk_size
    from flowdeq.dynamics.flow import MEMBER_ELEMENTS_PER_CHUNK, chunk_members
    data = fd.Gaussian(np.zeros(2), np.eye(2)).monte_carlo(1000, 0)
    model = fd.MultiNeuronDEQ("tanh", 2, 8)
    wide = fd.Problem(model, fd.TeacherTarget(model, model.random_theta(1, 0.5)), data)
    c = chunk_members(wide, 1024)
    assert c == MEMBER_ELEMENTS_PER_CHUNK // (1000 * 64) == 262
    assert c * 1000 * 64 <= MEMBER_ELEMENTS_PER_CHUNK < (c + 1) * 1000 * 64
    assert chunk_members(wide, 100) == 100              # never above the caller's chunk_size
    paper = fd.Problem(fd.SingleIndexDEQ("sigmoid", 2), fd.SingleIndexTarget([1.0, 2.0]), data)
    assert chunk_members(paper, 1024) == 1024
