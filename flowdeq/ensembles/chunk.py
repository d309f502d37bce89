"""One chunk of a sweep: an independent task (problem, kind, starts, step sizes, settings) →
per-member arrays.  Executors run it here or on Dask workers."""
from __future__ import annotations

import dataclasses

import numpy as np

from ..dynamics.descent import gradient_descent
from ..dynamics.settings import DescentSettings, FlowSettings
from ..problem import Problem

__all__ = ["run_chunk", "margin_np", "FLOW_KEYS", "DESCENT_KEYS"]


def margin_np(problem: Problem, theta) -> np.ndarray:
    """The model's margin (linear |1 − θ₂|, single-index 1 − L|θ₂|) of θ (..., p), in NumPy."""
    return problem.margin_values(theta)


# ------------------------------------------------------------------ one chunk
# a sweep's own ``chunk_size`` is the sweep's, not the flow's
FLOW_KEYS = {f.name for f in dataclasses.fields(FlowSettings)} - {"chunk_size", "t0", "ts"}
DESCENT_KEYS = {f.name for f in dataclasses.fields(DescentSettings)} - {"step_size"}


def _filler(problem: Problem, st, ok, eps) -> np.ndarray:
    """A well-posed start to run in place of the skipped members: the chunk's first good
    start, else the model's chart origin, else θ = 0 (a chunk whose every start is
    ill-posed still returns one ``ill_posed_start`` row per member, like any other chunk)."""
    good = np.flatnonzero(ok)
    if good.size:
        return st[good[0]]
    try:
        origin = np.asarray(problem.model.default_chart(problem.target)[0], float)
    except ValueError:  # a one-parameter model has no chart
        origin = np.zeros(st.shape[1])
    for cand in (origin, np.zeros(st.shape[1])):
        if cand.shape == st.shape[1:] and margin_np(problem, cand[None])[0] > 10 * max(eps, 1e-12):
            return cand
    raise ValueError("every start of this chunk is ill-posed or non-finite and the model's "
                     "chart origin is too: give starts with margin > singular_eps.")


def run_chunk(problem: Problem, kind: str, starts, step_sizes=None, settings=None,
              save_paths: bool = False) -> dict:
    """Run one chunk (an independent task) and return per-member arrays (see module doc).

    ``starts`` (c, p) must already be padded to the chunk size by the caller.
    """
    st = np.asarray(starts, float)
    s = dict(settings or {})
    eps = float(s.get("singular_eps", FlowSettings.singular_eps))
    ok = np.all(np.isfinite(st), axis=1) & (margin_np(problem, st) > 10 * max(eps, 1e-12))
    # runs stand in for the skipped members from a well-posed start, and are discarded below
    safe = np.where(ok[:, None], st, _filler(problem, st, ok, eps))
    c = len(st)
    if kind == "flow":
        # import cost: diffrax (~0.3 s) only for flow sweeps; a GD sweep never loads it
        from ..dynamics.flow import gradient_flow

        kw = {k: s[k] for k in FLOW_KEYS if k in s}
        tr = gradient_flow(problem, safe, **kw)
        okm = ok
        etas = np.full(c, np.nan)
    elif kind == "descent":
        etas_in = np.atleast_1d(np.asarray(step_sizes, float))
        kw = {k: s[k] for k in DESCENT_KEYS if k in s}
        tr = gradient_descent(problem, safe, etas_in, **kw)
        okm = np.tile(ok, len(etas_in))
        etas = np.repeat(etas_in, c)
    else:
        raise ValueError(f"kind is {kind!r}: use \"flow\" or \"descent\".")
    valid = tr.valid
    marg = np.where(valid, margin_np(problem, tr.theta), np.inf)
    imin = np.argmin(marg, axis=1)
    rows = np.arange(len(valid))
    last = valid.shape[1] - 1 - np.argmax(valid[:, ::-1], axis=1)
    res = {
        "outcome": np.where(okm, np.asarray(tr.outcome, dtype="U16"), "ill_posed_start"),
        "event_time": np.where(okm, np.asarray(tr.event_time, float), np.nan),
        "event_step": np.where(okm, np.asarray(tr.event_step), -1),
        "theta_final": np.where(okm[:, None], tr.theta[rows, last], np.nan),
        "risk_final": np.where(okm, tr.risk[rows, last], np.nan),
        "grad_norm_final": np.where(okm, tr.grad_norm[rows, last], np.nan),
        "min_margin": np.where(okm, marg[rows, imin], np.nan),
        "t_min_margin": np.where(okm, tr.t[rows, imin], np.nan),
        "t_final": np.where(okm, tr.t[rows, last], np.nan),
        "step_size": etas,
    }
    if kind == "descent":
        # GD stops at the iterate that crossed: θ before = iterate k−1, after = iterate k
        k = np.maximum(res["event_step"], 1)
        crossed = (res["outcome"] == "crossed")[:, None]
        res["theta_before"] = np.where(crossed, tr.theta[rows, k - 1], np.nan)
        res["theta_after"] = np.where(crossed, tr.theta[rows, k], np.nan)
    if save_paths:
        res["path_t"] = np.where(valid, tr.t, np.nan)
        res["path_theta"] = np.where(valid[..., None], tr.theta, np.nan)
    return res


