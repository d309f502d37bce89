"""Results a researcher can open anywhere (issue 15): labelled Datasets and netCDF, progress on
stderr only, run.json provenance, `flowdeq show` / `export`, and the CLI's conventions.

Everything runs GD on the linear DEQ (compiles in about a second) or reads the committed
fixture trajectories, so the file adds little to the suite; references are the npz files
and the flat sweep results these views are built from, compared exactly.
"""
import io
import json
import os
import re
import sys

import numpy as np
import pytest

import flowdeq as fd
from flowdeq import _progress
from flowdeq.app.cli import EXAMPLES, _parser, main
from flowdeq.app.show import redraw
from flowdeq.ensembles.starts import axis
from flowdeq.ensembles.sweep import grid_starts, load_sweep, run_sweep, sample_starts
from flowdeq.io import VERSIONED, provenance

xr = pytest.importorskip("xarray", reason="the xarray extra")  # CI installs it (.ci/run)

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")
CONFIG = """
[model]
kind = "linear"
[target]
xi = [2.0]
[data]
law = "uniform"
dim = 1
rule = "monte-carlo"
samples = 50
seed = 7
[init]
theta0 = [0.1, 0.5]
[descent]
step_size = 0.1
steps = 20
[sweep]
kind = "descent"
theta1 = [-1.0, 1.0, 3]
theta2 = [-0.5, 0.5, 2]
step_sizes = [0.5]
steps = 15
chunk_size = 4
"""


@pytest.fixture(scope="module")
def problem():
    return fd.Problem(fd.LinearDEQ(1), fd.LinearTarget([2.0]), fd.Uniform(0.0, 1.0, 1, nodes=8))


@pytest.fixture(autouse=True)
def _auto_progress():
    old = _progress.configure("auto")  # the CLI sets the mode per run; reset it around each test
    yield
    _progress.configure(old)


def _config(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text(CONFIG)
    return str(p)


def _same_traj(a, b):
    for k in ("t", "theta", "risk", "grad_norm", "valid", "event_time", "event_step"):
        np.testing.assert_array_equal(np.asarray(getattr(a, k)), np.asarray(getattr(b, k)), k)
    np.testing.assert_array_equal(np.asarray(a.outcome), np.asarray(b.outcome))
    assert a.kind == b.kind and a.settings == b.settings
    assert set(a.stats) == set(b.stats) and set(a.per_member) == set(b.per_member)
    for k in a.stats:
        np.testing.assert_array_equal(np.asarray(a.stats[k]), np.asarray(b.stats[k]), k)
    for k in a.per_member:
        np.testing.assert_array_equal(np.asarray(a.per_member[k]), np.asarray(b.per_member[k]), k)


# ------------------------------------------------------------------ labelled datasets
@pytest.mark.parametrize("name", sorted(os.listdir(FIXTURES)))
def test_trajectory_npz_dataset_netcdf_round_trip(name, tmp_path):
    traj = fd.Trajectory.load(os.path.join(FIXTURES, name))
    ds = traj.to_xarray()
    tname = "time" if traj.kind == "flow" else "step"
    assert tname in ds.coords and "param" in ds.coords
    np.testing.assert_array_equal(ds["theta"].values, traj.theta)
    assert json.loads(ds.attrs["settings"]) == json.loads(json.dumps(traj.settings))
    back = xr.open_dataset(traj.to_netcdf(tmp_path / "t.nc"), engine="h5netcdf").load()
    assert back.identical(ds)
    _same_traj(traj, fd.Trajectory.from_xarray(back))


def test_batch_trajectory_round_trip_and_labels(problem, tmp_path):
    traj = fd.gradient_descent(problem, [[0.1, 0.5], [1.0, 2.0]], [0.1, 0.9], 25)
    ds = traj.to_xarray()
    assert ds.sizes["member"] == 4 and list(ds["param"].values) == traj.param_names()
    np.testing.assert_array_equal(ds["step_size"].values, traj.per_member["step_size"])
    # member 3's points, selected by label, are traj[3]'s
    m = ds.isel(member=3).where(ds.isel(member=3).valid, drop=True)
    np.testing.assert_array_equal(m["theta"].values, traj[3].theta)
    back = xr.open_dataset(traj.to_netcdf(tmp_path / "b.nc"), engine="h5netcdf")
    _same_traj(traj, fd.Trajectory.from_xarray(back))
    with pytest.raises(ValueError, match="to_xarray"):
        fd.Trajectory.from_xarray(xr.Dataset())


@pytest.fixture(scope="module")
def grid_sweep(problem, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("sweep") / "s")
    ax1, ax2 = (-1.5, 1.5, 4), (-0.8, 2.2, 3)
    st = grid_starts(problem, ax1, ax2)
    res = run_sweep(problem, st, out, kind="descent", step_sizes=[0.05, 0.8],
                    settings={"steps": 30}, chunk_size=5, progress=False,
                    grid=(axis("theta1", ax1), axis("theta2", ax2)))
    return out, res, axis("theta1", ax1), axis("theta2", ax2)


def test_gridded_sweep_dataset_matches_the_flat_results(grid_sweep, tmp_path):
    out, res, xs, ys = grid_sweep
    ds = load_sweep(out).to_xarray()
    assert ds["outcome"].dims == ("step_size", "theta2", "theta1")
    n = len(xs) * len(ys)
    for e, eta in enumerate([0.05, 0.8]):
        for i, t2 in enumerate(ys):
            for j, t1 in enumerate(xs):
                k = e * n + i * len(xs) + j  # η-major, then row-major over (θ₂, θ₁)
                cell = ds.sel(step_size=eta, theta1=t1, theta2=t2)
                assert cell["outcome"].item() == res["outcome"][k]
                np.testing.assert_array_equal(cell["theta_final"].values, res["theta_final"][k])
                np.testing.assert_array_equal(cell["theta0"].values, res["starts"][k % n])
                for v in ("event_step", "risk_final", "min_margin"):
                    np.testing.assert_array_equal(cell[v].values, res[v][k], err_msg=v)
    assert json.loads(ds.attrs["spec"])["kind"] == "descent"
    back = xr.open_dataset(load_sweep(out).to_netcdf(tmp_path / "s.nc"), engine="h5netcdf").load()
    assert back.identical(ds)


def test_flat_sweep_has_a_member_dimension(problem):
    st = sample_starts(problem, [0.0, 0.0], 0.3, 5, seed=1)
    res = run_sweep(problem, st, None, kind="descent", step_sizes=[0.1], settings={"steps": 10},
                    chunk_size=5, progress=False)
    ds = res.to_xarray()
    assert ds["outcome"].dims == ("step_size", "member")
    np.testing.assert_array_equal(ds["outcome"].values[0], res["outcome"])
    np.testing.assert_array_equal(ds["theta0"].values, st)


def test_a_grid_record_that_does_not_match_the_starts_is_refused(grid_sweep, tmp_path):
    import shutil

    out = str(tmp_path / "copy")
    shutil.copytree(grid_sweep[0], out)
    man = os.path.join(out, "manifest.json")
    m = json.load(open(man))
    m["grid"]["s"][0] += 1e-9
    json.dump(m, open(man, "w"))
    with pytest.raises(ValueError, match="grid that does not match"):
        load_sweep(out)


def test_missing_xarray_is_one_line_naming_the_extra(problem, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "xarray", None)  # import xarray → ImportError
    traj = fd.Trajectory.load(os.path.join(FIXTURES, sorted(os.listdir(FIXTURES))[0]))
    with pytest.raises(ValueError, match=r'pip install "flowdeq\[xarray\]"'):
        traj.to_xarray()
    out = tmp_path / "o"
    assert main(["sweep", _config(tmp_path), "-o", str(out), "--netcdf"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "xarray extra" in err and not out.exists()


# ------------------------------------------------------------------ progress
def test_progress_goes_to_stderr_only_and_quiet_silences_it(tmp_path, capsys):
    cfg = _config(tmp_path)
    assert main(["sweep", cfg, "-o", str(tmp_path / "a"), "--progress"]) == 0
    cap = capsys.readouterr()
    assert "flowdeq: sweep:" in cap.err and "chunk" in cap.err  # stage lines and the tqdm bar
    assert "flowdeq:" not in cap.out and "chunk/s" not in cap.out and "%|" not in cap.out
    assert main(["descend", cfg, "-o", str(tmp_path / "b"), "--quiet", "--progress"]) == 2
    capsys.readouterr()
    assert main(["descend", cfg, "-o", str(tmp_path / "b"), "--quiet"]) == 0
    assert capsys.readouterr().err == ""
    # the default: off when stderr is not a terminal (capsys's is not)
    assert main(["descend", cfg, "-o", str(tmp_path / "c")]) == 0
    cap = capsys.readouterr()
    assert cap.err == "" and cap.out.startswith("descend: outcome")


def test_progress_modes(problem):
    class Tty(io.StringIO):
        def isatty(self):
            return True

    st = grid_starts(problem, (-1, 1, 2), (-0.5, 0.5, 2))
    for mode, stream, shown in (("auto", Tty(), True), ("auto", io.StringIO(), False),
                                ("on", io.StringIO(), True), ("off", Tty(), False)):
        _progress.configure(mode)
        _progress.report("stage", stream=stream)
        with _progress.bar(3, "x", stream=stream) as b:
            b.update(3)
        assert ("flowdeq: stage" in stream.getvalue()) == shown, mode
        assert ("3/3" in stream.getvalue()) == shown, mode
    _progress.configure("off")
    sink = io.StringIO()  # an explicit stream is an explicit request
    run_sweep(problem, st, None, kind="descent", step_sizes=[0.1], settings={"steps": 5},
              chunk_size=2, progress=sink)
    assert "2/2" in sink.getvalue()
    with pytest.raises(ValueError, match="progress mode"):
        _progress.configure("loud")


# ------------------------------------------------------------------ provenance
RUN_FIELDS = {"format", "command", "versions", "x64", "platform", "git", "environment", "config",
              "seeds", "run_id", "verb", "options", "status", "exit_code", "error", "started",
              "finished", "wall_seconds"}


def test_run_json_has_every_field(tmp_path):
    cfg = _config(tmp_path)
    out = tmp_path / "r"
    assert main(["descend", cfg, "-o", str(out), "-q"]) == 0
    rec = json.loads((out / "run.json").read_text())
    assert RUN_FIELDS <= set(rec)
    for pkg in ("flowdeq", "jax", "jaxlib", "diffrax", "equinox", "optimistix", "numpy", "scipy"):
        assert re.match(r"\d+\.\d+", rec["versions"][pkg]), pkg
    assert rec["versions"]["flowdeq"] == fd.__version__ and rec["x64"] is True
    assert rec["status"] == "ok" and rec["exit_code"] == 0 and rec["error"] is None
    assert rec["command"]["argv"] == ["flowdeq", "descend", cfg, "-o", str(out), "-q"]
    assert rec["config"]["text"] == CONFIG and rec["seeds"] == {"data.seed": 7}
    import hashlib
    assert rec["config"]["sha256"] == hashlib.sha256(CONFIG.encode()).hexdigest()
    assert rec["started"] < rec["finished"] and rec["wall_seconds"] > 0
    assert rec["platform"]["jax_backend"] == "cpu" or rec["platform"]["jax_backend"]
    if rec["git"] is not None:  # run from a checkout (CI clones one)
        assert re.fullmatch(r"[0-9a-f]{40}", rec["git"]["commit"])
    # a second run into the same directory keeps the first in its history
    assert main(["descend", cfg, "-o", str(out), "-q"]) == 0
    rec2 = json.loads((out / "run.json").read_text())
    assert rec2["history"][0]["run_id"] == rec["run_id"] != rec2["run_id"]
    assert set(provenance()) >= {"versions", "x64", "platform", "git"}
    assert set(VERSIONED) <= set(provenance()["versions"])


def test_failed_and_interrupted_runs_record_their_end(tmp_path, monkeypatch, capsys):
    cfg = _config(tmp_path)

    def dies(exc):
        def job(cfg, out, **kw):
            os.makedirs(out, exist_ok=True)
            raise exc
        return job

    monkeypatch.setattr("flowdeq.app.jobs.descend_job", dies(KeyboardInterrupt()))
    assert main(["descend", cfg, "-o", str(tmp_path / "i")]) == 130
    rec = json.loads((tmp_path / "i" / "run.json").read_text())
    assert rec["status"] == "interrupted" and rec["exit_code"] == 130
    monkeypatch.setattr("flowdeq.app.jobs.descend_job", dies(RuntimeError("a bug")))
    assert main(["descend", cfg, "-o", str(tmp_path / "f")]) == 1
    err = capsys.readouterr().err
    assert "flowdeq: error: run failed: RuntimeError: a bug" in err
    rec = json.loads((tmp_path / "f" / "run.json").read_text())
    assert rec["status"] == "failed" and "RuntimeError" in rec["traceback"]
    # bad input into an existing results directory leaves its run.json alone
    monkeypatch.undo()
    before = (tmp_path / "f" / "run.json").read_text()
    (tmp_path / "bad.toml").write_text(CONFIG.replace("steps = 20", "steps = -3"))
    assert main(["descend", str(tmp_path / "bad.toml"), "-o", str(tmp_path / "f")]) == 2
    assert (tmp_path / "f" / "run.json").read_text() == before


# ------------------------------------------------------------------ show and export
def test_show_redraws_the_saved_figures_without_recomputing(tmp_path, monkeypatch, capsys):
    cfg = _config(tmp_path)
    for verb in ("descend", "sweep"):
        assert main([verb, cfg, "-o", str(tmp_path / verb), "-q"]) == 0
    capsys.readouterr()

    def no(*a, **k):
        raise AssertionError("show must not recompute")

    for name in ("flowdeq.app.jobs.gradient_descent", "flowdeq.ensembles.chunk.gradient_descent",
                 "flowdeq.dynamics.flow.gradient_flow", "flowdeq.ensembles.executors.run_chunk"):
        monkeypatch.setattr(name, no)
    captured = []
    import flowdeq.app.show as show
    real = show.quick_figure
    monkeypatch.setattr(show, "quick_figure", lambda *a, **k: captured.append(real(*a, **k)) or
                        captured[-1])
    assert main(["show", str(tmp_path / "descend")]) == 0
    text = capsys.readouterr().out
    assert "run: flowdeq descend — ok (exit 0)" in text
    assert "seeds     data.seed = 7" in text and "float64   on" in text
    # the re-drawn figure plots exactly the saved risk curve ...
    traj = fd.Trajectory.load(tmp_path / "descend" / "trajectory.npz")
    line = captured[0][1][0].lines[0]
    np.testing.assert_array_equal(line.get_xdata(), traj.t)
    np.testing.assert_array_equal(line.get_ydata(), np.where(traj.risk > 0, traj.risk, np.nan))
    # ... and every re-drawn PNG is the original, byte for byte
    for verb in ("descend", "sweep"):
        files = redraw(tmp_path / verb, tmp_path / f"re-{verb}")
        assert files
        for f in files:
            if f.endswith(".png"):
                orig = tmp_path / verb / os.path.basename(f)
                assert open(f, "rb").read() == orig.read_bytes(), f


def test_export_writes_netcdf_that_xarray_reads_back_exactly(tmp_path, capsys):
    cfg = _config(tmp_path)
    out = tmp_path / "s"
    assert main(["sweep", cfg, "-o", str(out), "-q", "--netcdf"]) == 0
    ref = load_sweep(str(out)).to_xarray()
    assert xr.open_dataset(out / "sweep.nc", engine="h5netcdf").load().identical(ref)
    assert main(["export", str(out), "-o", str(tmp_path / "e"), "--netcdf"]) == 0
    assert xr.open_dataset(tmp_path / "e" / "sweep.nc").load().identical(ref)
    assert (tmp_path / "e" / "run.json").exists()  # -o given: the export's own provenance
    assert main(["export", str(out)]) == 2
    assert "give --netcdf" in capsys.readouterr().err


# ------------------------------------------------------------------ CLI conventions
def test_cli_conventions(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"flowdeq {fd.__version__}"
    sub = next(a for a in _parser()._actions if a.dest == "verb")
    for verb, parser in sub.choices.items():
        text = parser.format_help()
        assert "example:" in text and "--quiet" in text and "--progress" in text, verb
        if any("--out" in a.option_strings for a in parser._actions):
            assert any(a.option_strings[:2] == ["-o", "--out"] for a in parser._actions), verb
    assert set(EXAMPLES) >= set(sub.choices)
    assert main(["flow", "x.toml", "--quiet", "--progress", "-o", "d"]) == 2
    assert "not allowed with" in capsys.readouterr().err


def test_import_flowdeq_and_the_cli_load_no_xarray_or_tqdm():
    import subprocess

    code = ("import sys, flowdeq, flowdeq.app.cli, flowdeq.app.show, flowdeq.ensembles.sweep\n"
            "print([m for m in ('xarray', 'pandas', 'h5netcdf', 'netCDF4', 'tqdm') "
            "if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
