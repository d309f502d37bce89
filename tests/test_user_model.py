"""A researcher's own DEQ, defined here as a user would, gets the whole engine unchanged.

The model, y = tanh(a·x + b·y) + c, is none of the paper's: three parameters, the bias
outside the nonlinearity, well-posed while |b| < 1 (tanh is 1-Lipschitz).  Every number
is checked against an independent reference: the equilibrium by SciPy's brentq per
sample, ∇R by central finite differences of that brentq risk, the flow by SciPy's Radau
(with its own event root finding), GD by a NumPy loop on the finite-difference gradient.
"""
import inspect
import json
import os
import subprocess
import sys
import textwrap

import equinox as eqx
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.optimize import brentq

import flowdeq as fd
from flowdeq.analysis.geometry import Chart, field_on_grid
from flowdeq.ensembles.sweep import SweepInterrupted, load_sweep, run_sweep

from conftest import scipy_flow

# --- the user's model: this is all a researcher writes ------------------------------
class TanhBiasDEQ(fd.AbstractDEQ):
    """y = tanh(a·x + b·y) + c, well-posed while |b| < 1."""

    dim: int = eqx.field(static=True, default=1)
    width: int = eqx.field(static=True, default=1)

    def param_template(self):
        return {"a": (), "b": (), "c": ()}

    def layer(self, params, x, z):
        return jnp.tanh(params["a"] * x + params["b"] * z) + params["c"]

    def margin(self, params):
        return 1.0 - jnp.abs(params["b"])
# ------------------------------------------------------------------------------------

START = np.array([0.5, 0.3, 0.0])  # flat θ = (a, b, c): sorted parameter names


@pytest.fixture(scope="module")
def problem():
    return fd.Problem(TanhBiasDEQ(), fd.SingleIndexTarget([2.0], "tanh"),  # noqa: F821
                      fd.Uniform(0, 1, 1, nodes=16))


def _ref_risk(problem, theta):
    """R(θ) with every equilibrium found by brentq on [c − 1, c + 1] (tanh ∈ (−1, 1))."""
    a, b, c = theta
    x, w = problem.data.nodes_weights()
    x = np.asarray(x, float)[:, 0]
    y = np.array([brentq(lambda z: z - np.tanh(a * xi + b * z) - c, c - 1.0, c + 1.0,
                         xtol=1e-15, rtol=1e-15) for xi in x])
    return float(np.asarray(w) @ (y - np.tanh(2.0 * x)) ** 2)


def _fd_grad(problem, theta, h=1e-6):
    e = np.eye(len(theta))
    return np.array([(_ref_risk(problem, theta + h * ei) - _ref_risk(problem, theta - h * ei))
                     / (2 * h) for ei in e])


def test_interface_views(problem):
    model = problem.model
    assert model.n_params == 3 and model.param_labels() == ["a", "b", "c"]
    params = model.unravel(jnp.asarray(START))
    assert float(params["b"]) == START[1]
    np.testing.assert_array_equal(np.asarray(model.ravel(params)), START)


@pytest.mark.parametrize("theta", [START, np.array([1.5, -0.8, 0.4]), np.array([-2.0, 0.97, -0.3])])
def test_risk_and_gradient_match_brentq_and_finite_differences(problem, theta):
    r, g = problem.risk_and_grad(theta)
    assert float(r) == pytest.approx(_ref_risk(problem, theta), rel=1e-12, abs=1e-15)
    np.testing.assert_allclose(np.asarray(g), _fd_grad(problem, theta), rtol=1e-6, atol=1e-9)


def test_flow_matches_radau(problem):
    ts = np.linspace(0.0, 5.0, 6)
    tr = fd.gradient_flow(problem, START, 5.0, ts=ts)
    ref = scipy_flow(problem, START, 5.0, t_eval=ts)
    assert tr.outcome == "max_time"
    np.testing.assert_allclose(tr.theta, ref.y.T, rtol=1e-8, atol=1e-10)
    # the parameter pytree of a saved point, from the recorded layout
    assert tr.params(-1)["b"] == pytest.approx(tr.theta[-1, 1])


def _event_vs_radau(problem, theta0, t1, scipy_event, **options):
    tr = fd.gradient_flow(problem, theta0, t1, **options)
    scipy_event.terminal = True
    ref = scipy_flow(problem, theta0, t1, events=scipy_event)
    assert ref.status == 1, "the reference flow never reached the event: pick another start"
    t_ref, y_ref = ref.t_events[0][0], ref.y_events[0][0]
    assert tr.event_time == pytest.approx(t_ref, rel=1e-7)
    np.testing.assert_allclose(tr.theta[-1], y_ref, rtol=1e-7, atol=1e-9)
    return tr


def test_ill_posed_event_matches_radau_root(problem):
    # b rises along this flow: the margin 1 − |b| falls through ε = 0.55 (b = 0.45) near t ≈ 10
    tr = _event_vs_radau(problem, START, 30.0, lambda t, y: 1.0 - abs(y[1]) - 0.55,
                         singular_eps=0.55)
    assert tr.outcome == "ill_posed"
    assert float(problem.margin(tr.theta[-1])) == pytest.approx(0.55, abs=1e-8)


def test_converged_event_matches_radau_root(problem):
    theta0 = np.array([0.5, -0.5, 0.3])
    tr = _event_vs_radau(problem, theta0, 40.0,
                         lambda t, y: np.linalg.norm(np.asarray(problem.grad(y))) - 0.02,
                         converged_tol=0.02)
    assert tr.outcome == "converged"


def test_descent_matches_numpy_loop(problem):
    eta, steps = 0.5, 30
    tr = fd.gradient_descent(problem, START, eta, steps)
    th = START.copy()
    path = [th.copy()]
    for _ in range(steps):
        th = th - eta * _fd_grad(problem, th)
        path.append(th.copy())
    np.testing.assert_allclose(tr.theta, np.array(path), rtol=1e-7, atol=1e-9)
    assert tr.outcome == "max_steps"
    # a step too large for the well-posed strip stops at ill-posedness, iterates kept
    big = fd.gradient_descent(problem, np.array([0.2, 0.9, 0.5]), 40.0, 50)
    assert big.outcome in ("ill_posed", "diverged")
    assert np.all(np.isfinite(big.theta))


def test_theory_table_for_a_user_model(problem):
    # the paper's theorems do not cover this model: one "not applicable" row with the reason,
    # and the model-free statements (Lemma 3.5 along GD), never an error
    from flowdeq.analysis.theory import check_theorems
    from flowdeq.app.config import RunConfig
    cfg = RunConfig(problem, START, {}, {"step_size": 0.1, "steps": 30})
    rows = check_theorems(cfg)
    assert [r.verdict for r in rows[:2]] == ["not applicable"] * 2
    assert "linear and single-index" in rows[0].reason and "[flow] t1" in rows[1].reason
    (lemma,) = rows[2:]
    assert lemma.theorem == "Lemma 3.5" and lemma.verdict == "holds", lemma.reason
    assert lemma.constants["eta_L"] < 1                  # η‖∇²R‖ sampled along the path


def test_model_agnostic_diagnostics(problem):
    # log-spaced saves: the spline derivative behind the energy identity needs the fast
    # early transient (‖∇R‖ = 2 at t = 0) resolved
    ts = np.r_[0.0, np.geomspace(1e-3, 400.0, 400)]
    tr = fd.gradient_flow(problem, np.array([0.2, 0.8, 0.5]), 400.0, ts=ts)
    report = fd.diagnose(tr, problem, limit_tol=1e-3)
    names = [c.name for c in report.checks]
    assert any("stationary" in n for n in names)
    assert not any("Thm" in n or "conserv" in n for n in names)  # no paper theorem applies
    assert report.passed, str(report)
    energy = next(c for c in report.checks if "dR/dt" in c.name)
    assert energy.value < 1e-5  # the energy identity dR/dt = −‖∇R‖² holds along the flow
    # GD: the descent lemma holds for a small step; a step past 2/sharpness raises R, and
    # the report says so
    small = fd.gradient_descent(problem, np.array([0.2, 0.8, 0.5]), 0.05, 8000)
    assert fd.diagnose(small, problem, limit_tol=1e-3).passed
    big = fd.gradient_descent(problem, np.array([0.2, 0.8, 0.5]), 0.2, 2000)
    assert np.max(np.diff(big.risk)) > 0
    assert not fd.diagnose(big, problem, limit_tol=1e-3).checks[0].passed


def test_portrait_on_affine_slice_draws_ill_posed_set(problem):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from flowdeq.plot import phase_portrait

    c = Chart(origin=[0.0, 0.0, 0.1], u=[1.0, 0.0, 0.0], v=[0.0, 1.0, 0.0], labels=("a", "b"))
    tr = fd.gradient_flow(problem, START, 5.0)
    fig, ax = phase_portrait(problem, (-2, 2), (-1.5, 1.5), 15, flows=tr, chart=c)
    assert any(line.get_gid() == "ill_posed_set" for line in ax.lines)
    # the drawn boundary {margin = 0} is exactly |b| = 1 on this slice
    ys = np.concatenate([p.vertices[:, 1] for coll in ax.collections
                         if hasattr(coll, "get_paths") and type(coll).__name__ == "QuadContourSet"
                         and len(coll.levels) == 1 for p in coll.get_paths() if len(p.vertices)])
    assert ys.size and np.allclose(np.abs(ys), 1.0, atol=1e-9)
    plt.close(fig)
    # the field drawn is −∇R in chart coordinates (orthonormal u, v: the projection)
    S, T, U, V = field_on_grid(problem, (-2, 2), (-0.5, 0.5), 3, c=c)
    theta = c.origin + S[1, 2] * c.u + T[1, 2] * c.v
    g = _fd_grad(problem, theta)
    assert U[1, 2] == pytest.approx(-g @ c.u, rel=1e-6)
    assert V[1, 2] == pytest.approx(-g @ c.v, rel=1e-6)


def test_resumable_sweep(problem, tmp_path):
    starts = np.array([[0.5, 0.3, 0.0], [0.5, -0.5, 0.3], [1.0, 0.1, 0.2], [0.2, 0.8, 0.5]])
    out = str(tmp_path / "sweep")
    settings = {"t1": 2.0}
    with pytest.raises(SweepInterrupted):
        run_sweep(problem, starts, out, settings=settings, chunk_size=2, max_chunks=1,
                  progress=False)
    assert len([f for f in os.listdir(out) if f.startswith("chunk_")]) == 1
    res = run_sweep(problem, starts, out, settings=settings, chunk_size=2, resume=True,
                    progress=False)
    np.testing.assert_array_equal(load_sweep(out)["theta_final"], res["theta_final"])
    for i in (0, 3):  # members of the resumed and of the interrupted chunk, against Radau
        ref = scipy_flow(problem, starts[i], 2.0)
        np.testing.assert_allclose(res["theta_final"][i], ref.y[:, -1], rtol=1e-7, atol=1e-9)


def test_cli_flow_with_user_model_from_toml(problem, tmp_path):
    # the same class as a module of the user's, beside their config
    (tmp_path / "mydeq.py").write_text("import equinox as eqx\nimport jax.numpy as jnp\n"
                                       "import flowdeq as fd\n\n\n" + inspect.getsource(TanhBiasDEQ))
    (tmp_path / "run.toml").write_text(textwrap.dedent("""
        [model]
        kind = "mydeq:TanhBiasDEQ"
        [target]
        xi = [2.0]
        activation = "tanh"
        [data]
        law = "uniform"
        nodes = 16
        [init]
        theta0 = [0.5, 0.3, 0.0]
        [flow]
        t1 = 3.0
    """))
    out = tmp_path / "out"
    env = {**os.environ, "MPLBACKEND": "Agg"}
    exe = os.path.join(os.path.dirname(sys.executable), "flowdeq")
    proc = subprocess.run([exe, "flow", str(tmp_path / "run.toml"),
                           "--out", str(out)], capture_output=True, text=True, env=env,
                          cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    traj = fd.Trajectory.load(out / "trajectory.npz")
    ref = scipy_flow(problem, START, 3.0)
    np.testing.assert_allclose(traj.theta[-1], ref.y[:, -1], rtol=1e-8, atol=1e-10)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["outcome"] == "max_time"
    assert traj.settings["problem"]["model"]["kind"] == "mydeq:TanhBiasDEQ"
