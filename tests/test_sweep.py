import json
import os

import numpy as np
import pytest

import flowdeq  # noqa: F401  (float64)
from flowdeq import LinearDEQ, LinearTarget, Problem, Uniform
from flowdeq.sweep import SweepInterrupted, grid_starts, load_sweep, run_sweep


@pytest.fixture(scope="module")
def problem():
    return Problem(LinearDEQ(1), LinearTarget([2.0]), Uniform(0.0, 1.0, 1, nodes=8))


def _starts(problem):
    return grid_starts(problem, (-1.5, 1.5, 5), (-0.8, 2.2, 4))  # 20 starts, none on θ₂ = 1


KW = dict(kind="descent", step_sizes=[0.05, 0.8], settings={"steps": 40}, chunk_size=6)


def _same(a, b):
    for k in ("outcome", "event_step", "theta_final", "risk_final", "min_margin", "start",
              "step_size", "theta_before", "theta_after"):
        np.testing.assert_array_equal(np.asarray(a[k]), np.asarray(b[k]), err_msg=k)


def test_grid_starts_layout(problem):
    st = _starts(problem)
    assert st.shape == (20, 2)
    np.testing.assert_allclose(st[:5, 0], np.linspace(-1.5, 1.5, 5))
    np.testing.assert_allclose(st[::5, 1], np.linspace(-0.8, 2.2, 4))


def test_interrupted_sweep_resumes_to_the_uninterrupted_result(problem, tmp_path):
    st = _starts(problem)
    ref = run_sweep(problem, st, None, progress=False, **KW)
    out = str(tmp_path / "sw")
    with pytest.raises(SweepInterrupted):
        run_sweep(problem, st, out, max_chunks=2, progress=False, **KW)
    assert sorted(f for f in os.listdir(out) if f.startswith("chunk_")) == \
        ["chunk_00000.npz", "chunk_00001.npz"]
    ran = []
    res = run_sweep(problem, st, out, resume=True, progress=False,
                    callback=lambda i, r: ran.append(i), **KW)
    assert ran == [2, 3]          # nothing recomputed
    _same(res, ref)
    _same(load_sweep(out), ref)
    # member order is η-major, like gradient_descent
    np.testing.assert_array_equal(res["step_size"], np.repeat([0.05, 0.8], 20))
    np.testing.assert_array_equal(res["start"], np.tile(np.arange(20), 2))


def test_callback_exception_keeps_finished_chunks(problem, tmp_path):
    st = _starts(problem)
    out = str(tmp_path / "sw")

    def boom(i, r):
        if i == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_sweep(problem, st, out, callback=boom, progress=False, **KW)
    ran = []
    res = run_sweep(problem, st, out, resume=True, progress=False,
                    callback=lambda i, r: ran.append(i), **KW)
    assert ran == [2, 3]
    _same(res, run_sweep(problem, st, None, progress=False, **KW))


def test_resume_refuses_a_different_spec(problem, tmp_path):
    st = _starts(problem)
    out = str(tmp_path / "sw")
    run_sweep(problem, st, out, progress=False, **KW)
    with pytest.raises(ValueError, match="already holds a sweep"):
        run_sweep(problem, st, out, progress=False, **KW)
    other = dict(KW, step_sizes=[0.05, 0.4])
    with pytest.raises(ValueError, match="different sweep"):
        run_sweep(problem, st, out, resume=True, progress=False, **other)
    with pytest.raises(ValueError, match="different sweep"):
        run_sweep(problem, st + 0.01, out, resume=True, progress=False, **KW)
    with open(os.path.join(out, "manifest.json")) as fh:
        assert json.load(fh)["spec"]["step_sizes"] == [0.05, 0.8]


def test_bad_input(problem):
    st = _starts(problem)
    with pytest.raises(ValueError, match="step_sizes"):
        run_sweep(problem, st, None, kind="descent", progress=False)
    with pytest.raises(ValueError, match="kind"):
        run_sweep(problem, st, None, kind="walk", progress=False)
    with pytest.raises(ValueError, match="starts"):
        run_sweep(problem, np.zeros((3, 5)), None, progress=False)
    with pytest.raises(ValueError, match="unknown key"):
        run_sweep(problem, st, None, settings={"stepz": 3}, progress=False)


def test_cli_sweep_rejects_malformed_scheduler_address(tmp_path):
    """A host without a port is refused before any connection (or Dask import) is tried."""
    from flowdeq.sweep import cli_sweep

    with pytest.raises(ValueError, match="distributed"):
        cli_sweep("data/configs/sweep-linear-gd.toml", str(tmp_path), scheduler="tcp://x")


def test_ill_posed_starts_are_labelled_not_run(problem):
    st = np.array([[0.3, 1.0], [0.3, 0.5]])
    r = run_sweep(problem, st, None, kind="descent", step_sizes=[0.1], settings={"steps": 5},
                  progress=False)
    assert r["outcome"][0] == "ill_posed_start"
    assert r["outcome"][1] != "ill_posed_start"


def test_a_chunk_of_only_ill_posed_starts_is_labelled_not_an_error(problem):
    # with chunk_size 2 the first chunk holds only starts on θ₂ = 1 (and a NaN): those
    # members are labelled, the other chunk runs, and its members agree with a lone run
    st = np.array([[0.3, 1.0], [np.nan, 0.5], [0.3, 0.5], [-0.2, 0.1]])
    for kind, kw in (("descent", dict(step_sizes=[0.1], settings={"steps": 5})),
                     ("flow", dict(settings={"t1": 0.5, "n_save": 3}))):
        r = run_sweep(problem, st, None, kind=kind, chunk_size=2, progress=False, **kw)
        assert list(r["outcome"][:2]) == ["ill_posed_start"] * 2, kind
        assert np.all(np.isnan(r["theta_final"][:2])), kind
        lone = run_sweep(problem, st[2:], None, kind=kind, chunk_size=2, progress=False, **kw)
        np.testing.assert_array_equal(np.asarray(r["theta_final"][2:]),
                                      np.asarray(lone["theta_final"]), err_msg=kind)
