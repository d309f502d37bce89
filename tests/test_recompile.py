"""A second call with new *values* (θ₀, η, rtol/atol, t1, ε, tolerances) must not
recompile: every such value enters the compiled solve as an array.

Compilations are counted with JAX's own monitoring hook (the backend-compile duration
event fires once per XLA compilation, cached or not), so the test does not depend on
equinox/jax cache internals.  No timing assertions.
"""
import contextlib

import jax
import jax.monitoring
import numpy as np
import pytest

import flowdeq
from flowdeq.descent import gradient_descent
from flowdeq.flow import gradient_flow

_EVENT = "/jax/core/compile/backend_compile_duration"


@contextlib.contextmanager
def count_compiles():
    seen = []

    def listener(event, duration, **kw):
        if event == _EVENT:
            seen.append(duration)

    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        yield seen
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)


@pytest.fixture(scope="module")
def linear():
    return flowdeq.Problem(flowdeq.LinearDEQ(1), flowdeq.LinearTarget([2.0]),
                           flowdeq.Uniform(0, 1, 1).monte_carlo(50, 0))


@pytest.fixture(scope="module")
def sigmoid():
    return flowdeq.Problem(flowdeq.SingleIndexDEQ("sigmoid", 1),
                           flowdeq.SingleIndexTarget([2.0], "sigmoid"),
                           flowdeq.Uniform(0, 1, 1, nodes=8))


def test_counter_sees_a_compile():
    # guard: the hook must actually fire, or the zero-compile tests below prove nothing
    with count_compiles() as seen:
        jax.jit(lambda x: x * 3.0 + 1.234567)(np.arange(7.0)).block_until_ready()
    assert len(seen) >= 1


@pytest.mark.parametrize("which", ["linear", "sigmoid"])
def test_flow_new_values_do_not_recompile(which, request):
    problem = request.getfixturevalue(which)
    th = np.array([[0.1, 0.2], [-0.2, 0.1]])
    gradient_flow(problem, th, 1.0, rtol=1e-6, atol=1e-8, n_save=5)
    with count_compiles() as seen:
        traj = gradient_flow(problem, th + 0.05, 1.5, rtol=1e-7, atol=1e-9, singular_eps=1e-5,
                             converged_tol=1e-9, divergence_cap=1e8, n_save=5)
    assert len(seen) == 0, f"{len(seen)} recompilation(s) for new values"
    assert traj.theta.shape[0] == 2


@pytest.mark.parametrize("which", ["linear", "sigmoid"])
def test_descent_new_values_do_not_recompile(which, request):
    problem = request.getfixturevalue(which)
    gradient_descent(problem, np.array([[0.1, 0.2]]), [0.1], 20)
    with count_compiles() as seen:
        gradient_descent(problem, np.array([[0.3, -0.1]]), [0.05], 20, singular_eps=1e-5,
                         converged_tol=1e-9, divergence_cap=1e8)
    assert len(seen) == 0, f"{len(seen)} recompilation(s) for new values"


def test_user_model_new_values_and_new_data_do_not_recompile():
    # the generic path (Newton equilibrium, autodiff ∇R) keys compilation on shapes only:
    # a new θ₀, new settings, and a new target of the same size reuse the executables
    from test_user_model import TanhBiasDEQ

    def problem(xi):
        return flowdeq.Problem(TanhBiasDEQ(), flowdeq.SingleIndexTarget([xi], "tanh"),
                               flowdeq.Uniform(0, 1, 1, nodes=8))

    th = np.array([[0.5, 0.3, 0.0], [0.1, -0.2, 0.3]])
    gradient_flow(problem(2.0), th, 1.0, rtol=1e-6, atol=1e-8, n_save=5)
    gradient_descent(problem(2.0), th, [0.1], 10)
    with count_compiles() as seen:
        gradient_flow(problem(1.5), th + 0.05, 1.5, rtol=1e-7, atol=1e-9, singular_eps=1e-5,
                      n_save=5)
        gradient_descent(problem(1.5), th - 0.05, [0.2], 10, converged_tol=1e-9)
    assert len(seen) == 0, f"{len(seen)} recompilation(s) for new values"


def test_risk_and_grad_new_theta_do_not_recompile(sigmoid):
    sigmoid.risk_and_grad(np.array([0.1, 0.2]))
    with count_compiles() as seen:
        sigmoid.risk_and_grad(np.array([0.4, -0.3]))
        sigmoid.grad(np.array([0.4, -0.3]))
        sigmoid.grad(np.array([0.5, -0.3]))
    # grad is a separate jitted entry point: at most its own first compile
    assert len(seen) <= 1


def test_checked_flow_new_values_do_not_recompile(linear):
    # flowdeq theory's path: a flow with its step ends, R and ∇R at any number of points (one
    # padded chunk shape), the re-integration's single-point ∇R
    from flowdeq.analysis.continuous import FlowPath, risk_and_grad_at
    tr = gradient_flow(linear, np.array([0.1, 0.2]), 1.0, save_steps=True, n_save=5,
                       max_steps=2000)
    FlowPath.of(linear, tr).sup(lambda t, th: -th[:, 0])
    risk_and_grad_at(linear, np.full((7, 2), 0.1))
    with count_compiles() as seen:
        tr = gradient_flow(linear, np.array([0.3, -0.1]), 1.5, rtol=1e-7, atol=1e-9,
                           save_steps=True, n_save=5, max_steps=2000)
        FlowPath.of(linear, tr).sup(lambda t, th: th[:, 1])
        risk_and_grad_at(linear, np.full((300, 2), 0.2))
    assert len(seen) == 0, f"{len(seen)} recompilation(s) for new values"


def test_new_step_count_is_seen(linear):
    # `steps` is a static scan length: changing it must compile, and the counter sees it
    gradient_descent(linear, np.array([0.1, 0.2]), 0.1, 11)
    with count_compiles() as seen:
        gradient_descent(linear, np.array([0.1, 0.2]), 0.1, 12)
    assert len(seen) >= 1


@pytest.mark.parametrize("exact_saves", [True, False])
def test_flow_executable_holds_no_host_callback(linear, exact_saves):
    """JAX never writes an executable that holds a host callback to its persistent
    cache, and diffrax's SaveAt(ts) checks compile to callbacks unless traced under
    ``_cacheable_trace`` — which must therefore remove every one of them."""
    import jax.numpy as jnp

    from flowdeq import flow

    slv, _ = flow._solver("kvaerno5")
    args = (linear, jnp.zeros((1, 2)), jnp.linspace(0.0, 1.0, 5), *map(jnp.asarray, (
        1e-10, 1e-12, 1e-6, 1e-10, 1e10)), slv, 1000, exact_saves)
    with flow._cacheable_trace():
        text = flow._solve.lower(*args).as_text()
    assert "callback" not in text


_CACHE_RUN = """
import jax, numpy as np, flowdeq
hits = []
jax.monitoring.register_event_duration_secs_listener(
    lambda e, d, **k: hits.append(e) if e.endswith("cache_retrieval_time_sec") else None)
print(flowdeq.enable_compilation_cache())
P = flowdeq.Problem(flowdeq.LinearDEQ(1), flowdeq.LinearTarget([2.0]), flowdeq.Uniform(0, 1, 1, nodes=8))
tr = flowdeq.gradient_flow(P, [0.1, 0.5], 2.0, n_save=5)
print(len(hits), tr.theta_final.tolist())
"""


@pytest.mark.slow
def test_compilation_cache_written_then_used(tmp_path):
    """enable_compilation_cache(): the first process writes the flow's executable, a
    second one loads it and gets the same trajectory; FLOWDEQ_NO_CACHE=1 turns it off."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("FLOWDEQ_NO_CACHE",
                                                            "JAX_COMPILATION_CACHE_DIR")}
    env["XDG_CACHE_HOME"] = str(tmp_path)
    run = lambda e: subprocess.run([sys.executable, "-c", _CACHE_RUN], env=e, check=True,  # noqa: E731
                                   capture_output=True, text=True).stdout.split("\n")
    first = run(env)
    cache = tmp_path / "flowdeq" / "jax"
    assert first[0] == str(cache)
    assert any(p.name.startswith("jit__solve") for p in cache.iterdir())
    # flowdeq's own store of the traced program (flowdeq/_programs.py) sits beside it
    kept = [str(np.load(f)["meta"]) for f in (cache / "flowdeq-programs").glob("*.npz")]
    assert sum('"dynamics.flow._solve"' in m or "flow._solve" in m for m in kept) == 1
    second = run(env)
    assert int(second[1].split()[0]) >= 1          # loaded from the cache
    assert second[1].split(maxsplit=1)[1] == first[1].split(maxsplit=1)[1]
    off = run(dict(env, FLOWDEQ_NO_CACHE="1"))
    assert off[0] == "None" and int(off[1].split()[0]) == 0


def test_modified_flow_sharpness_new_values_do_not_recompile(linear):
    """η, θ₀, tolerances and t1 of a modified flow, and the points of a sharpness / field
    evaluation, are values: a second call with new ones compiles nothing."""
    from flowdeq.analysis.sharpness import lanczos_sharpness, sharpness
    from flowdeq.dynamics.modified import modified_field, modified_flow, modified_risk

    th = np.array([0.1, 0.2])
    kw = {"solver": "tsit5", "n_save": 5}
    modified_flow(linear, th, 0.05, 1, 1.0, rtol=1e-6, atol=1e-8, **kw)
    sharpness(linear, np.array([th, th + 0.1]))
    lanczos_sharpness(linear, th, iters=2)
    modified_field(linear, th, 0.05, 1)
    modified_risk(linear, th, 0.05)
    with count_compiles() as seen:
        modified_flow(linear, th + 0.05, 0.2, 1, 1.5, rtol=1e-7, atol=1e-9, singular_eps=1e-5,
                      converged_tol=1e-9, **kw)
        sharpness(linear, np.array([th - 0.1, th, th + 0.2]))      # 3 points: the same bucket
        lanczos_sharpness(linear, th - 0.1, iters=2)
        modified_field(linear, th + 0.3, 0.7, 1)
        modified_risk(linear, th - 0.2, 0.3)
    assert len(seen) == 0, f"{len(seen)} recompilation(s) for new values"


def test_width_m_models_new_values_and_new_teacher_do_not_recompile():
    # the width-m models: new θ₀, settings and a new teacher (same sizes) reuse the executables
    # (the flow on the linear model: its compile is the cheap one)
    def problem(seed):
        t = flowdeq.MultiNeuronDEQ("tanh", 2, 2)
        return flowdeq.Problem(flowdeq.MultiNeuronDEQ("tanh", 2, 2),
                               flowdeq.TeacherTarget(t, t.random_theta(seed, 0.5)),
                               flowdeq.Uniform(0, 1, 2, nodes=3))

    th = 0.1 * np.arange(16.0).reshape(2, 8) / 16
    lin = flowdeq.Problem(flowdeq.MultiLinearDEQ(2, 2),
                          flowdeq.MultiLinearTarget([[1.0, 0.0], [0.0, 2.0]]),
                          flowdeq.Uniform(0, 1, 2, nodes=3))
    gradient_flow(lin, th, 1.0, rtol=1e-6, atol=1e-8, n_save=5)
    gradient_descent(problem(0), th, [0.1], 10)
    with count_compiles() as seen:
        gradient_flow(lin, th + 0.01, 1.5, rtol=1e-7, atol=1e-9, singular_eps=1e-5, n_save=5)
        gradient_descent(problem(1), th - 0.01, [0.2], 10, converged_tol=1e-9)
    assert len(seen) == 0, f"{len(seen)} recompilation(s) for new values"


def test_conservation_search_new_seed_does_not_recompile():
    from flowdeq.analysis.conservation import find_conservation_laws
    model = flowdeq.LinearDEQ(1)
    find_conservation_laws(model, 2, seed=0)
    with count_compiles() as seen:
        r = find_conservation_laws(model, 2, seed=1, scale=0.5)
    assert r.count == 1 and len(seen) == 0
