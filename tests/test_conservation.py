"""The conservation-law finder and the width-m theory (flowdeq.analysis.conservation, .width).

References are independent of the code under test: Thm 3.1 and eq. (8) in closed form, the
matrix C written out by hand, sympy's exact Lie-algebra rank, SciPy's minimiser of the
distance, the rate fitted to a flow, and a path built to break the bound.
"""
import numpy as np
import pytest

import flowdeq as fd
from flowdeq.analysis import width as wd
from flowdeq.analysis.conservation import find_conservation_laws, recognise
from flowdeq.models.multi import MultiLinearDEQ, MultiNeuronDEQ
from flowdeq.models.targets import MultiLinearTarget


# ------------------------------------------------------------------ shared problems
@pytest.fixture(scope="module")
def paper():
    return fd.Problem(fd.LinearDEQ(1), fd.LinearTarget([2.0]), fd.Uniform(0, 1, 1, nodes=8))


@pytest.fixture(scope="module")
def multi():
    model = MultiLinearDEQ(1, 2, bias=True)
    return fd.Problem(model, MultiLinearTarget([[1.5], [-0.5]]), fd.Uniform(0, 1, 1, nodes=8))


@pytest.fixture(scope="module")
def multi_laws(multi):
    return find_conservation_laws(multi.model, 2)


@pytest.fixture(scope="module")
def multi_flows(multi):
    rng = np.random.default_rng(3)
    th0 = rng.normal(0.0, 0.6, (3, multi.n_params))
    # a start close to the singular set: σ_min(I − W) = 0.05
    W = np.array([[0.95, 0.0], [0.0, 0.2]])
    th0 = np.vstack([th0, np.concatenate([[0.3, -0.2, 0.4, 0.1], W.ravel()])])
    return fd.gradient_flow(multi, th0, t1=300.0, n_save=151, singular_eps=1e-4)


# ------------------------------------------------------------------ the finder
def test_paper_linear_law_is_theorem_3_1(paper):
    r = find_conservation_laws(paper.model, 4)
    assert r.count == 1 and r.by_degree[-1]["nullity"] == 2        # w and w² at degree 4
    law = r.laws[0]
    assert law.exact and law.degree == 2
    assert law.text == "θ1² + θ2² − 2·θ2" and law.centred == "θ1² + (θ2 − 1)² − 1"
    assert law.residual < 1e-14 and law.holdout < 1e-13
    # the split is the gap between the signal and the rounding floor
    d2 = r.by_degree[1]
    assert d2["gap"] > 1e10 and d2["first_dropped"] < 10 * d2["floor"]
    assert recognise(r, paper.model)["explains_all"]


def test_paper_linear_with_bias_and_dim_2():
    model = fd.LinearDEQ(2, bias=True)
    r = find_conservation_laws(model, 2)
    assert r.count == 1
    assert r.laws[0].text == "θ1[0]² + θ1[1]² + θ1[2]² + θ2² − 2·θ2"
    assert r.pointwise_rank == (3, 3)                               # p − 1: one law at most


def test_single_index_has_none_up_to_degree_4():
    r = find_conservation_laws(fd.SingleIndexDEQ("sigmoid", 1), 4)
    assert r.none_found and r.degree == 4
    # span{∇R_D(θ)} is all of ℝ²: no law of any form, polynomial or not
    assert r.pointwise_rank == (2, 2)
    # every degree is far from singular: the smallest singular value is ≫ the floor
    assert all(d["last_kept"] > 1e6 * d["floor"] for d in r.by_degree)
    assert "No conservation law** of degree ≤ 4" in str(r)


def test_multi_linear_finds_the_matrix_law(multi_laws, multi):
    r = multi_laws
    m = 2
    assert r.count == m * (m + 1) // 2 and all(law.exact for law in r.laws)
    rec = recognise(r, multi.model)
    assert rec["C = (I − W)(I − W)ᵀ + UUᵀ"]["in_span"] and rec["explains_all"]
    # C written out by hand, entry (0, 1): U₀·U₁ + W₀₀W₁₀ + W₀₁W₁₁ − W₀₁ − W₁₀
    th = np.random.default_rng(0).normal(size=(5, multi.n_params))
    U, W, _ = wd.parameters(multi.model, th)
    c01 = (U[:, 0] * U[:, 1]).sum(1) + W[:, 0, 0] * W[:, 1, 0] + W[:, 0, 1] * W[:, 1, 1] \
        - W[:, 0, 1] - W[:, 1, 0]
    assert np.allclose(r.laws[1](th), c01, rtol=0, atol=1e-12)


def test_nonlinear_width_2_has_none():
    r = find_conservation_laws(MultiNeuronDEQ("tanh", 1, 2), 2)
    assert r.none_found and r.pointwise_rank[1] == r.n_params       # full rank somewhere: no law


def test_lie_algebra_count_matches_the_finder():
    pytest.importorskip("sympy")
    from flowdeq.analysis.conservation import lie_algebra_count, linear_deq_predictor
    paper = lie_algebra_count(*linear_deq_predictor(1, 1, paper=True))
    assert paper["laws"] == 1 and paper["stable"]
    state = lie_algebra_count(*linear_deq_predictor(2, 2 - 1))      # m = 2, d′ = 1
    # the functional space has m·d′ = 2 fields; one bracket adds a third: 6 − 3 = 3 laws
    assert state["dims"][0] == [2, 2] and state["laws"] == 3 and state["stable"]
    r = find_conservation_laws(MultiLinearDEQ(1, 2), 2)
    assert r.count == state["laws"]


def test_law_checks_along_flow_and_gd(paper):
    r = find_conservation_laws(paper.model, 2)
    flow = fd.gradient_flow(paper, [0.3, -0.4], t1=30.0, n_save=61)
    assert r.check_flow(flow)[0]["relative_drift"] < 1e-8
    gd = fd.gradient_descent(paper, [0.3, -0.4], step_size=0.2, steps=200)
    chk = r.check_descent(gd, paper)[0]
    assert chk["max_residual"] < 1e-13 and chk["total_drift"] > 1e-4    # it moves, exactly as (8)
    # Law.gd_drift against eq. (8) written out: w(s+1) − w(s) = η²‖∇R(θ_s)‖²
    g = np.asarray(paper.grad(gd.theta[0]))
    assert np.isclose(r.laws[0].gd_drift(gd.theta[0], g, 0.2), 0.04 * g @ g, rtol=1e-13)
    # and a perturbed path breaks the check: it can fail
    bad = flow.theta.copy()
    bad[:, 0] += 1e-3 * np.sin(flow.t)
    from types import SimpleNamespace
    assert r.check_flow(SimpleNamespace(theta=bad))[0]["relative_drift"] > 1e-5


# --------------------------------------------------------------- width-m theory
def test_conserved_matrix_along_flow_and_gd(multi, multi_laws, multi_flows):
    for tr in multi_flows.members():
        assert wd.matrix_drift(tr, multi.model)["C"]["max"] < 1e-8
        assert max(c["relative_drift"] for c in multi_laws.check_flow(tr)) < 1e-8
    gd = fd.gradient_descent(multi, multi_flows.theta[0, 0], step_size=0.1, steps=150)
    ident = wd.gd_matrix_identity(gd, multi)["C"]
    assert ident["max_residual"] < 1e-13 and ident["growth"] > 1e-6
    assert ident["lambda_min_nondecreasing"]
    assert max(c["max_residual"] for c in multi_laws.check_descent(gd, multi)) < 1e-12


def test_well_posedness_bound_holds_on_flows(multi, multi_flows):
    for tr in multi_flows.members():
        b = wd.well_posedness_bound(multi, tr.theta, tr.risk)
        assert b["holds_pointwise"] and b["holds_a_priori"] and b["holds_B"]
        assert tr.outcome != "ill_posed"
    near = multi_flows[3]                                           # started at σ_min = 0.05
    assert wd.well_posedness_bound(multi, near.theta)["min_ratio_pointwise"] < 2.0   # nearly tight


def test_well_posedness_bound_fails_off_the_level_set(multi):
    # adversarial path: Φ (hence R) fixed, V = I − W driven to singular; C is not conserved
    th0 = np.concatenate([[0.5, 0.1, -0.3, 0.2], [0.1, 0.0, 0.2, 0.3]])
    U0, W0, _ = wd.parameters(multi.model, th0)
    phi = np.linalg.solve(np.eye(2) - W0, U0)
    s = np.linspace(0, 1, 50)[:, None, None]
    V = (1 - s) * (np.eye(2) - W0) + s * np.array([[1.0, 0.0], [0.0, 1e-3]])
    path = np.concatenate([(V @ phi).reshape(50, -1), (np.eye(2) - V).reshape(50, -1)], axis=1)
    risk = np.asarray([multi.risk(t) for t in path])
    assert np.ptp(risk) < 1e-12 * risk[0] + 1e-15                    # the risk never rises
    b = wd.well_posedness_bound(multi, path, risk)
    assert not b["holds_pointwise"] and not b["holds_a_priori"] and b["conserved"] > 1e-2


def test_distance_to_minimisers_against_scipy(multi):
    from scipy.optimize import minimize
    th = np.array([0.4, -0.1, 0.3, 0.2, 0.3, -0.2, 0.1, 0.1])
    P = wd.phi_star(multi)

    def dist2(w):                       # over minimisers U = (I − W′)Φ*
        Wp = w.reshape(2, 2)
        Up = (np.eye(2) - Wp) @ P
        return np.sum((th[:4] - Up.ravel()) ** 2) + np.sum((th[4:] - Wp.ravel()) ** 2)

    best = minimize(dist2, th[4:], method="BFGS", options={"gtol": 1e-12}).fun
    assert np.isclose(wd.distance_to_minimisers(multi, th), np.sqrt(best), rtol=1e-8)


def test_limit_and_rate(multi, multi_flows):
    i = int(np.flatnonzero(multi_flows.outcome == "converged")[0])
    tr = multi_flows[i]
    assert wd.distance_to_minimisers(multi, tr.theta[-1]) < 1e-6
    C0 = wd.conserved_matrices(multi.model, tr.theta[0])["C"]
    assert wd.limit_residual(multi, tr.theta[-1], C0) < 1e-7
    lr = wd.local_rate(multi, tr.theta[-1])
    assert lr["zero_modes"] == 4 and lr["negative"] == 0           # dim of the minimiser set: m²
    fit = fd.fit_rate(tr.t, tr.risk - float(multi.risk_star))
    assert abs(fit.rate / lr["flow_rate_R"] - 1) < 0.01
