"""The CLI verbs that write files: ``flowdeq theory``, ``portrait`` and ``sweep`` (each a thin
layer over the library functions it names)."""
from __future__ import annotations

import json
import os

import numpy as np

from .. import _xr
from .._progress import report
from .._validate import check_size, output_dir
from ..analysis.geometry import chart, check_lim, field_on_grid
from ..dynamics.descent import gradient_descent
from ..dynamics.settings import DescentSettings, FlowSettings
from ..ensembles.chunk import DESCENT_KEYS, FLOW_KEYS
from ..ensembles.executors import get_executor
from ..ensembles.singularity import analyze_sweep
from ..ensembles.starts import axis, grid_starts, sample_starts
from ..ensembles.sweep import SWEEP_DEFAULTS, run_flow_grid, run_sweep
from ..plot.figures import draw_figure
from ..plot.portraits import default_limits, outcome_map_figure, phase_portrait
from ..plot.sweeps import write_analysis
from .config import TABLES, config_errors, load_config
from .jobs import write_summary

__all__ = ["cli_theory", "cli_portrait", "cli_sweep", "starts_from_table"]


def cli_theory(config_path, out) -> list[dict]:
    """``flowdeq theory CONFIG.toml --out DIR``: every Section 3 statement that applies to the
    config's model, checked along its runs → theory.json, theory.md, theory.png (one table;
    a statement that does not apply is a ``not applicable`` row with its reason)."""
    # import cost: scipy and diffrax load only for the verbs that use them (a GD sweep needs neither)
    from ..analysis.theory import _fmt, check_theorems, theory_markdown
    from ..plot.diagnostics import theory_figure  # import cost: matplotlib

    cfg = load_config(config_path)
    cfg.problem.check_theta(cfg.require_theta0("`flowdeq theory`"),
                            cfg.flow.get("singular_eps", FlowSettings.singular_eps),
                            name="config [init] theta0")
    if "t1" not in cfg.flow and not {"step_size", "steps"} <= set(cfg.descent):
        raise ValueError("config needs [flow] t1 or [descent] step_size and steps for "
                         "`flowdeq theory`: add the runs whose statements it should check.")
    output_dir(out)
    report("theory: the config's runs, every Section 3 statement that applies along them")
    name = os.path.basename(str(config_path))
    entries = check_theorems(cfg, progress=lambda msg: report(f"  … {msg}"))
    data = [e.to_dict() for e in entries]
    with open(os.path.join(out, "theory.json"), "w") as fh:
        json.dump(data, fh, indent=2)
    # the curves of the figure, so `flowdeq show` can re-draw it without recomputing
    np.savez(os.path.join(out, "theory_series.npz"),
             **{f"{k}_{i}": np.asarray(getattr(e, k), float) for i, e in enumerate(entries)
                for k in ("t", "observed", "bound") if getattr(e, k) is not None})
    with open(os.path.join(out, "theory.md"), "w") as fh:
        fh.write(theory_markdown(entries, name))
    draw_figure(out, "theory", lambda: theory_figure(entries, name)[0], dpi=120)
    for e in entries:
        where = "" if e.at is None else f" at {_fmt(e.at)}"
        print(f"{e.theorem:10s} {e.form:22s} {e.start:8s} {e.verdict:16s} "
              f"worst {_fmt(e.worst)}{where}")
    print(f"-> {out}/theory.json, theory.md, theory.png")
    return data


# ---------------------------------------------------------------- CLI verb
# a portrait draws paths, not numbers: looser tolerances and a denser save grid than
# FlowSettings' defaults, and a larger step budget for starts near ill-posedness;
# [flow]/[portrait] solver and max_steps replace them
PORTRAIT_FLOW = {"rtol": 1e-8, "atol": 1e-10, "n_save": 401, "max_steps": 20_000}
_PORTRAIT_KEYS = set(TABLES["portrait"])
# bytes one member of a sweep or basin map keeps (outcome label, times, margins, θ's)
_MEMBER_BYTES = lambda p: (4 * p + 10) * 8 + 64


def cli_portrait(config_path, out):
    """``flowdeq portrait CONFIG --out DIR``: portrait + basin map, PNG/PDF + npz/json.

    The field and the basin map are computed and written (field.npz, outcome_map.npz,
    summary.json) before either figure is drawn.  Without ``[init]`` no paths are drawn."""
    # import cost: diffrax only for the verbs that integrate flows (a GD sweep does not)
    from ..dynamics.flow import gradient_flow

    cfg = load_config(config_path)
    pt = cfg.table("portrait", _PORTRAIT_KEYS)
    problem = cfg.problem
    default_x, default_y = default_limits(problem)
    xlim = check_lim("config [portrait] xlim", pt.get("xlim", default_x))
    ylim = check_lim("config [portrait] ylim", pt.get("ylim", default_y))
    t1 = float(pt.get("t1", cfg.flow.get("t1", SWEEP_DEFAULTS["flow"]["t1"])))
    grid, nb = int(pt.get("grid", 41)), int(pt.get("basin_grid", 24))
    n, p = len(problem.w), problem.n_params
    # the field: ∇R at grid² points, each an equilibrium solve over the n data points
    check_size("config [portrait] grid", 16.0 * 8 * grid**2 * (n + p),
               f"{grid}² field points × {n} data points")
    check_size("config [portrait] basin_grid", 1.0 * nb**2 * _MEMBER_BYTES(p),
               f"{nb}² basin-map flows")
    picked = {k: v for k, v in cfg.flow.items() if k in ("solver", "max_steps")}
    picked |= {k: v for k, v in pt.items() if k in ("solver", "max_steps")}
    with config_errors("portrait"):
        fs = FlowSettings.build(FlowSettings.build(**PORTRAIT_FLOW), t1=t1, **picked)
    th0 = None if cfg.theta0 is None else np.atleast_2d(cfg.theta0)
    run_gd = th0 is not None and "step_size" in cfg.descent and "steps" in cfg.descent
    if th0 is not None:
        problem.check_theta(th0, fs.singular_eps, name="config [init] theta0")
    output_dir(out)
    solve = {"solver": fs.solver, "max_steps": fs.max_steps}
    report(f"portrait: {0 if th0 is None else len(th0)} flow path(s)"
           + (" and GD" if run_gd else ""))
    flows = [] if th0 is None else [gradient_flow(problem, th0, settings=fs)]
    descents = [gradient_descent(problem, th0, cfg.descent["step_size"], cfg.descent["steps"])
                ] if run_gd else []
    # the paths drawn, kept so `flowdeq show` can re-draw the portrait without recomputing
    for name, trajs in (("flow_paths.npz", flows), ("descent_paths.npz", descents)):
        if trajs:
            trajs[0].save(os.path.join(out, name))
    report(f"portrait: the field −∇R on a {grid}×{grid} grid")
    S, T2, U, V = field_on_grid(problem, xlim, ylim, grid)
    np.savez(os.path.join(out, "field.npz"), s=S, theta2=T2, u=U, v=V)
    xs = np.linspace(*xlim, nb)
    ys = np.linspace(*ylim, nb)
    report(f"portrait: basin map, {nb}×{nb} flows to t = {t1:g}")
    res = run_flow_grid(problem, xs, ys, t1, **solve)
    np.savez(os.path.join(out, "outcome_map.npz"), xs=xs, ys=ys, **res)
    labels, counts = np.unique(res["outcome"], return_counts=True)
    summary = {"config": str(config_path), "xlim": xlim, "ylim": ylim, "t1": t1,
               "outcome_counts": {str(k): int(v) for k, v in zip(labels, counts)},
               "flow_outcomes": flows[0].outcome_counts() if flows else None,
               "descent_outcomes": descents[0].outcome_counts() if descents else None}
    write_summary(out, summary)
    # figures last: one that cannot be drawn is a FigureWarning, the data above kept
    draw_figure(out, "portrait", lambda: phase_portrait(
        problem, xlim, ylim, grid, flows=flows, descents=descents,
        density=float(pt.get("density", 1.2)), field=(S, T2, U, V))[0])
    draw_figure(out, "outcome_map", lambda: outcome_map_figure(
        xs, ys, res["outcome"], res["event_time"], xlabel=f"{chart(problem).labels[0]}(0)",
        ylabel=f"{chart(problem).labels[1]}(0)",
        title=f"gradient-flow outcome map (t ≤ {t1:g})")[0])
    return summary


# ------------------------------------------------------------------ CLI verb
_SWEEP_KEYS = set(TABLES["sweep"])
# what each kind of sweep reads from [sweep]; the rest of the kind's keys is an error there
_FLOW_ONLY = FLOW_KEYS - DESCENT_KEYS
_DESCENT_ONLY = {"step_sizes", "steps"}


def _sweep_size(sw, cfg_theta0):
    """(number of starts, the key that sets it), read off the table before building them."""
    if "theta1" in sw and "theta2" in sw:
        return int(sw["theta1"][2]) * int(sw["theta2"][2]), "config [sweep] theta1/theta2 counts"
    if "sample" in sw:
        return int(sw["sample"].get("count", 64)), "config [sweep.sample] count"
    return (0 if cfg_theta0 is None else len(np.atleast_2d(cfg_theta0))), "config [init]"


def starts_from_table(problem, sw, cfg_theta0=None):
    grid = [k for k in ("theta1", "theta2") if k in sw]
    if grid and "sample" in sw:
        raise ValueError("config [sweep] gives a theta1/theta2 grid and a [sweep.sample] table: "
                         "keep one.")
    if grid:
        if len(grid) < 2:
            raise ValueError("config [sweep] needs both `theta1` and `theta2` = [low, high, count] "
                             "for a grid.")
        return grid_starts(problem, sw["theta1"], sw["theta2"])
    if "sample" in sw:
        smp = sw["sample"]
        with config_errors("sweep.sample"):
            return sample_starts(problem, smp.get("mean", 0.0), smp.get("std", 0.1),
                                 smp.get("count", 64), smp.get("seed", 0))
    if cfg_theta0 is not None:
        return np.atleast_2d(cfg_theta0)
    raise ValueError("config [sweep] needs `theta1`/`theta2` grids, a `sample` table, or [init].")


def cli_sweep(config_path, out, resume: bool = False, scheduler: str | None = None,
              netcdf: bool = False):
    """``flowdeq sweep CONFIG --out DIR [--resume] [--scheduler tcp://HOST:PORT | local:N]
    [--netcdf]``: sweep + singularity analysis files; with a scheduler the chunks run on Dask;
    ``netcdf`` also writes ``sweep.nc`` (:meth:`SweepResult.to_xarray`)."""
    if netcdf:  # a missing extra is bad input: refused before anything runs
        _xr.require("flowdeq sweep --netcdf")
    if scheduler:
        # fail fast (before building the problem) on a bad address or a missing extra
        executor, _ = get_executor(scheduler)
    else:
        executor = None
    try:
        return _cli_sweep(config_path, out, resume, executor, netcdf)
    finally:
        if executor is not None:
            executor.close()


def _cli_sweep(config_path, out, resume, executor, netcdf=False):
    cfg = load_config(config_path)
    sw = cfg.table("sweep", _SWEEP_KEYS)
    kind = sw.get("kind", "flow")
    unused = sorted(set(sw) & (_DESCENT_ONLY if kind == "flow" else _FLOW_ONLY))
    if unused:
        raise ValueError(f"config [sweep] {unused[0]} is not used by kind = {kind!r}: remove it, "
                         f"or set kind = {'descent' if kind == 'flow' else 'flow'!r}.")
    if kind == "flow":
        settings = {k: v for k, v in {**cfg.flow, **sw}.items() if k in FLOW_KEYS}
        etas = None
        with config_errors("sweep"):
            FlowSettings.build(**{**SWEEP_DEFAULTS["flow"], **settings})
    else:
        settings = {k: v for k, v in {**cfg.descent, **sw}.items() if k in DESCENT_KEYS}
        etas = sw.get("step_sizes", cfg.descent.get("step_size"))
        if etas is None:
            raise ValueError("config [sweep] kind = \"descent\" needs step_sizes = [...] (or "
                             "[descent] step_size).")
        with config_errors("sweep"):
            DescentSettings.build(step_size=etas, **{**SWEEP_DEFAULTS["descent"], **settings})
    n, key = _sweep_size(sw, cfg.theta0)
    members = n * (1 if etas is None else np.size(etas))
    p = cfg.problem.n_params
    # the starts, then the merged per-member result, checked before either is built
    check_size(key, 8.0 * n * p + 2.0 * members * _MEMBER_BYTES(p),
               f"{members} members" + ("" if etas is None else f" ({n} starts × {np.size(etas)} η)"))
    starts = starts_from_table(cfg.problem, sw, cfg.theta0)
    grid = None
    if "theta1" in sw:
        grid = (axis("theta1", sw["theta1"]), axis("theta2", sw["theta2"]))
    output_dir(out)
    report(f"sweep: {members} {kind} member(s) in chunks of {int(sw.get('chunk_size', 64))}"
           + (" (resuming)" if resume else ""))
    res = run_sweep(cfg.problem, starts, out, kind=kind, step_sizes=etas, settings=settings,
                    chunk_size=int(sw.get("chunk_size", 64)), resume=resume, executor=executor,
                    grid=grid)
    if netcdf:
        report(f"sweep: writing {os.path.join(out, 'sweep.nc')}")
        res.to_netcdf(os.path.join(out, "sweep.nc"))
    report("sweep: singularity analysis and figures")
    an = analyze_sweep(cfg.problem, res, grid=grid)
    write_analysis(an, out, problem=cfg.problem)
    return an["summary"]
