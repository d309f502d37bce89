r"""Resumable ensembles of gradient flows / GD runs over θ₀ grids or samples and step sizes.

A sweep is a list of starts θ₀ (N, p) — a grid in the (θ₁ᵀξ̂, θ₂) plane, a Gaussian
sample or an explicit list — and, for GD, step sizes η (m,).  The starts are split
into fixed-size chunks (the last one padded, so every chunk has the same shape and the
vmapped solve compiles once).  Each chunk is an independent task,
:func:`run_chunk` (problem, kind, starts, step sizes, settings) → dict of per-member
arrays, so an executor can run chunks elsewhere (:mod:`flowdeq.executors`): in this
process, in order (the default), or one Dask task per chunk on a cluster
(``executor="local:N"`` / ``"tcp://HOST:PORT"``).  Either way the chunks come back to
this process and are written here as they arrive, with a text progress bar on stderr.

On disk (``out``)::

    manifest.json        {"format": "flowdeq-sweep/1", "spec": {...}, "hash": sha256(spec)}
    starts.npy           the θ₀ array
    chunk_00000.npz ...  one per finished chunk, written atomically (tmp + rename)

``run_sweep(..., resume=True)`` loads the finished chunks and runs only the missing
ones; a directory whose manifest hash differs from the new spec is refused with a
ValueError.  Per member (flow: N members; GD: m·N, η-major like
:func:`flowdeq.descent.gradient_descent`) the result holds: ``outcome``,
``event_time`` (flow) / ``event_step`` (GD), ``theta_final``, ``risk_final``,
``min_margin`` (closest approach min |1−θ₂| or min 1−L|θ₂| over the saved points or
iterates, and the event point), ``t_min_margin``, ``start`` and ``step_size``; GD
members also carry ``theta2_before``/``theta2_after`` of a hyperplane jump.

Members whose start is ill-posed (on θ₂ = 1, or non-contractive) are not run and get
the outcome ``ill-posed``.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
import time

import numpy as np

from .config import _KEYS as _CONFIG_KEYS, _RUN_KEYWORDS
from .problem import Problem

__all__ = ["grid_starts", "sample_starts", "run_chunk", "run_sweep", "load_sweep", "sweep_spec",
           "run_flow_grid", "cli_sweep", "margin_np", "SweepInterrupted"]

FORMAT = "flowdeq-sweep/1"
_FLOW_DEFAULTS = {"t1": 10.0, "solver": "kvaerno5", "rtol": 1e-8, "atol": 1e-10, "singular_eps": 1e-6,
                  "converged_tol": 1e-10, "divergence_cap": 1e10, "n_save": 201,
                  "max_steps": 100_000}
_DESCENT_DEFAULTS = {"steps": 200, "singular_eps": 1e-6, "converged_tol": 1e-10,
                     "divergence_cap": 1e10}


class SweepInterrupted(RuntimeError):
    """Raised when ``max_chunks`` stops a sweep early (the finished chunks are on disk)."""


def margin_np(problem: Problem, theta) -> np.ndarray:
    """|1 − θ₂| (linear) or 1 − L|θ₂| (single-index), in NumPy, for θ (..., p)."""
    return np.asarray(problem.margin(np.asarray(theta, float)))


def grid_starts(problem: Problem, theta1, theta2) -> np.ndarray:
    """Grid of starts on the slice θ₁ = s·ξ̂: ``theta1``, ``theta2`` = (low, high, n) each.

    Row-major over (θ₂, θ₁): start k = i·n₁ + j has θ₂ = θ₂-grid[i], s = θ₁-grid[j].
    """
    from .portraits import lift

    xs, ys = _axis("theta1", theta1), _axis("theta2", theta2)
    S, T2 = np.meshgrid(xs, ys)
    return lift(problem, S.ravel(), T2.ravel())


def _axis(name, spec):
    try:
        lo, hi, n = spec
        lo, hi, n = float(lo), float(hi), int(n)
    except (TypeError, ValueError):
        raise ValueError(f"{name} is {spec!r}: give [low, high, count].") from None
    if not (np.isfinite(lo) and np.isfinite(hi) and lo <= hi and n >= 1):
        raise ValueError(f"{name} is {spec!r}: give finite low ≤ high and count ≥ 1.")
    return np.linspace(lo, hi, n)


def sample_starts(problem: Problem, mean, std, count, seed=0) -> np.ndarray:
    """count starts θ₀ ~ N(mean, std² I)."""
    p = problem.n_params
    mean = np.broadcast_to(np.asarray(mean, float), (p,))
    if int(count) < 1 or not np.isfinite(std) or std < 0:
        raise ValueError("count must be ≥ 1 and std a finite number ≥ 0.")
    return mean + float(std) * np.random.default_rng(int(seed)).standard_normal((int(count), p))


# ------------------------------------------------------------------ one chunk
# gradient_flow/gradient_descent keywords a sweep passes through, as in a config's
# [flow]/[descent] tables (a sweep's own ``chunk_size`` is the sweep's, not the flow's)
_FLOW_KEYWORDS = _RUN_KEYWORDS["flow"] - {"chunk_size"}


def run_chunk(problem: Problem, kind: str, starts, step_sizes=None, settings=None,
              save_paths: bool = False) -> dict:
    """Run one chunk (an independent task) and return per-member arrays (see module doc).

    ``starts`` (c, p) must already be padded to the chunk size by the caller.
    """
    from .descent import gradient_descent
    from .flow import gradient_flow

    st = np.asarray(starts, float)
    s = dict(settings or {})
    eps = float(s.get("singular_eps", 1e-6))
    ok = np.all(np.isfinite(st), axis=1) & (margin_np(problem, st) > 10 * max(eps, 1e-12))
    safe = np.where(ok[:, None], st, 0.0)  # θ = 0 is well-posed for both models
    c = len(st)
    if kind == "flow":
        kw = {k: s[k] for k in _FLOW_KEYWORDS if k in s}
        tr = gradient_flow(problem, safe, float(s.get("t1", 10.0)), **kw)
        okm = ok
        etas = np.full(c, np.nan)
    elif kind == "descent":
        etas_in = np.atleast_1d(np.asarray(step_sizes, float))
        kw = {k: s[k] for k in _RUN_KEYWORDS["descent"] if k in s}
        tr = gradient_descent(problem, safe, etas_in, int(s.get("steps", 200)), **kw)
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
        "outcome": np.where(okm, np.asarray(tr.outcome, dtype="U16"), "ill-posed"),
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
        # GD stops at the iterate that crossed: θ₂ before = iterate k−1, after = iterate k
        k = np.maximum(res["event_step"], 1)
        crossed = res["outcome"] == "crossed"
        res["theta2_before"] = np.where(crossed, tr.theta[rows, k - 1, -1], np.nan)
        res["theta2_after"] = np.where(crossed, tr.theta[rows, k, -1], np.nan)
    if save_paths:
        res["path_t"] = np.where(valid, tr.t, np.nan)
        res["path_theta"] = np.where(valid[..., None], tr.theta, np.nan)
    return res


# ------------------------------------------------------------------ the sweep
def _hash_arrays(*arrays):
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(np.asarray(a, float))
        h.update(str(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()


def sweep_spec(problem, kind, starts, step_sizes, settings, chunk_size, save_paths=False):
    """The JSON-able description of a sweep whose hash guards ``resume``."""
    from .trajectory import jsonable

    return jsonable({
        "format": FORMAT, "kind": kind, "problem": problem.describe(),
        "problem_data_hash": _hash_arrays(problem.X, problem.w, problem.f),
        "starts_hash": _hash_arrays(starts), "n_starts": int(len(starts)),
        "n_params": int(problem.n_params),
        "step_sizes": None if step_sizes is None else np.atleast_1d(step_sizes).tolist(),
        "settings": settings, "chunk_size": int(chunk_size), "save_paths": bool(save_paths)})


def _spec_hash(spec):
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()


def _progress(done, total, t0, stream):
    if stream is None:
        return
    frac = done / max(total, 1)
    el = time.perf_counter() - t0
    eta = el / frac - el if frac > 0 else float("nan")
    bar = "#" * int(30 * frac) + "." * (30 - int(30 * frac))
    stream.write(f"\rsweep [{bar}] {done}/{total} chunks {100 * frac:5.1f}%  "
                 f"elapsed {el:6.1f}s  left ~{eta:6.1f}s")
    if done == total:
        stream.write("\n")
    stream.flush()


def run_sweep(problem: Problem, starts, out: str | None = None, *, kind: str = "flow",
              step_sizes=None, settings: dict | None = None, chunk_size: int = 64,
              resume: bool = False, max_chunks: int | None = None, callback=None,
              save_paths: bool = False, progress=True, executor=None) -> dict:
    r"""Run (or resume) a sweep; returns the merged per-member result dict.

    Parameters
    ----------
    starts : (N, p) θ₀ array (see :func:`grid_starts`, :func:`sample_starts`).
    out : directory for the manifest and chunk files; None keeps everything in memory.
    kind : "flow" or "descent"; ``step_sizes`` (m,) is required for "descent".
    settings : flow keys (t1, solver, rtol, atol, singular_eps, converged_tol, divergence_cap, n_save,
        max_steps, exact_saves) or descent keys (steps, singular_eps, converged_tol, divergence_cap).
    chunk_size : starts per chunk (fixed shape → one compilation).
    resume : continue a directory holding the same sweep (identical spec hash).
    max_chunks : stop with :class:`SweepInterrupted` after computing this many new chunks.
    callback : ``callback(index, chunk_result)`` after each chunk is written (an exception
        from it stops the sweep; the chunk is already on disk).
    executor : where the chunks run (see :mod:`flowdeq.executors`): None or "local" (this
        process, in order — the default), "local:N" (a Dask ``LocalCluster`` of N workers on
        127.0.0.1), "tcp://HOST:PORT" (an existing Dask scheduler), a ``distributed.Client``,
        or an executor object.  Chunks are written here, by the caller, as they arrive (in
        completion order on Dask), so ``resume`` works the same way; the executor is not part
        of the spec, so a sweep may be resumed with another one.  Results do not depend on it.
    """
    if kind not in ("flow", "descent"):
        raise ValueError(f"kind is {kind!r}: use \"flow\" or \"descent\".")
    starts = np.atleast_2d(np.asarray(starts, float))
    if starts.ndim != 2 or starts.shape[1] != problem.n_params or len(starts) == 0:
        raise ValueError(f"starts has shape {starts.shape}: give (N, {problem.n_params}) with N ≥ 1.")
    if int(chunk_size) < 1:
        raise ValueError(f"chunk_size is {chunk_size!r}: give an integer ≥ 1.")
    chunk_size = int(min(int(chunk_size), len(starts)))
    defaults = _FLOW_DEFAULTS if kind == "flow" else _DESCENT_DEFAULTS
    unknown = set(settings or {}) - set(defaults)
    if unknown:
        raise ValueError(f"settings has unknown key(s) {sorted(unknown)}: valid keys for kind={kind!r} "
                         f"are {sorted(defaults)}.")
    settings = {**defaults, **(settings or {})}
    if kind == "descent":
        if step_sizes is None:
            raise ValueError("step_sizes is missing: a descent sweep needs step sizes η (m,).")
        step_sizes = np.atleast_1d(np.asarray(step_sizes, float))
        if step_sizes.ndim != 1 or not np.all(np.isfinite(step_sizes)) or np.any(step_sizes <= 0):
            raise ValueError(f"step_sizes is {step_sizes!r}: give a 1-D array of η > 0.")
    spec = sweep_spec(problem, kind, starts, step_sizes, settings, chunk_size, save_paths)
    h = _spec_hash(spec)
    n_chunks = -(-len(starts) // chunk_size)
    done = {}
    if out is not None:
        os.makedirs(out, exist_ok=True)
        man = os.path.join(out, "manifest.json")
        if os.path.exists(man):
            with open(man) as fh:
                old = json.load(fh)
            if not resume:
                raise ValueError(f"out {out} already holds a sweep: pass resume=True (--resume) to "
                                 "continue it, or choose an empty directory.")
            if old.get("hash") != h:
                raise ValueError(f"out {out} holds a different sweep (manifest spec hash differs): "
                                 "use the same config to resume, or choose an empty directory.")
            for i in range(n_chunks):
                path = os.path.join(out, f"chunk_{i:05d}.npz")
                if os.path.exists(path):
                    with np.load(path, allow_pickle=False) as z:
                        done[i] = {k: z[k] for k in z.files}
        else:
            with open(man + ".tmp", "w") as fh:
                json.dump({"format": FORMAT, "spec": spec, "hash": h, "n_chunks": n_chunks}, fh,
                          indent=2)
            os.replace(man + ".tmp", man)
            np.save(os.path.join(out, "starts.npy"), starts)
    stream = sys.stderr if progress is True else (progress or None)
    todo = [i for i in range(n_chunks) if i not in done]
    batch = todo if max_chunks is None else todo[: max(int(max_chunks), 0)]

    def block_of(i):
        lo, hi = i * chunk_size, min((i + 1) * chunk_size, len(starts))
        block = np.zeros((chunk_size, starts.shape[1]))
        block[: hi - lo] = starts[lo:hi]
        return block

    t0 = time.perf_counter()
    _progress(len(done), n_chunks, t0, stream)
    if batch:
        from .executors import get_executor

        ex, owned = get_executor(executor)
        try:
            results = ex.map_chunks(problem, kind, ((i, block_of(i)) for i in batch), step_sizes,
                                    settings, save_paths)
            try:
                for i, res in results:
                    if i in done:  # a chunk delivered twice (rescheduled task) is kept once
                        continue
                    lo, hi = i * chunk_size, min((i + 1) * chunk_size, len(starts))
                    res["start"] = np.arange(lo, lo + chunk_size)
                    res["pad"] = np.arange(lo, lo + chunk_size) >= hi
                    if kind == "descent":
                        res["start"] = np.tile(res["start"], len(step_sizes))
                        res["pad"] = np.tile(res["pad"], len(step_sizes))
                    if out is not None:
                        path = os.path.join(out, f"chunk_{i:05d}.npz")
                        np.savez(path + ".tmp.npz", **res)
                        os.replace(path + ".tmp.npz", path)
                    done[i] = res
                    _progress(len(done), n_chunks, t0, stream)
                    if callback is not None:
                        callback(i, res)
            finally:
                results.close()  # cancels a remote executor's outstanding chunks
        finally:
            if owned:
                ex.close()
    if len(batch) < len(todo):
        if stream is not None:
            stream.write("\n")
        raise SweepInterrupted(f"stopped after {len(batch)} new chunk(s) (max_chunks); resume to finish.")
    return _merge(done, n_chunks, kind, step_sizes, starts)


def _merge(done, n_chunks, kind, step_sizes, starts):
    keys = [k for k in done[0] if k not in ("pad",)]
    parts = [done[i] for i in range(n_chunks)]
    m = 1 if kind == "flow" else len(step_sizes)
    res = {}
    for k in keys:
        # each chunk is η-major (m blocks of c); regroup to (m, N) then flatten η-major
        blocks = []
        for part in parts:
            a = part[k]
            c = len(a) // m
            keep = ~part["pad"][:c]
            blocks.append(a.reshape((m, c) + a.shape[1:])[:, keep])
        res[k] = np.concatenate(blocks, axis=1).reshape((-1,) + blocks[0].shape[2:])
    res["starts"] = starts
    res["kind"] = kind
    res["step_sizes"] = None if step_sizes is None else np.asarray(step_sizes)
    return res


def load_sweep(out: str) -> dict:
    """Merge a finished sweep directory (raises ValueError if chunks are missing)."""
    man = os.path.join(out, "manifest.json")
    if not os.path.exists(man):
        raise ValueError(f"out {out} has no manifest.json: run the sweep first.")
    with open(man) as fh:
        m = json.load(fh)
    done = {}
    for i in range(m["n_chunks"]):
        path = os.path.join(out, f"chunk_{i:05d}.npz")
        if not os.path.exists(path):
            raise ValueError(f"sweep in {out} is unfinished (chunk {i} missing): resume it first.")
        with np.load(path, allow_pickle=False) as z:
            done[i] = {k: z[k] for k in z.files}
    spec = m["spec"]
    return _merge(done, m["n_chunks"], spec["kind"], spec["step_sizes"],
                  np.load(os.path.join(out, "starts.npy")))


def run_flow_grid(problem: Problem, xs, ys, t1, chunk_size: int = 64, **settings) -> dict:
    """Flow from every start of the (θ₁ᵀξ̂, θ₂) grid xs × ys, in memory; arrays shaped (ny, nx)."""
    from .portraits import lift

    S, T2 = np.meshgrid(np.asarray(xs, float), np.asarray(ys, float))
    st = lift(problem, S.ravel(), T2.ravel())
    r = run_sweep(problem, st, None, kind="flow", settings={"t1": float(t1), **settings},
                  chunk_size=chunk_size, progress=False)
    shape = S.shape
    return {"outcome": r["outcome"].reshape(shape), "event_time": r["event_time"].reshape(shape),
            "min_margin": r["min_margin"].reshape(shape),
            "theta_final": r["theta_final"].reshape(shape + (-1,))}


# ------------------------------------------------------------------ CLI verb
_SWEEP_KEYS = _CONFIG_KEYS["flow"] | {"kind", "theta1", "theta2", "sample", "step_sizes", "steps"}


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
        from .executors import get_executor

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
    from .config import load_config
    from .singularity import analyze_sweep, write_analysis

    cfg = load_config(config_path)
    sw = cfg.table("sweep", _SWEEP_KEYS)
    kind = sw.get("kind", "flow")
    starts = starts_from_table(cfg.problem, sw, cfg.theta0)
    if kind == "flow":
        keys = set(_FLOW_DEFAULTS)
        settings = {k: v for k, v in {**cfg.flow, **sw}.items() if k in keys}
        etas = None
    elif kind == "descent":
        keys = set(_DESCENT_DEFAULTS)
        settings = {k: v for k, v in {**cfg.descent, **sw}.items() if k in keys}
        etas = sw.get("step_sizes", cfg.descent.get("step_size"))
    else:
        raise ValueError(f"config [sweep] kind is {kind!r}: use \"flow\" or \"descent\".")
    res = run_sweep(cfg.problem, starts, out, kind=kind, step_sizes=etas, settings=settings,
                    chunk_size=int(sw.get("chunk_size", 64)), resume=resume, executor=executor)
    grid = None
    if "theta1" in sw:
        grid = (_axis("theta1", sw["theta1"]), _axis("theta2", sw["theta2"]))
    an = analyze_sweep(cfg.problem, res, grid=grid)
    write_analysis(an, out, problem=cfg.problem)
    return an["summary"]
