"""The CLI verbs that write files: ``flowdeq theory``, ``portrait`` and ``sweep`` (each a thin
layer over the library functions it names)."""
from __future__ import annotations

import json
import os

import matplotlib.pyplot as plt
import numpy as np

from ..analysis.geometry import chart, check_lim, field_on_grid
from ..analysis.theory import _fmt, check_theorems, theory_markdown
from ..dynamics.descent import gradient_descent
from ..dynamics.flow import gradient_flow
from ..dynamics.settings import FlowSettings
from ..ensembles.chunk import DESCENT_KEYS, FLOW_KEYS
from ..ensembles.executors import get_executor
from ..ensembles.singularity import analyze_sweep
from ..ensembles.starts import axis, grid_starts, sample_starts
from ..ensembles.sweep import SWEEP_DEFAULTS, run_flow_grid, run_sweep
from ..plot.diagnostics import theory_figure
from ..plot.portraits import default_limits, outcome_map_figure, phase_portrait
from ..plot.sweeps import write_analysis
from .config import load_config
from .jobs import write_summary

__all__ = ["cli_theory", "cli_portrait", "cli_sweep", "starts_from_table"]


def cli_theory(config_path, out) -> list[dict]:
    """``flowdeq theory CONFIG.toml --out DIR``: writes theory.json, theory.md, theory.png."""
    cfg = load_config(config_path)
    entries = check_theorems(cfg)
    os.makedirs(out, exist_ok=True)
    data = [e.to_dict() for e in entries]
    with open(os.path.join(out, "theory.json"), "w") as fh:
        json.dump(data, fh, indent=2)
    name = os.path.basename(str(config_path))
    with open(os.path.join(out, "theory.md"), "w") as fh:
        fh.write(theory_markdown(entries, name))
    fig, _ = theory_figure(entries, name)
    fig.savefig(os.path.join(out, "theory.png"), dpi=120)
    plt.close(fig)
    for e in entries:
        print(f"Thm {e.theorem} {e.form:9s} {e.start:6s} {e.quantity:12s} hypotheses "
              f"{'hold' if e.hypotheses_hold else 'FAIL'}; bound "
              f"{'holds' if e.holds else 'VIOLATED'}; max ratio {_fmt(e.max_ratio)}; "
              f"rate ratio {_fmt(e.rate_ratio)}")
    print(f"-> {out}/theory.json, theory.md, theory.png")
    return data


# ---------------------------------------------------------------- CLI verb
# a portrait draws paths, not numbers: looser tolerances and a denser save grid than
# FlowSettings' defaults, and a larger step budget for starts near ill-posedness;
# [flow]/[portrait] solver and max_steps replace them
PORTRAIT_FLOW = {"rtol": 1e-8, "atol": 1e-10, "n_save": 401, "max_steps": 20_000}
_PORTRAIT_KEYS = {"xlim", "ylim", "grid", "basin_grid", "t1", "density", "solver", "max_steps"}


def cli_portrait(config_path, out):
    """``flowdeq portrait CONFIG --out DIR``: portrait + basin map, PNG/PDF + npz/json."""
    cfg = load_config(config_path)
    pt = cfg.table("portrait", _PORTRAIT_KEYS)
    problem = cfg.problem
    default_x, default_y = default_limits(problem)
    xlim = check_lim("[portrait] xlim", pt.get("xlim", default_x))
    ylim = check_lim("[portrait] ylim", pt.get("ylim", default_y))
    t1 = float(pt.get("t1", cfg.flow.get("t1", SWEEP_DEFAULTS["flow"]["t1"])))
    flows, descents = [], []
    th0 = np.atleast_2d(cfg.theta0)
    picked = {k: v for k, v in cfg.flow.items() if k in ("solver", "max_steps")}
    picked |= {k: v for k, v in pt.items() if k in ("solver", "max_steps")}
    fs = FlowSettings.build(FlowSettings.build(**PORTRAIT_FLOW), t1=t1, **picked)
    solve = {"solver": fs.solver, "max_steps": fs.max_steps}
    flows.append(gradient_flow(problem, th0, settings=fs))
    if "step_size" in cfg.descent and "steps" in cfg.descent:
        descents.append(gradient_descent(problem, th0, cfg.descent["step_size"],
                                         int(cfg.descent["steps"])))
    fig, ax = phase_portrait(problem, xlim, ylim, int(pt.get("grid", 41)), flows=flows,
                             descents=descents, density=float(pt.get("density", 1.2)))
    os.makedirs(out, exist_ok=True)
    for ext in ("png", "pdf"):
        fig.savefig(os.path.join(out, f"portrait.{ext}"), dpi=130)
    plt.close(fig)
    S, T2, U, V = field_on_grid(problem, xlim, ylim, int(pt.get("grid", 41)))
    np.savez(os.path.join(out, "field.npz"), s=S, theta2=T2, u=U, v=V)
    nb = int(pt.get("basin_grid", 24))
    xs = np.linspace(*xlim, nb)
    ys = np.linspace(*ylim, nb)
    res = run_flow_grid(problem, xs, ys, t1, **solve)
    fig, ax = outcome_map_figure(xs, ys, res["outcome"], res["event_time"],
                                 xlabel=f"{chart(problem).labels[0]}(0)",
                                 ylabel=f"{chart(problem).labels[1]}(0)",
                                 title=f"gradient-flow outcome map (t ≤ {t1:g})")
    for ext in ("png", "pdf"):
        fig.savefig(os.path.join(out, f"outcome_map.{ext}"), dpi=130)
    plt.close(fig)
    np.savez(os.path.join(out, "outcome_map.npz"), xs=xs, ys=ys, **res)
    labels, counts = np.unique(res["outcome"], return_counts=True)
    summary = {"config": str(config_path), "xlim": xlim, "ylim": ylim, "t1": t1,
               "outcome_counts": {str(k): int(v) for k, v in zip(labels, counts)},
               "flow_outcomes": flows[0].outcome_counts(),
               "descent_outcomes": descents[0].outcome_counts() if descents else None}
    write_summary(out, summary)
    return summary


# ------------------------------------------------------------------ CLI verb
_SWEEP_KEYS = FLOW_KEYS | {"kind", "theta1", "theta2", "sample", "step_sizes", "steps", "chunk_size"}


def starts_from_table(problem, sw, cfg_theta0=None):
    if "theta1" in sw or "theta2" in sw:
        if not ("theta1" in sw and "theta2" in sw):
            raise ValueError("config [sweep] needs both `theta1` and `theta2` = [low, high, count] for a grid.")
        return grid_starts(problem, sw["theta1"], sw["theta2"])
    if "sample" in sw:
        smp = sw["sample"]
        return sample_starts(problem, smp.get("mean", 0.0), smp.get("std", 0.1),
                             smp.get("count", 64), smp.get("seed", 0))
    if cfg_theta0 is not None:
        return np.atleast_2d(cfg_theta0)
    raise ValueError("config [sweep] needs `theta1`/`theta2` grids, a `sample` table, or [init].")


def cli_sweep(config_path, out, resume: bool = False, scheduler: str | None = None):
    """``flowdeq sweep CONFIG --out DIR [--resume] [--scheduler tcp://HOST:PORT | local:N]``:
    sweep + singularity analysis files; with a scheduler the chunks run on Dask."""
    if scheduler:
        # fail fast (before building the problem) on a bad address or a missing extra
        executor, _ = get_executor(scheduler)
    else:
        executor = None
    try:
        return _cli_sweep(config_path, out, resume, executor)
    finally:
        if executor is not None:
            executor.close()


def _cli_sweep(config_path, out, resume, executor):
    cfg = load_config(config_path)
    sw = cfg.table("sweep", _SWEEP_KEYS)
    kind = sw.get("kind", "flow")
    starts = starts_from_table(cfg.problem, sw, cfg.theta0)
    if kind == "flow":
        keys = FLOW_KEYS
        settings = {k: v for k, v in {**cfg.flow, **sw}.items() if k in keys}
        etas = None
    elif kind == "descent":
        keys = DESCENT_KEYS
        settings = {k: v for k, v in {**cfg.descent, **sw}.items() if k in keys}
        etas = sw.get("step_sizes", cfg.descent.get("step_size"))
    else:
        raise ValueError(f"config [sweep] kind is {kind!r}: use \"flow\" or \"descent\".")
    res = run_sweep(cfg.problem, starts, out, kind=kind, step_sizes=etas, settings=settings,
                    chunk_size=int(sw.get("chunk_size", 64)), resume=resume, executor=executor)
    grid = None
    if "theta1" in sw:
        grid = (axis("theta1", sw["theta1"]), axis("theta2", sw["theta2"]))
    an = analyze_sweep(cfg.problem, res, grid=grid)
    write_analysis(an, out, problem=cfg.problem)
    return an["summary"]
