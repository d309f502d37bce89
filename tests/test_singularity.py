import jax
import numpy as np
import pytest
from scipy.integrate import solve_ivp

import flowdeq  # noqa: F401  (float64)
from flowdeq import LinearDEQ, LinearTarget, Problem, Uniform
from flowdeq.singularity import analyze_sweep, crossing_step_sizes, write_analysis
from flowdeq.sweep import grid_starts, run_sweep


@pytest.fixture(scope="module")
def problem():
    return Problem(LinearDEQ(1), LinearTarget([2.0]), Uniform(0.0, 1.0, 1, nodes=8))


def _np_grad(S, xi, th):
    # closed form (errata E1): ∇R = 2/(1−θ₂)·(Σ(φ−ξ), φΣ(φ−ξ)), d = 1
    u = 1.0 - th[1]
    phi = th[0] / u
    g = S * (phi - xi)
    return np.array([2 * g / u, 2 * phi * g / u])


def test_gd_crossings_and_closest_approach_match_a_python_loop(problem):
    st = grid_starts(problem, (-1.0, 1.0, 4), (0.2, 1.6, 4))
    etas = [0.1, 0.5, 1.5]
    steps = 30
    res = run_sweep(problem, st, None, kind="descent", step_sizes=etas,
                    settings={"steps": steps, "converged_tol": 0.0}, chunk_size=7, progress=False)
    an = analyze_sweep(problem, res)
    S = float(np.asarray(problem.sigma)[0, 0])
    k = 0
    smallest = np.full(len(st), np.nan)
    for eta in etas:
        for j, th0 in enumerate(st):
            th = th0.copy()
            closest = abs(1 - th[1])
            crossed, diverged = False, False
            for s in range(1, steps + 1):
                nxt = th - eta * _np_grad(S, 2.0, th)
                if np.sign(1 - nxt[1]) != np.sign(1 - th[1]):
                    crossed, event, before, after = True, s, th[1], nxt[1]
                    closest = min(closest, abs(1 - nxt[1]))
                    break
                if not np.all(np.isfinite(nxt)) or np.linalg.norm(nxt) > 1e10:
                    diverged = True
                    break
                closest = min(closest, abs(1 - nxt[1]))
                th = nxt
            assert (res["outcome"][k] == "crossed") == crossed, (eta, th0)
            if crossed:
                assert res["event_step"][k] == event
                np.testing.assert_allclose(res["theta_before"][k][-1], before, rtol=1e-9)
                np.testing.assert_allclose(res["theta_after"][k][-1], after, rtol=1e-9)
                if np.isnan(smallest[j]):
                    smallest[j] = eta
            if not diverged:
                np.testing.assert_allclose(res["min_margin"][k], closest, rtol=1e-9, atol=1e-12)
            k += 1
    assert np.any(np.isfinite(smallest)) and np.any(~np.isfinite(smallest))  # the test has teeth
    np.testing.assert_array_equal(np.isnan(an["crossing"]["smallest"]), np.isnan(smallest))
    np.testing.assert_allclose(an["crossing"]["smallest"][np.isfinite(smallest)],
                               smallest[np.isfinite(smallest)])
    counts = an["summary"]["outcome_counts"]
    assert sum(counts.values()) == len(etas) * len(st)
    assert counts.get("crossed", 0) == int(np.sum(res["outcome"] == "crossed"))


def test_flow_closest_approach_matches_scipy(problem):
    st = np.array([[0.5, 0.3], [-0.4, 1.6], [1.2, -0.5]])
    t1, n_save = 3.0, 61
    res = run_sweep(problem, st, None, kind="flow",
                    settings={"t1": t1, "n_save": n_save, "converged_tol": 0.0, "rtol": 1e-10,
                              "atol": 1e-12}, progress=False)
    an = analyze_sweep(problem, res)
    grad = jax.jit(lambda t: problem.grad(t))
    ts = np.linspace(0, t1, n_save)
    for i, th0 in enumerate(st):
        sol = solve_ivp(lambda t, y: -np.asarray(grad(y)), (0, t1), th0, t_eval=ts,
                        method="Radau", rtol=1e-11, atol=1e-13)
        closest = np.min(np.abs(1 - sol.y[1]))
        assert res["outcome"][i] == "max_time"
        np.testing.assert_allclose(res["min_margin"][i], closest, rtol=1e-6)
        np.testing.assert_allclose(res["theta_final"][i], sol.y[:, -1], rtol=1e-6, atol=1e-9)
    assert an["summary"]["closest_approach"]["min"] == pytest.approx(np.min(res["min_margin"]))


def test_write_analysis_files(problem, tmp_path):
    xs, ys = np.linspace(-1, 1, 3), np.linspace(0.2, 1.6, 3)
    st = grid_starts(problem, (-1, 1, 3), (0.2, 1.6, 3))
    res = run_sweep(problem, st, None, kind="descent", step_sizes=[0.1, 1.5],
                    settings={"steps": 10}, progress=False)
    an = analyze_sweep(problem, res, grid=(xs, ys))
    files = write_analysis(an, str(tmp_path), problem=problem)
    names = {f.split("/")[-1] for f in files}
    assert {"closest_approach.png", "crossing_map.png", "outcome_map_eta0.png",
            "time_to_event_eta1.png"} <= names
    assert (tmp_path / "members.csv").read_text().count("\n") == 1 + 18
    with pytest.raises(ValueError, match="descent"):
        crossing_step_sizes(run_sweep(problem, st[:2], None, settings={"t1": 0.1},
                                      progress=False))
