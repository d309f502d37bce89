"""[model] kind = "multi-linear" / "multi-neuron", the multi-output and teacher targets, and
the shipped width-m configs through the CLI."""
import glob
import json

import numpy as np
import pytest

import flowdeq as fd
from flowdeq.app.cli import main
from flowdeq.app.config import load_config, parse_config

BASE = {"data": {"law": "gaussian", "mean": [0.0, 0.0], "nodes": 3}}


def _cfg(model, target, **extra):
    return parse_config({"model": model, "target": target, **BASE, **extra})


def test_shipped_width_m_configs_parse():
    paths = sorted(glob.glob("data/configs/*multi*.toml"))
    assert len(paths) >= 4
    for path in paths:
        cfg = load_config(path)
        assert cfg.problem.model.width > 1
    teacher = load_config("data/configs/multi-neuron-teacher.toml")
    model, target = teacher.problem.model, teacher.problem.target
    assert isinstance(target, fd.TeacherTarget) and target.model.width == 2
    assert (model.width, model.output, model.bias) == (4, "readout", True)
    assert float(teacher.problem.risk_min) == 0.0  # the student can reproduce the teacher
    # the drawn teacher has the requested feedback L‖W*‖₂
    assert np.linalg.norm(np.asarray(target.params["W"]), 2) == pytest.approx(0.6, rel=1e-12)


def test_model_and_target_tables():
    cfg = _cfg({"kind": "multi-neuron", "width": 3, "activation": "sigmoid", "output": "readout",
                "ill_posed": "jacobian"}, {"xi": [1.0, -1.0], "activation": "sigmoid"})
    m = cfg.problem.model
    assert isinstance(m, fd.MultiNeuronDEQ)
    assert (m.width, m.activation.name, m.output, m.ill_posed) == (3, "sigmoid", "readout",
                                                                    "jacobian")
    cfg = _cfg({"kind": "multi-linear", "width": 2}, {"A": [[1.0, 0.0], [0.5, 2.0]]})
    assert cfg.problem.f.shape == (9, 2) and cfg.problem.n_params == 8
    theta = np.r_[np.ones(4), 0.1 * np.ones(4)]
    cfg = _cfg({"kind": "multi-linear", "width": 2, "dim": 2},
               {"kind": "teacher", "theta": theta.tolist()})
    np.testing.assert_array_equal(np.asarray(cfg.problem.target.theta), theta)


@pytest.mark.parametrize("model,target,match", [
    ({"kind": "linear", "width": 2}, {"xi": [1.0, 0.0]}, r"width is not used by kind = 'linear'"),
    ({"kind": "multi-linear", "activation": "tanh"}, {"xi": [1.0, 0.0]},
     r"activation is not used by kind = \"multi-linear\""),
    ({"kind": "multi-neuron", "widht": 2}, {"xi": [1.0, 0.0]}, r"unknown key 'widht'.*'width'"),
    ({"kind": "multi-neuron", "output": "vector"}, {"xi": [1.0, 0.0]}, r"output is 'vector'"),
    ({"kind": "multi-linear", "width": 3}, {"A": [[1.0, 0.0], [0.5, 2.0]]},
     r"2 output\(s\) but the model predicts 3"),
    ({"kind": "multi-linear", "width": 2}, {"A": [[1.0, 0.0], [0.5]]}, r"row 1 has 1 entries"),
    ({"kind": "multi-linear", "width": 2, "dim": 3}, {"A": [[1.0, 0.0], [0.5, 2.0]]},
     r"dim is 3 but \[target\] A has 2 column"),
    ({"kind": "multi-neuron", "width": 2}, {"kind": "teacher", "xi": [1.0, 0.0]},
     r"\[target\] xi is not used by kind = \"teacher\""),
    ({"kind": "multi-neuron", "width": 2}, {"kind": "teacher", "theta": [0.0] * 8, "seed": 1},
     r"gives theta and seed"),
    ({"kind": "multi-neuron", "width": 2}, {"kind": "teacher", "theta": [0.0] * 5},
     r"teacher theta has shape \(5,\): give 8 numbers"),
    ({"kind": "multi-neuron", "width": 2}, {"kind": "teacher", "feedback": 1.5},
     r"feedback is 1.5"),
    ({"kind": "multi-neuron", "width": 1}, {"kind": "teacher", "theta": [1.0, 0.0, 2.0]},
     r"teacher's parameters are ill-posed"),
])
def test_bad_tables_name_the_key(model, target, match):
    with pytest.raises(ValueError, match=match):
        _cfg(model, target)


def test_cli_descend_and_sweep_on_width_two(tmp_path, capsys):
    out = tmp_path / "gd"
    assert main(["descend", "data/configs/multi-linear.toml", "--out", str(out)]) == 0
    traj = fd.Trajectory.load(out / "trajectory.npz")
    assert traj.outcome == "converged"
    assert traj.settings["problem"]["model"] == {"kind": "multi-linear", "dim": 2, "width": 2,
                                                 "bias": False, "output": "state"}
    # a reduced copy of the shipped GD sweep: the crossing analysis reads det(I − W)'s sign
    text = open("data/configs/sweep-multi-linear-gd.toml").read()
    small = tmp_path / "sweep.toml"
    small.write_text(text.replace("count = 64", "count = 8").replace("steps = 1500", "steps = 100")
                     .replace("chunk_size = 64", "chunk_size = 8"))
    assert main(["sweep", str(small), "--out", str(tmp_path / "sw")]) == 0
    an = json.loads((tmp_path / "sw" / "analysis.json").read_text())
    assert an["members"] == 32 and an["margin"] == "σ_min(I − W)"
    assert an["outcome_counts"].get("crossed", 0) >= 1
