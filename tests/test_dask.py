"""Sweeps on a Dask cluster (issue 6): same results as the local executor, no chunk lost or
duplicated when a worker dies, resume after the client is interrupted.

The cluster is a LocalCluster on 127.0.0.1 only (2 single-threaded worker processes).
The slow tests are skipped when Dask (the ``distributed`` extra) is not installed; the
missing-extra and bad-address checks always run and never touch the network.
"""
import os
import signal
import sys

import numpy as np
import pytest

import flowdeq  # noqa: F401  (float64)
from flowdeq import LinearDEQ, LinearTarget, Problem, Uniform
from flowdeq.sweep import SweepInterrupted, grid_starts, load_sweep, run_sweep

FLOATS = ("event_time", "theta_final", "risk_final", "grad_norm_final", "min_margin",
          "t_min_margin", "t_final", "step_size", "theta_before", "theta_after")
EXACT = ("outcome", "event_step", "start")


@pytest.fixture(scope="module")
def problem():
    return Problem(LinearDEQ(1), LinearTarget([2.0]), Uniform(0.0, 1.0, 1, nodes=8))


@pytest.fixture(scope="module")
def starts(problem):
    return grid_starts(problem, (-1.5, 1.5, 4), (-0.8, 2.2, 4))  # 16 starts, none on θ₂ = 1


# GD: 16 starts × 2 step sizes in 8 chunks; enough steps that a chunk takes a moment, so
# chunks are still queued or running on the workers when the first one comes back
GD = dict(kind="descent", step_sizes=[0.05, 0.8], settings={"steps": 60_000}, chunk_size=2)


def _same(a, b):
    assert set(a) == set(b)
    for k in EXACT:
        if k in a:
            np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    for k in FLOATS:
        if k in a:
            assert np.asarray(a[k]).dtype == np.float64, k
            np.testing.assert_allclose(a[k], b[k], rtol=1e-12, atol=1e-12, err_msg=k)


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None,
                                  env={"JAX_ENABLE_X64": "1"}) as c:
        assert c.scheduler_address.startswith("tcp://127.0.0.1:")
        yield c


@pytest.fixture(scope="module")
def gd_ref(problem, starts):
    return run_sweep(problem, starts, None, progress=False, **GD)


# ------------------------------------------------------------------ always run
def test_missing_extra_names_it(problem, starts, monkeypatch):
    from flowdeq.executors import MissingExtraError

    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed → ImportError
    with pytest.raises(MissingExtraError, match=r"\[distributed\]") as err:
        run_sweep(problem, starts, None, executor="local:2", progress=False, **GD)
    assert isinstance(err.value, ValueError)  # the CLI prints it as one line
    # the local path does not need Dask
    r = run_sweep(problem, starts[:2], None, kind="descent", step_sizes=[0.1],
                  settings={"steps": 5}, progress=False)
    assert r["outcome"].shape == (2,)


@pytest.mark.parametrize("bad", ["tcp://x", "local:0", "local:two", "127.0.0.1:8786", "dask"])
def test_bad_scheduler_refused_before_dialling(problem, starts, bad):
    with pytest.raises(ValueError, match="scheduler"):
        run_sweep(problem, starts, None, executor=bad, progress=False, **GD)


# ------------------------------------------------------------------ on a LocalCluster
@pytest.mark.slow
def test_dask_matches_local_flow_and_descent(problem, starts, cluster, gd_ref, tmp_path):
    # one flow chunk: a diffrax compile is the costly part (one here, one on a worker);
    # tsit5 compiles faster than the default Kvaerno5 and is just as deterministic
    flow = dict(kind="flow", settings={"t1": 3.0, "n_save": 41, "solver": "tsit5"}, chunk_size=16)
    ref = run_sweep(problem, starts, None, progress=False, **flow)
    got = run_sweep(problem, starts, str(tmp_path / "flow"), executor=cluster.scheduler_address,
                    progress=False, **flow)
    _same(got, ref)
    _same(load_sweep(str(tmp_path / "flow")), ref)
    got = run_sweep(problem, starts, None, executor=cluster.scheduler_address, progress=False, **GD)
    _same(got, gd_ref)


@pytest.mark.slow
def test_killed_worker_loses_and_duplicates_nothing(problem, starts, cluster, gd_ref, tmp_path):
    from distributed import Client

    out = str(tmp_path / "gd")
    arrived, killed = [], []
    with Client(cluster) as client:
        pids = client.run(os.getpid)

        def kill_one(i, res):
            arrived.append(i)
            if killed:
                return
            busy = {w: keys for w, keys in client.processing().items() if keys}
            assert busy, "no chunk left in flight when the first one arrived"
            w = sorted(busy)[0]
            killed.append((w, list(busy[w])))
            os.kill(pids[w], signal.SIGKILL)

        res = run_sweep(problem, starts, out, executor=client, callback=kill_one,
                        progress=False, **GD)
        # the nanny brings the worker back; wait so the next test has 2 workers again
        client.wait_for_workers(2, timeout=60)
    assert killed and killed[0][1]          # a worker with chunks in flight was killed
    assert sorted(arrived) == list(range(8))  # every chunk exactly once
    assert sorted(f for f in os.listdir(out) if f.startswith("chunk_")) == \
        [f"chunk_{i:05d}.npz" for i in range(8)]
    _same(res, gd_ref)
    _same(load_sweep(out), gd_ref)


@pytest.mark.slow
def test_interrupted_client_resumes_to_the_same_result(problem, starts, cluster, gd_ref, tmp_path):
    out = str(tmp_path / "gd")
    addr = cluster.scheduler_address
    with pytest.raises(SweepInterrupted):
        run_sweep(problem, starts, out, executor=addr, max_chunks=3, progress=False, **GD)
    first = sorted(f for f in os.listdir(out) if f.startswith("chunk_"))
    assert first == ["chunk_00000.npz", "chunk_00001.npz", "chunk_00002.npz"]

    seen = []

    def boom(i, res):
        seen.append(i)
        raise KeyboardInterrupt  # the client stops at the first chunk it receives

    with pytest.raises(KeyboardInterrupt):
        run_sweep(problem, starts, out, executor=addr, resume=True, callback=boom,
                  progress=False, **GD)
    assert len(seen) == 1 and seen[0] >= 3
    on_disk = {int(f[6:11]) for f in os.listdir(out) if f.startswith("chunk_")}
    assert on_disk == {0, 1, 2, seen[0]}

    ran = []
    res = run_sweep(problem, starts, out, executor=addr, resume=True,
                    callback=lambda i, r: ran.append(i), progress=False, **GD)
    assert sorted(ran) == sorted(set(range(8)) - on_disk)  # nothing recomputed
    _same(res, gd_ref)
    _same(load_sweep(out), gd_ref)
