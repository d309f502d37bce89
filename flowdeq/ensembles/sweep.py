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
``min_margin`` (closest approach: the least margin over the saved points or iterates,
and the event point), ``t_min_margin``, ``start`` and ``step_size``; GD members also
carry ``theta_before``/``theta_after`` of a ``crossed`` jump.

Members whose start is ill-posed (margin ≤ 10 ε: on θ₂ = 1, non-contractive, …) are not
run and get the outcome ``ill_posed_start``.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
import time

import numpy as np

from ..analysis.geometry import lift
from ..dynamics.settings import DescentSettings, FlowSettings
from ..dynamics.trajectory import jsonable
from ..problem import Problem
from .chunk import DESCENT_KEYS, FLOW_KEYS, margin_np, run_chunk
from .executors import get_executor
from .starts import axis as _axis, grid_starts, sample_starts

__all__ = ["grid_starts", "sample_starts", "run_chunk", "run_sweep", "load_sweep", "sweep_spec",
           "run_flow_grid", "margin_np", "SweepInterrupted", "SWEEP_DEFAULTS"]

FORMAT = "flowdeq-sweep/1"
# What a sweep runs when the settings leave it out: a sweep explores many starts cheaply, so
# it has its own horizon and step budget; every other default is FlowSettings'/DescentSettings'.
SWEEP_DEFAULTS = {"flow": {"t1": 10.0}, "descent": {"steps": 200}}


class SweepInterrupted(RuntimeError):
    """Raised when ``max_chunks`` stops a sweep early (the finished chunks are on disk)."""


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
    keys = FLOW_KEYS if kind == "flow" else DESCENT_KEYS
    unknown = set(settings or {}) - keys
    if unknown:
        raise ValueError(f"settings has unknown key(s) {sorted(unknown)}: valid keys for kind={kind!r} "
                         f"are {sorted(keys)}.")
    settings = {**SWEEP_DEFAULTS[kind], **(settings or {})}
    if kind == "descent":
        if step_sizes is None:
            raise ValueError("step_sizes is missing: a descent sweep needs step sizes η (m,).")
        step_sizes = np.atleast_1d(np.asarray(step_sizes, float))
        if step_sizes.ndim != 1 or not np.all(np.isfinite(step_sizes)) or np.any(step_sizes <= 0):
            raise ValueError(f"step_sizes is {step_sizes!r}: give a 1-D array of η > 0.")
    # every value is checked here, by the settings object, before any chunk runs
    if kind == "flow":
        FlowSettings.build(**settings).save_times()
    else:
        DescentSettings.build(step_size=step_sizes, **settings)
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
    """Flow from every start of the chart grid xs × ys, in memory; arrays shaped (ny, nx)."""
    S, T2 = np.meshgrid(np.asarray(xs, float), np.asarray(ys, float))
    st = lift(problem, S.ravel(), T2.ravel())
    r = run_sweep(problem, st, None, kind="flow", settings={"t1": float(t1), **settings},
                  chunk_size=chunk_size, progress=False)
    shape = S.shape
    return {"outcome": r["outcome"].reshape(shape), "event_time": r["event_time"].reshape(shape),
            "min_margin": r["min_margin"].reshape(shape),
            "theta_final": r["theta_final"].reshape(shape + (-1,))}
