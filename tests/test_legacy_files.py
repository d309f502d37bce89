"""Trajectory files written by flowdeq before the model-interface redesign (commit 0958b6f,
tests/fixtures/*_v1_commit0958b6f.npz) still load, with their values intact."""
import os

import numpy as np

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
