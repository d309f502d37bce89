"""gradient_flow against SciPy Radau (rtol 1e-12), the conservation law, and its events."""
import numpy as np
import pytest

import flowdeq as fd
from flowdeq.flow import gradient_flow

from conftest import scipy_flow

TIGHT = dict(rtol=1e-12, atol=1e-14, converged_tol=0.0)


def test_linear_anisotropic_matches_radau(linear_aniso):
    ts = np.linspace(0, 5, 26)
    th0 = [0.1, 0.4, 0.5]
    ref = scipy_flow(linear_aniso, th0, 5.0, t_eval=ts)
    tr = gradient_flow(linear_aniso, th0, 5.0, ts=ts, **TIGHT)
    assert tr.outcome == "max_time"
    np.testing.assert_allclose(tr.t, ts)
    assert np.max(np.abs(tr.theta - ref.y.T)) < 1e-7


def test_linear_other_side_matches_radau(linear_aniso):
    ts = np.linspace(0, 3, 16)
    th0 = [-0.5, 0.8, 1.6]   # θ₂(0) > 1: the flow stays above the hyperplane
    ref = scipy_flow(linear_aniso, th0, 3.0, t_eval=ts)
    tr = gradient_flow(linear_aniso, th0, 3.0, ts=ts, **TIGHT)
    assert np.max(np.abs(tr.theta - ref.y.T)) < 1e-7
    assert np.all(tr.theta[:, -1] > 1)


def test_sigmoid_matches_radau(sigmoid_problem):
    ts = np.linspace(0, 60, 13)
    th0 = [0.1, 0.1]
    ref = scipy_flow(sigmoid_problem, th0, 60.0, t_eval=ts)
    tr = gradient_flow(sigmoid_problem, th0, 60.0, ts=ts, **TIGHT)
    assert np.max(np.abs(tr.theta - ref.y.T)) < 1e-7


@pytest.mark.parametrize("th0", [[0.1, 0.4, 0.5], [2.0, -1.0, -2.0], [-0.3, 0.2, 1.05]])
def test_conserved_sphere(linear_aniso, th0):
    """Thm 3.1: ‖θ₁‖² + (θ₂ − 1)² is constant along the flow.  At rtol 1e-12 the saved
    points held it to ≤ 5e-12; interpolated between step ends they drifted 1.5e-8."""
    tr = gradient_flow(linear_aniso, th0, 20.0, rtol=1e-12, atol=1e-14)
    w = np.sum(tr.theta[:, :-1] ** 2, axis=1) + (tr.theta[:, -1] - 1) ** 2
    assert np.max(np.abs(w - w[0])) < 1e-10
    assert np.all(np.diff(tr.risk) <= 1e-15)    # Lyapunov: R non-increasing


def test_singular_event_time_matches_scipy(linear_1d):
    """|1 − θ₂| = ε fires where SciPy's event finds it (flow heads to θ₂ = 0.772)."""
    eps = 0.3
    ev = lambda t, y: abs(1 - y[-1]) - eps
    ev.terminal = True
    ref = scipy_flow(linear_1d, [0.1, 0.5], 10.0, events=ev)
    tr = gradient_flow(linear_1d, [0.1, 0.5], 10.0, singular_eps=eps, rtol=1e-12, atol=1e-14)
    assert tr.outcome == "ill_posed"
    assert tr.event_time == pytest.approx(ref.t_events[0][0], abs=1e-6)
    assert abs(1 - tr.theta[-1, -1]) == pytest.approx(eps, abs=1e-9)
    # every saved point before the event is kept, none after it
    assert np.all(tr.t[:-1] < tr.event_time) and tr.t[-1] == tr.event_time
    assert len(tr.t) == 1 + np.sum(np.linspace(0, 10, 201) < tr.event_time)


def test_converged_event_time_matches_scipy(linear_1d):
    """‖∇R‖ = tol fires where SciPy's event finds it.

    tol = 1e-4, not smaller: near the minimiser ‖∇R‖ ≈ ‖H(θ − θ*)‖, so a state error δ
    moves the event time by ~δ/(‖θ − θ*‖·rate).  At tol = 1e-6 the solvers' own 1e-12
    state error at rtol 1e-12 already moved it by 0.5–3e-6 (DOP853 rtol 1e-13 gives
    0.41147333); at 1e-4 the spread is 3e-8."""
    tol = 1e-4
    import jax
    g = jax.jit(lambda t: linear_1d.grad(t))
    ev = lambda t, y: np.log(np.linalg.norm(np.asarray(g(y)))) - np.log(tol)
    ev.terminal = True
    ref = scipy_flow(linear_1d, [0.1, 0.5], 10.0, events=ev)
    tr = gradient_flow(linear_1d, [0.1, 0.5], 10.0, converged_tol=tol, rtol=1e-12, atol=1e-14)
    assert tr.outcome == "converged"
    assert tr.event_time == pytest.approx(ref.t_events[0][0], abs=1e-6)
    assert tr.grad_norm[-1] == pytest.approx(tol, rel=1e-6)


def test_diverged_event_on_norm_cap(linear_1d):
    """From (0.8, 0.5), R = 0.053 falls to 0 while ‖θ‖ grows from 0.943 towards 1.0228 (the
    limit on the sphere): with a cap of 1.0 on max(R, ‖θ‖) the event fires when ‖θ‖ hits it."""
    import jax
    r = jax.jit(lambda t: linear_1d.risk(t))
    ev = lambda t, y: np.log(1.0) - np.log(max(float(r(y)), np.linalg.norm(y)))
    ev.terminal = True
    ev.direction = -1
    ref = scipy_flow(linear_1d, [0.8, 0.5], 10.0, events=ev)
    tr = gradient_flow(linear_1d, [0.8, 0.5], 10.0, divergence_cap=1.0, rtol=1e-12, atol=1e-14,
                       converged_tol=0.0)
    assert tr.outcome == "diverged"
    assert tr.event_time == pytest.approx(ref.t_events[0][0], abs=1e-6)
    assert np.linalg.norm(tr.theta[-1]) == pytest.approx(1.0, rel=1e-9)


def test_contraction_lost_event_matches_scipy():
    """tanh DEQ from (0, 0.9): θ₂ climbs to 1/L = 1; the event fires at L|θ₂| = 1 − ε."""
    p = fd.Problem(fd.SingleIndexDEQ("tanh", 1), fd.SingleIndexTarget([2.0], "tanh"),
                   fd.Uniform(0, 1, 1, nodes=32))
    eps = 1e-3
    ev = lambda t, y: (1 - abs(y[-1])) - eps
    ev.terminal = True
    ref = scipy_flow(p, [0.0, 0.9], 5.0, events=ev)
    tr = gradient_flow(p, [0.0, 0.9], 5.0, singular_eps=eps, rtol=1e-12, atol=1e-14)
    assert tr.outcome == "ill_posed"
    assert tr.event_time == pytest.approx(ref.t_events[0][0], abs=1e-6)
    assert np.all(np.isfinite(tr.risk))


def test_batch_keeps_each_members_outcome(linear_1d):
    th = np.array([[0.1, 0.5], [1.0, -1.0], [0.1, 0.5], [-0.5, 1.5]])
    caps = gradient_flow(linear_1d, th, 10.0, singular_eps=0.3, rtol=1e-10, atol=1e-12)
    # member 0 and 2 approach θ₂ = 0.772 > 0.7 -> singular; member 1: |1-θ₂| stays ≥ 0.3
    assert list(caps.outcome) == ["ill_posed", "converged", "ill_posed", "converged"]
    single = gradient_flow(linear_1d, th[1], 10.0, singular_eps=0.3, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(caps[1].theta, single.theta, atol=1e-12)
    assert caps[0].event_time == caps[2].event_time


def test_theorem_3_3_limit(linear_aniso):
    """Corrected Thm 3.3 (errata E2): θ → (aξ, 1−a), a = sign(1−θ₂(0)) r₀/√(‖ξ‖²+1)."""
    xi = np.array([2.0, -1.0])
    for th0 in ([0.1, 0.4, 0.5], [0.3, 0.1, 1.4]):
        tr = gradient_flow(linear_aniso, th0, 200.0, rtol=1e-11, atol=1e-13)
        r0 = np.sqrt(np.sum(np.square(th0[:2])) + (th0[2] - 1) ** 2)
        a = np.sign(1 - th0[2]) * r0 / np.sqrt(xi @ xi + 1)
        np.testing.assert_allclose(tr.theta_final, np.r_[a * xi, 1 - a], atol=1e-8)


@pytest.mark.parametrize("bad,match", [([0.1, 1.0], "θ₂ = 1"), ([np.nan, 0.2], "not finite"),
                                       ([0.1, 0.2, 0.3], "shape")])
def test_bad_theta0(linear_1d, bad, match):
    with pytest.raises(ValueError, match=match):
        gradient_flow(linear_1d, bad, 1.0)


def test_bad_settings(linear_1d, sigmoid_problem):
    with pytest.raises(ValueError, match="t1"):
        gradient_flow(linear_1d, [0.1, 0.5], 0.0)
    with pytest.raises(ValueError, match="rtol"):
        gradient_flow(linear_1d, [0.1, 0.5], 1.0, rtol=-1)
    with pytest.raises(ValueError, match="unknown solver"):
        gradient_flow(linear_1d, [0.1, 0.5], 1.0, solver="euler42")
    with pytest.raises(ValueError, match="not contractive"):
        gradient_flow(sigmoid_problem, [0.1, 4.5], 1.0)
    with pytest.raises(ValueError, match="divergence_cap"):
        gradient_flow(linear_1d, [0.1, 0.5], 1.0, divergence_cap=0.5)   # R(θ₀) = 1.08
    with pytest.raises(ValueError, match="member 1"):
        gradient_flow(linear_1d, [[0.1, 0.5], [0.2, 1.0]], 1.0)
    with pytest.raises(ValueError, match="exact_saves"):
        gradient_flow(linear_1d, [0.1, 0.5], 1.0, exact_saves="no")


@pytest.mark.parametrize("th0", [[0.06247061, 1.00090037], [-0.85203541, 0.99768196]])
def test_start_next_to_the_hyperplane_reaches_its_limit(linear_1d, th0):
    """|1 − θ₂(0)| ~ 1e-3: the field is ~1e6 and its Jacobian ~1e10 there.  The Kvaerno
    stage solve once rejected every step at such starts (a residual test that cannot
    pass at that scale), returning θ₀ with outcome ``failed``; the flow must instead
    leave the hyperplane and go to the corrected Thm 3.3 limit, as SciPy's Radau does."""
    tr = gradient_flow(linear_1d, th0, 20.0, max_steps=5000)
    assert tr.outcome in ("converged", "max_time"), tr.stats["message"]
    ref = scipy_flow(linear_1d, th0, 20.0, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(tr.theta_final, ref.y[:, -1], atol=1e-7)
    r0 = np.hypot(th0[0], th0[1] - 1)
    a = np.sign(1 - th0[1]) * r0 / np.sqrt(4 + 1)
    np.testing.assert_allclose(tr.theta_final, [2 * a, 1 - a], atol=1e-7)


def test_chunked_batch_equals_one_batch_in_callers_order(linear_1d):
    """A batch over ``chunk_size`` is reordered by margin, run in padded chunks and put
    back: every member must come back where it was, with the same path and outcome."""
    th = np.array([[0.1, 0.5], [1.0, -1.0], [0.3, 0.999], [-0.5, 1.5], [0.2, 1.002],
                   [0.0, 0.2], [2.0, 3.0]])
    kw = dict(singular_eps=1e-4, rtol=1e-10, atol=1e-12, n_save=11)
    whole = gradient_flow(linear_1d, th, 5.0, **kw)
    chunked = gradient_flow(linear_1d, th, 5.0, chunk_size=3, **kw)
    assert list(chunked.outcome) == list(whole.outcome)
    np.testing.assert_array_equal(chunked.valid, whole.valid)
    np.testing.assert_allclose(np.where(whole.valid[..., None], chunked.theta, 0),
                               np.where(whole.valid[..., None], whole.theta, 0), atol=1e-12)
    np.testing.assert_allclose(chunked.theta[:, 0], th)
    np.testing.assert_array_equal(chunked.stats["num_steps"], whole.stats["num_steps"])
    with pytest.raises(ValueError, match="chunk_size"):
        gradient_flow(linear_1d, th, 5.0, chunk_size=0)


def test_saved_points_carry_the_solvers_accuracy(sigmoid_problem):
    """Kvaerno's dense output is a cubic Hermite interpolant: between step ends it erred
    ~5e-9 at rtol 1e-10 on this flow.  By default the Kvaerno steps land on the save
    times (``exact_saves``), so every saved point is a step end."""
    ts = np.linspace(0, 400, 21)
    th0 = [0.1, -0.05]
    ref = scipy_flow(sigmoid_problem, th0, 400.0, t_eval=ts)
    exact = gradient_flow(sigmoid_problem, th0, 400.0, ts=ts)
    assert exact.settings["exact_saves"]
    assert np.max(np.abs(exact.theta - ref.y.T)) < 5e-10
    interpolated = gradient_flow(sigmoid_problem, th0, 400.0, ts=ts, exact_saves=False)
    assert np.max(np.abs(interpolated.theta - ref.y.T)) > 1e-9   # what the default avoids


def test_steps_stretch_onto_save_times():
    """A PID proposal ending 1 ULP short of a save time (1.5999999999999999 for 1.6) left
    a 2-ULP step, whose Newton stage solve failed; the step could not shrink further and
    this start rejected steps until max_steps.  Such steps now stretch onto the save time."""
    P = fd.Problem(fd.LinearDEQ(1), fd.LinearTarget([2.0]), fd.Uniform(0, 1, 1).monte_carlo(1000, 0))
    th0 = [-0.13397288, -1.07567514]
    tr = gradient_flow(P, th0, 2.0, n_save=21, max_steps=2000)
    assert tr.outcome == "max_time", tr.stats["message"]
    assert tr.stats["num_rejected_steps"] < 20
    ref = scipy_flow(P, th0, 2.0, t_eval=tr.t)
    assert np.max(np.abs(tr.theta - ref.y.T)) < 1e-8


def test_event_label_when_its_root_find_is_not_certified():
    """Near the minimiser log‖∇R‖ on the interpolated state need not cross log(tol)
    cleanly, so the converged event's root find can stop uncertified.  The label must
    still be the event that fired (a single min-of-rooms event function once called
    this start 'singular', reading the label off the uncertified state)."""
    P = fd.Problem(fd.LinearDEQ(1), fd.LinearTarget([2.0]), fd.Uniform(0, 1, 1).monte_carlo(1000, 0))
    tr = gradient_flow(P, [0.3756858, 0.91164442], 2.0, n_save=21)
    assert tr.outcome == "converged"
    assert tr.grad_norm[-1] < 1e-9 and tr.grad_norm[-2] > 1e-10
