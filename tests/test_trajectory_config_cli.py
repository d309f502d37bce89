"""Trajectory save/load, TOML configs (including bad input) and the CLI verbs."""
import json

import numpy as np
import pytest

import flowdeq as fd
from flowdeq.cli import main
from flowdeq.config import load_config, parse_config
from flowdeq.descent import gradient_descent
from flowdeq.flow import gradient_flow
from flowdeq.trajectory import Trajectory


def _same(a: Trajectory, b: Trajectory):
    for k in ("t", "theta", "risk", "grad_norm", "valid"):
        np.testing.assert_array_equal(getattr(a, k), getattr(b, k))
    np.testing.assert_array_equal(np.asarray(a.outcome), np.asarray(b.outcome))
    np.testing.assert_array_equal(np.asarray(a.event_time), np.asarray(b.event_time))
    np.testing.assert_array_equal(np.asarray(a.event_step), np.asarray(b.event_step))
    assert a.settings == b.settings and a.kind == b.kind
    for k in a.stats:
        np.testing.assert_array_equal(np.asarray(a.stats[k]), np.asarray(b.stats[k]))


def test_save_load_round_trip(tmp_path, linear_1d):
    tr = gradient_flow(linear_1d, [0.1, 0.5], 2.0, singular_eps=0.3)
    _same(tr, Trajectory.load(tr.save(tmp_path / "a")))
    b = gradient_descent(linear_1d, np.array([[0.1, 0.5], [0.1, 0.9]]), [0.01, 1.0], 30)
    loaded = Trajectory.load(b.save(tmp_path / "b.npz"))
    _same(b, loaded)
    _same(b[3], loaded[3])
    with pytest.raises(ValueError, match="not a flowdeq trajectory"):
        (tmp_path / "junk.npz").write_bytes(b"junk")
        Trajectory.load(tmp_path / "junk.npz")


BASE = """
[model]
kind = "linear"
[target]
xi = [2.0]
[data]
law = "uniform"
nodes = 8
[init]
theta0 = [0.1, 0.5]
[flow]
t1 = 2.0
[descent]
step_size = 0.01
steps = 20
"""


def _write(tmp_path, text, name="c.toml"):
    p = tmp_path / name
    p.write_text(text)
    return p


@pytest.mark.parametrize("old,new,match", [
    ("theta0 = [0.1, 0.5]", "theta0 = [0.1, 1.0]", "θ₂ = 1"),
    ("theta0 = [0.1, 0.5]", "theta0 = [nan, 0.5]", "must be finite"),
    ("xi = [2.0]", "xi = [inf]", "must be finite"),
    ("t1 = 2.0", "t1 = nan", "must be finite"),
    ('kind = "linear"', 'kind = "single-index"\nactivation = "swish"', "unknown activation"),
    ('kind = "linear"', 'kind = "single-index"\nactivation = "sigmoid"', None),
    ('law = "uniform"', 'law = "gaussian"\nmean = [0.0]\ncov = [[-1.0]]', "positive semi-definite"),
    ('law = "uniform"', 'law = "empirical"\npath = "bad.csv"', "malformed data file"),
    ("nodes = 8", "nodes = 8\nbogus = 1", "unknown key"),
])
def test_config_errors(tmp_path, old, new, match):
    (tmp_path / "bad.csv").write_text("1,2\n3\n")
    text = BASE.replace(old, new)
    if match is None:  # a valid single-index config with a non-contractive start
        text = text.replace("theta0 = [0.1, 0.5]", "theta0 = [0.1, 4.5]")
        match = "not contractive"
    cfg_path = _write(tmp_path, text)
    with pytest.raises(ValueError, match=match):
        cfg = load_config(cfg_path)
        from flowdeq.jobs import flow_job
        flow_job(cfg, str(tmp_path / "out"))


def test_cli_reports_bad_input_cleanly(tmp_path, capsys):
    cfg = _write(tmp_path, BASE.replace("theta0 = [0.1, 0.5]", "theta0 = [0.1, 1.0]"))
    assert main(["flow", str(cfg), "--out", str(tmp_path / "o")]) == 2
    assert "θ₂ = 1" in capsys.readouterr().err


def test_cli_flow_and_descend_write_files(tmp_path):
    cfg = _write(tmp_path, BASE)
    for verb in ("flow", "descend"):
        out = tmp_path / verb
        assert main([verb, str(cfg), "--out", str(out)]) == 0
        summary = json.loads((out / "summary.json").read_text())
        for key in ("outcome", "theta_final", "risk_final", "wall_seconds"):
            assert key in summary
        assert ("event_time" in summary) if verb == "flow" else ("event_step" in summary)
        assert (out / "figure.png").stat().st_size > 1000
        tr = Trajectory.load(out / "trajectory.npz")
        assert tr.settings["config"]["init"]["theta0"] == [0.1, 0.5]
    # the flow's answer matches a direct library call
    direct = gradient_flow(load_config(cfg).problem, [0.1, 0.5], 2.0)
    np.testing.assert_allclose(Trajectory.load(tmp_path / "flow" / "trajectory.npz").theta_final,
                               direct.theta_final, rtol=1e-12)


def test_shipped_configs_parse():
    import glob
    paths = sorted(glob.glob("data/configs/sec4*.toml"))
    assert len(paths) == 4
    for path in paths:
        cfg = load_config(path)
        assert cfg.theta0.shape == (2,)
        assert "t1" in cfg.flow and "steps" in cfg.descent
    sec42 = load_config("data/configs/sec42-sigmoid.toml")
    assert sec42.problem.X.shape == (1000, 1) and sec42.descent["steps"] == 4000


def test_init_draw_is_seeded():
    raw = {"model": {"kind": "linear"}, "target": {"xi": [2.0]}, "data": {"law": "uniform"},
           "init": {"mean": [0.0, 0.0], "std": 0.1, "seed": 1, "count": 5}}
    a, b = parse_config(raw).theta0, parse_config(raw).theta0
    np.testing.assert_array_equal(a, b)
    assert a.shape == (5, 2) and np.std(a) < 0.5
