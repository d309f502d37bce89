"""Trajectory files written by flowdeq before the model-interface redesign (commit 0958b6f,
tests/fixtures/*_v1_commit0958b6f.npz) still load, with their values intact."""
import os

import numpy as np
import pytest

import flowdeq as fd
from flowdeq.trajectory import Trajectory

HERE = os.path.join(os.path.dirname(__file__), "fixtures")


def _load(name):
    return Trajectory.load(os.path.join(HERE, name))


def test_old_flow_file_loads():
    f = _load("flow_v1_commit0958b6f.npz")
    assert f.kind == "flow" and len(f) == 2
    # the second member started at θ₂ = 1.5 with ε = 0.45: it stopped within ε of θ₂ = 1
    m = f[1]
    assert abs(abs(1 - m.theta[-1, 1]) - 0.45) < 1e-8
    assert m.theta[0].tolist() == [0.3, 1.5]


def test_old_descent_files_load():
    g = _load("descent_v1_commit0958b6f.npz")
    assert g.kind == "descent" and len(g) == 4
    assert np.allclose(g.theta[:, 0], [[3.0, 3.9], [0.5, 0.5]] * 2)
    lin = _load("descent_linear_v1_commit0958b6f.npz")
    assert lin.outcome == "crossed"
    assert np.sign(1 - lin.theta[-1, 1]) != np.sign(1 - lin.theta[-2, 1])


def test_old_outcome_labels_map_to_the_one_vocabulary():
    # 0.1 wrote 'singular' for the flow event that 0.2 calls ill_posed
    f = _load("flow_v1_commit0958b6f.npz")
    assert f[1].outcome == "ill_posed" and f[1].outcome == fd.Outcome.ill_posed
    assert set(np.asarray(f.outcome).tolist()) <= {o.value for o in fd.Outcome}
    g = _load("descent_v1_commit0958b6f.npz")
    assert set(np.asarray(g.outcome).tolist()) <= {o.value for o in fd.Outcome}
    assert "noncontractive" not in np.asarray(g.outcome).tolist()


def test_old_per_member_arrays_are_read_from_params_entries():
    # 0.1 saved per-member step sizes and start indices as params__*; 0.2 calls them per_member
    g = _load("descent_v1_commit0958b6f.npz")
    assert g.per_member["step_size"].tolist() == [10.0, 10.0, 1000.0, 1000.0]
    assert g.per_member["start"].tolist() == [0, 1, 0, 1]
    assert g[2].per_member["step_size"] == 1000.0


def test_old_files_have_no_layout_and_say_so():
    f = _load("flow_v1_commit0958b6f.npz")[0]
    with pytest.raises(ValueError, match="flat theta"):
        f.params(-1)


def test_renamed_0_1_calls_still_read_or_name_the_new_call():
    g = _load("descent_v1_commit0958b6f.npz")
    with pytest.warns(DeprecationWarning, match="per_member"):
        assert g.params["step_size"].tolist() == [10.0, 10.0, 1000.0, 1000.0]
    # 0.1's SingleIndexDEQ.equilibrium(theta, x) is solve(theta, x) now
    m = fd.SingleIndexDEQ("sigmoid", 1)
    with pytest.raises(ValueError, match="solve"):
        m.equilibrium(np.array([1.0, 0.5]), np.array([[0.2]]))
    assert m.solve(np.array([1.0, 0.5]), np.array([[0.2]])).shape == (1,)
