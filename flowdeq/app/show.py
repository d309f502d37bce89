"""``flowdeq show DIR`` and ``flowdeq export DIR``: read a results directory back, compute nothing.

``show`` prints the run's provenance (``run.json``: verb, end state, command, config and
its sha256, seeds, versions, float64, platform, git commit) and its summary, then re-draws
its figures from the data files the verb saved, into ``DIR/redrawn`` (or ``--out``), never
over the originals:

==========  ==================================================================================
flow        figure.png from trajectory.npz
descend     figure.png from trajectory.npz
theory      theory.png from theory.json and theory_series.npz
portrait    portrait.png/pdf from field.npz and flow_paths.npz / descent_paths.npz;
            outcome_map.png/pdf from outcome_map.npz
sweep       the singularity-analysis figures from the verified chunks (``load_sweep``)
study       by a study's own ``redraw(dir, out)`` where it has one (``paper`` does)
==========  ==================================================================================

The problem is rebuilt from the config text kept in run.json (cheap: no flow is run) where a
figure draws the model's landmarks; if that fails (a data file moved) those figures are
skipped with a warning.  ``export`` writes the same data as netCDF (``--netcdf``).
"""
from __future__ import annotations

import json
import os
import tomllib
import warnings

import numpy as np

from .. import _xr
from ..analysis.geometry import chart
from ..analysis.theory import BoundCheck
from ..dynamics.trajectory import FORMAT as TRAJECTORY_FORMAT, Trajectory
from ..ensembles.singularity import analyze_sweep
from ..ensembles.sweep import load_sweep
from ..io import read_run_json
from ..plot.diagnostics import theory_figure
from ..plot.figures import draw_figure, quick_figure
from ..plot.portraits import outcome_map_figure, phase_portrait
from ..plot.sweeps import write_analysis
from .config import parse_config
from .studies import STUDIES, _module as _study_module

__all__ = ["cli_show", "cli_export", "redraw", "format_provenance"]

_VERSIONS = ("flowdeq", "jax", "jaxlib", "diffrax", "equinox", "optimistix", "numpy", "scipy")


def _results_dir(path) -> str:
    path = os.fspath(path)
    if not os.path.isdir(path):
        raise ValueError(f"{path} is not a directory: give a results directory written by flowdeq.")
    return path


def format_provenance(rec: dict | None) -> list[str]:
    """The lines ``flowdeq show`` prints for a run record."""
    if rec is None:
        return ["provenance: no run.json (written before flowdeq 0.3, or not by the flowdeq "
                "command)"]
    v = rec.get("versions", {})
    plat = rec.get("platform", {})
    git = rec.get("git")
    cfg = rec.get("config")
    lines = [f"run: flowdeq {rec.get('verb', '?')} — {rec.get('status', '?')} "
             f"(exit {rec.get('exit_code', '?')})"
             + (f": {rec['error']}" if rec.get("error") else ""),
             f"  command   {' '.join(rec.get('command', {}).get('argv', []))}",
             f"  started   {rec.get('started')}   finished {rec.get('finished')}   "
             f"({rec.get('wall_seconds', float('nan')):.1f} s)"]
    if cfg:
        lines.append(f"  config    {cfg.get('path')}  sha256 {str(cfg.get('sha256'))[:16]}…")
    if rec.get("seeds"):
        lines.append("  seeds     " + ", ".join(f"{k} = {s}" for k, s in rec["seeds"].items()))
    lines.append("  versions  " + ", ".join(f"{k} {v.get(k)}" for k in _VERSIONS if k in v))
    lines.append(f"  float64   {'on' if rec.get('x64') else 'OFF'}   platform "
                 f"{plat.get('system')} {plat.get('machine')}, JAX backend "
                 f"{plat.get('jax_backend')}, python {v.get('python')}")
    lines.append("  git       " + ("not run from a checkout" if not git else
                                   f"{git.get('commit')}" + (" (uncommitted changes)"
                                                             if git.get("dirty") else "")))
    if rec.get("history"):
        lines.append(f"  history   {len(rec['history'])} earlier run(s) into this directory: "
                     + ", ".join(f"{h.get('status')} {h.get('started')}" for h in rec["history"]))
    return lines


def _summary_lines(path) -> list[str]:
    md = os.path.join(path, "summary.md")
    if os.path.exists(md):
        with open(md, encoding="utf-8") as fh:
            return ["", *fh.read().rstrip().splitlines()]
    for name in ("summary.json", "analysis.json"):
        f = os.path.join(path, name)
        if os.path.exists(f):
            with open(f, encoding="utf-8") as fh:
                data = json.load(fh)
            if not isinstance(data, dict):
                data = {"entries": data}
            text = [f"  {k}: {json.dumps(v, ensure_ascii=False)}" for k, v in data.items()]
            return ["", f"{name}:", *(t if len(t) <= 110 else t[:109] + "…" for t in text)]
    return []


def _verb(path, rec) -> str | None:
    if rec and rec.get("verb"):
        return rec["verb"]
    files = set(os.listdir(path))
    for verb, marker in (("sweep", "manifest.json"), ("portrait", "field.npz"),
                         ("theory", "theory.json"), ("flow", "trajectory.npz")):
        if marker in files:
            return verb
    return None


def _problem(rec):
    """The run's Problem rebuilt from the config text kept in run.json (nothing is run)."""
    cfg = (rec or {}).get("config")
    if not cfg or "text" not in cfg:
        raise ValueError("run.json keeps no config")
    return parse_config(tomllib.loads(cfg["text"]), os.path.dirname(cfg["path"]),
                        source=cfg["path"])


def redraw(path, out=None) -> list[str]:
    """Re-draw the figures of results directory ``path`` into ``out`` (default
    ``path/redrawn``) from its saved data; returns the files written."""
    path = _results_dir(path)
    out = out or os.path.join(path, "redrawn")
    rec = read_run_json(path, missing_ok=True)
    verb = _verb(path, rec)
    os.makedirs(out, exist_ok=True)
    files = []

    def figure(name, draw, **kw):
        p = draw_figure(out, name, draw, **kw)
        if p:
            files.append(p)

    def needs_problem(what):
        try:
            return _problem(rec)
        except (ValueError, OSError, tomllib.TOMLDecodeError) as err:
            warnings.warn(f"{what} not re-drawn: the problem cannot be rebuilt from run.json "
                          f"({str(err).splitlines()[0]}).", UserWarning, stacklevel=3)
            return None

    if verb in ("flow", "descend"):
        traj = Trajectory.load(os.path.join(path, "trajectory.npz"))
        src = os.path.basename(str(((rec or {}).get("config") or {}).get("path", "")))
        label = "gradient flow" if traj.kind == "flow" else "gradient descent"
        figure("figure", lambda: quick_figure(traj, title=f"{label}: {src}")[0], exts=("png",),
               dpi=120)
    elif verb == "theory":
        with open(os.path.join(path, "theory.json"), encoding="utf-8") as fh:
            data = json.load(fh)
        with np.load(os.path.join(path, "theory_series.npz")) as z:
            series = {k: z[k] for k in z.files}
        entries = [BoundCheck(theorem=d["theorem"], form=d["form"], quantity=d["quantity"],
                              hypotheses=d["hypotheses"], verdict=d["verdict"],
                              reason=d.get("reason", ""), met=d["holds"], worst=d["max_ratio"],
                              at=d.get("at"), resolution=d.get("resolution", ""),
                              fitted_rate=d["fitted_rate"],
                              bound_rate=d["bound_rate"], constants=d["constants"],
                              errata=d.get("errata", ""), start=d.get("start", "config"),
                              theta0=d.get("theta0", []), note=d.get("note", ""),
                              kind=d.get("run", "flow"),
                              **{k: series.get(f"{k}_{i}") for k in ("t", "observed", "bound")})
                   for i, d in enumerate(data)]
        src = os.path.basename(str(((rec or {}).get("config") or {}).get("path", "")))
        figure("theory", lambda: theory_figure(entries, src)[0], exts=("png",), dpi=120)
    elif verb == "portrait":
        cfg = needs_problem("portrait.png")
        with np.load(os.path.join(path, "field.npz")) as z:
            field = (z["s"], z["theta2"], z["u"], z["v"])
        with np.load(os.path.join(path, "outcome_map.npz")) as z:
            om = {k: z[k] for k in z.files}
        summ = _json(os.path.join(path, "summary.json"))
        if cfg is not None:
            S = field[0]
            paths = {k: Trajectory.load(os.path.join(path, f"{k}_paths.npz"))
                     for k in ("flow", "descent") if os.path.exists(os.path.join(path, f"{k}_paths.npz"))}
            density = float(cfg.raw.get("portrait", {}).get("density", 1.2))
            figure("portrait", lambda: phase_portrait(
                cfg.problem, summ["xlim"], summ["ylim"], S.shape[0],
                flows=[paths["flow"]] if "flow" in paths else [],
                descents=[paths["descent"]] if "descent" in paths else [], density=density,
                field=field)[0])
            labels = chart(cfg.problem).labels
        else:
            labels = ("θ₁", "θ₂")
        figure("outcome_map", lambda: outcome_map_figure(
            om["xs"], om["ys"], om["outcome"], om["event_time"], xlabel=f"{labels[0]}(0)",
            ylabel=f"{labels[1]}(0)", title=f"gradient-flow outcome map (t ≤ {summ['t1']:g})")[0])
    elif verb == "sweep":
        res = load_sweep(path)
        cfg = needs_problem("the sweep's figures")
        if cfg is not None:
            grid = None if res.grid is None else (np.asarray(res.grid["s"]),
                                                  np.asarray(res.grid["t"]))
            an = analyze_sweep(cfg.problem, res, grid=grid)
            files += write_analysis(an, out, problem=cfg.problem)
    elif verb == "study":
        name = ((rec or {}).get("options") or {}).get("name")
        mod = _study_module(name) if name in STUDIES else None
        if mod is None or not hasattr(mod, "redraw"):
            warnings.warn(f"study {name!r} keeps no figure data: its figures are not re-drawn "
                          "(they are in the directory as PNG and PDF).", UserWarning, stacklevel=2)
        else:
            files += mod.redraw(path, out)
    else:
        raise ValueError(f"{path} holds no flowdeq results flowdeq show can read (no run.json, "
                         "trajectory.npz, manifest.json, field.npz or theory.json).")
    return files


def _json(path):
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def cli_show(path, out=None, figures: bool = True) -> dict:
    """``flowdeq show DIR [-o OUT] [--no-figures]``."""
    path = _results_dir(path)
    rec = read_run_json(path, missing_ok=True)
    lines = [f"flowdeq show {path}", *format_provenance(rec), *_summary_lines(path)]
    print("\n".join(lines))
    files = []
    if figures:
        files = redraw(path, out)
        if files:
            print(f"\nre-drawn from the saved data ({len(files)} figure(s)) -> "
                  f"{os.path.dirname(files[0])}")
    return {"run": rec, "figures": files}


# ------------------------------------------------------------------ export
def _grid_dataset(xr, z, names, attrs):
    """A portrait's map (arrays over the chart grid) as a gridded Dataset."""
    xs, ys = names
    return xr.Dataset({k: (("theta2", "theta1") + tuple(f"{k}_dim{i}" for i in range(z[k].ndim - 2)),
                           z[k]) for k in z if k not in ("xs", "ys", "s", "theta2") and z[k].ndim >= 2},
                      coords={"theta1": ("theta1", xs), "theta2": ("theta2", ys)}, attrs=attrs)


def cli_export(path, out=None, netcdf: bool = False) -> list[str]:
    """``flowdeq export DIR --netcdf [-o OUT]``: every flowdeq data file of DIR as netCDF."""
    path = _results_dir(path)
    if not netcdf:
        raise ValueError("flowdeq export needs a format: give --netcdf.")
    _xr.require("flowdeq export --netcdf")
    xr = _xr.xarray()
    out = out or path
    os.makedirs(out, exist_ok=True)
    written = []
    if os.path.exists(os.path.join(path, "manifest.json")):
        written.append(load_sweep(path).to_netcdf(os.path.join(out, "sweep.nc")))
    for name in sorted(os.listdir(path)):
        full = os.path.join(path, name)
        if not name.endswith(".npz") or name.startswith("chunk_"):
            continue
        with np.load(full, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        meta = arrays.get("meta")
        target = os.path.join(out, name[:-4] + ".nc")
        if meta is not None and json.loads(str(meta)).get("format") == TRAJECTORY_FORMAT:
            written.append(Trajectory.load(full).to_netcdf(target))
        elif name == "outcome_map.npz":
            ds = _grid_dataset(xr, arrays, (arrays["xs"], arrays["ys"]),
                               {"flowdeq_format": "flowdeq-outcome-map/1"})
            written.append(_xr.to_netcdf(ds, target))
        elif name == "field.npz":
            ds = _grid_dataset(xr, arrays, (arrays["s"][0], arrays["theta2"][:, 0]),
                               {"flowdeq_format": "flowdeq-field/1",
                                "description": "u, v: −∇R in chart coordinates"})
            written.append(_xr.to_netcdf(ds, target))
    if not written:
        raise ValueError(f"{path} holds no flowdeq data files to export (a sweep's manifest.json, "
                         "trajectory .npz files, field.npz or outcome_map.npz).")
    for w in written:
        print(f"export: {w}")
    return written
