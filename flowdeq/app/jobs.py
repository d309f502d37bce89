"""Run a configuration end to end and write its files (what the CLI verbs call).

``flow_job(cfg, out)`` / ``descend_job(cfg, out)`` / ``modified_job(cfg, out)`` write ``trajectory.npz``,
``summary.json`` and ``figure.png`` into ``out`` and return ``(trajectory, summary)``.
``out`` is created and proved writable before anything is computed, the data files are
written before the figure, and a figure that cannot be drawn is a ``FigureWarning`` (the
data kept), so no result is lost at the output stage.
"""
from __future__ import annotations

import json
import os
import time

import numpy as np

from .._progress import report
from .._validate import output_dir
from ..dynamics.descent import gradient_descent
from ..dynamics.settings import DescentSettings, FlowSettings
from .config import TABLES, RunConfig, load_config

__all__ = ["flow_job", "descend_job", "modified_job", "write_summary", "failed_message"]


def write_summary(out: str, summary: dict, name: str = "summary.json") -> str:
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, name)
    with open(path, "w") as fh:
        json.dump(summary, fh, indent=2)
    return path


def failed_message(traj) -> str | None:
    """Why the run failed, if the ODE solver gave up on any member (outcome ``failed``)."""
    outcome = np.atleast_1d(traj.outcome)
    if not np.any(outcome == "failed"):
        return None
    msgs = np.atleast_1d(traj.stats.get("message", ""))
    first = next((str(m) for o, m in zip(outcome, np.broadcast_to(msgs, outcome.shape))
                  if o == "failed" and str(m)), "the ODE solver gave up")
    n = int(np.sum(outcome == "failed"))
    return f"{n} of {outcome.size} run(s) ended `failed` ({first})"


def _finish(traj, cfg, out, wall, label):
    report(f"{label}: {traj.outcome if not traj.is_batch else traj.outcome_counts()} in "
           f"{wall:.1f} s; writing {out}")
    traj.settings["config"] = cfg.raw
    traj.save(os.path.join(out, "trajectory.npz"))
    summary = traj.summary()
    summary["wall_seconds"] = wall
    summary["config"] = cfg.source
    write_summary(out, summary)
    title = f"{label}: {os.path.basename(cfg.source or '')}"
    # import cost: matplotlib (~0.3 s) only once the data are on disk and a figure is drawn
    from ..plot.figures import draw_figure, quick_figure

    draw_figure(out, "figure", lambda: quick_figure(traj, title=title)[0], dpi=120)
    return traj, summary


def _cfg(cfg) -> RunConfig:
    return cfg if isinstance(cfg, RunConfig) else load_config(cfg)


def flow_job(cfg, out: str, progress: bool = False):
    """Gradient flow for a config (path or :class:`RunConfig`) with its ``[flow]`` table;
    ``progress`` shows diffrax's in-solve meter (``gradient_flow(progress=True)``)."""
    cfg = _cfg(cfg)
    if "t1" not in cfg.flow:
        raise ValueError("config [flow] needs `t1` (the final time).")
    theta0 = cfg.require_theta0("`flowdeq flow`")
    # every input error before --out is touched (the flow repeats this check; it is cheap)
    cfg.problem.check_theta(theta0, cfg.flow.get("singular_eps", FlowSettings.singular_eps),
                            name="config [init] theta0")
    output_dir(out)
    kw = cfg.flow_kwargs()
    # import cost: diffrax (~0.3 s) only for flows; `flowdeq descend` never loads it
    from ..dynamics.flow import gradient_flow

    report(f"gradient flow: {len(np.atleast_2d(theta0))} start(s) to t1 = {cfg.flow['t1']:g} "
           "(the first run of a problem compiles: seconds)")
    wall = time.perf_counter()
    traj = gradient_flow(cfg.problem, theta0, cfg.flow["t1"], progress=progress, **kw)
    return _finish(traj, cfg, out, time.perf_counter() - wall, "gradient flow")


def descend_job(cfg, out: str):
    """Gradient descent for a config with its ``[descent]`` table."""
    cfg = _cfg(cfg)
    for key in ("step_size", "steps"):
        if key not in cfg.descent:
            raise ValueError(f"config [descent] needs `{key}`.")
    theta0 = cfg.require_theta0("`flowdeq descend`")
    cfg.problem.check_theta(theta0, cfg.descent.get("singular_eps", DescentSettings.singular_eps),
                            name="config [init] theta0")
    output_dir(out)
    kw = cfg.descent_kwargs()
    report(f"gradient descent: {len(np.atleast_2d(theta0))} start(s), {cfg.descent['steps']} "
           "steps (the first run of a problem compiles: seconds)")
    wall = time.perf_counter()
    traj = gradient_descent(cfg.problem, theta0, cfg.descent["step_size"], cfg.descent["steps"],
                            **kw)
    return _finish(traj, cfg, out, time.perf_counter() - wall, "gradient descent")


def modified_job(cfg, out: str):
    """The modified flow of GD (:func:`flowdeq.dynamics.modified.modified_flow`) for a config:
    ``[flow]`` as for ``flow_job`` (t1 and the solver settings), η and the order from
    ``[modified]`` (step_size, order; η defaults to ``[descent] step_size``)."""
    cfg = _cfg(cfg)
    if "t1" not in cfg.flow:
        raise ValueError("config [flow] needs `t1` (the final time).")
    table = cfg.table("modified", set(TABLES["modified"]))
    eta = table.get("step_size", cfg.descent.get("step_size"))
    if eta is None:
        raise ValueError("config needs the step size η: set [modified] step_size (or [descent] "
                         "step_size).")
    if isinstance(eta, list):
        raise ValueError("config [descent] step_size is a list: set [modified] step_size to the one "
                         "η whose modified flow to integrate.")
    order = table.get("order", 1)
    if order not in (0, 1, 2):
        raise ValueError(f"config [modified] order is {order!r}: give 1 (R + η/4‖∇R‖²), 2, or 0 "
                         "(the plain flow).")
    theta0 = cfg.require_theta0("`flowdeq modified`")
    cfg.problem.check_theta(theta0, cfg.flow.get("singular_eps", FlowSettings.singular_eps),
                            name="config [init] theta0")
    output_dir(out)
    # import cost: diffrax (~0.3 s) only for flows, as in flow_job
    from ..dynamics.modified import modified_flow

    report(f"modified flow (order {order}, η = {float(eta):g}): {len(np.atleast_2d(theta0))} "
           f"start(s) to t1 = {cfg.flow['t1']:g}")
    wall = time.perf_counter()
    traj = modified_flow(cfg.problem, theta0, eta, order, cfg.flow["t1"], **cfg.flow_kwargs())
    return _finish(traj, cfg, out, time.perf_counter() - wall,
                   f"modified flow (order {order}, η = {float(eta):g})")
