r"""Resumable ensembles of gradient flows / GD runs over θ₀ grids or samples and step sizes.

A sweep is a list of starts θ₀ (N, p) — a grid in the (θ₁ᵀξ̂, θ₂) plane, a Gaussian
sample or an explicit list — and, for GD, step sizes η (m,).  The starts are split
into fixed-size chunks (the last one padded, so every chunk has the same shape and the
vmapped solve compiles once).  Each chunk is an independent task,
:func:`run_chunk` (problem, kind, starts, step sizes, settings) → dict of per-member
arrays, so an executor can run chunks elsewhere (:mod:`flowdeq.executors`): in this
process, in order (the default), or one Dask task per chunk on a cluster
(``executor="local:N"`` / ``"tcp://HOST:PORT"``).  Either way the chunks come back to
this process and are written here as they arrive, with a ``tqdm`` bar on stderr
(:mod:`flowdeq._progress`).

On disk (``out``); every file is written atomically (a temp file in ``out``, fsynced, then
``os.replace``), ``starts.npy`` before ``manifest.json``, so a directory with a manifest
always has its starts (a process killed outright may leave ``.NAME.PID.HEX.tmp`` files: never
read, safe to delete)::

    starts.npy           the θ₀ array (N, p) float64; its hash is spec["starts_hash"]
    manifest.json        {"format": "flowdeq-sweep/1", "spec": {...}, "hash": sha256(spec),
                          "n_chunks": n, "chunk_format": "flowdeq-chunk/1",
                          "grid": {...}}  (grid sweeps only, outside the hash: the chart
                                           axes, checked against starts.npy on load)
    chunk_00000.npz ...  one per finished chunk: the per-member arrays (below) and the
                         integrity fields
    rejected/            chunk files (or a manifest / starts.npy) that failed verification

Each chunk file carries, besides its arrays, the integrity fields (0-d NumPy arrays unless shaped)::

    _format        str    "flowdeq-chunk/1"
    _sweep_hash    str    the manifest's "hash" (sha256 of the spec) of the sweep it belongs to
    _chunk_index   int64  its index i (the file name's number)
    _chunk_size    int64  the sweep's chunk size c
    _members       int64  (2,) the start indices [lo, hi) it holds (hi − lo < c for the last)
    _content_hash  str    sha256 over every other entry, in name order, of
                          json([name, dtype.str, shape]) followed by the array's C-order bytes

``run_sweep(..., resume=True)`` loads the finished chunks and runs only the missing
ones; a directory whose manifest hash differs from the new spec is refused with a
ValueError.  A chunk file that cannot be read (garbage, truncated, empty), fails its content
hash (edited), belongs to another sweep or chunk size, or holds another index (copied) is
moved into ``rejected/`` (``rejected/chunk_00003.npz``, then ``….npz.2``, … if taken), named in
a one-line :class:`SweepChunkWarning`, and recomputed; an unreadable manifest or a
``starts.npy`` that does not match the spec is moved aside and rewritten the same way.
:func:`load_sweep` verifies the same things and refuses an incomplete or inconsistent
directory with a one-line ValueError naming the file (the fix: resume the sweep).

Directories written by flowdeq 0.2.0 (no ``chunk_format`` in the manifest, chunks without
the integrity fields) still resume and load, with a FutureWarning (shown by default,
unlike a DeprecationWarning) that their chunks cannot be verified; only their shape, start
indices and padding are checked.

Per member (flow: N members; GD: m·N, η-major like
:func:`flowdeq.descent.gradient_descent`) the result holds: ``outcome`` (a string label;
the set of labels is the dynamics', never fixed here), ``event_time`` (flow) /
``event_step`` (GD), ``theta_final``, ``risk_final``, ``min_margin`` (closest approach: the
least margin over the saved points or iterates, and the event point), ``t_min_margin``,
``start`` and ``step_size``; GD members also carry ``theta_before``/``theta_after`` of a
``crossed`` jump.  Chunk files also hold ``pad`` (True for the padding members).

Members whose start is ill-posed (margin ≤ 10 ε: on θ₂ = 1, non-contractive, …) are not
run and get the outcome ``ill_posed_start``.
"""
from __future__ import annotations

import hashlib
import json
import os
import warnings

import numpy as np

from .. import _progress
from ..analysis.geometry import lift
from ..dynamics.settings import DescentSettings, FlowSettings
from ..dynamics.trajectory import jsonable, param_names
from ..problem import Problem
from ._files import write_atomic
from .chunk import DESCENT_KEYS, FLOW_KEYS, margin_np, run_chunk
from .executors import get_executor
from .results import SweepResult, check_grid, grid_manifest
from .starts import axis as _axis, grid_starts, sample_starts

__all__ = ["grid_starts", "sample_starts", "run_chunk", "run_sweep", "load_sweep", "sweep_spec",
           "SweepResult",
           "run_flow_grid", "margin_np", "SweepInterrupted", "SweepChunkWarning", "SWEEP_DEFAULTS"]

FORMAT = "flowdeq-sweep/1"
CHUNK_FORMAT = "flowdeq-chunk/1"
REJECTED = "rejected"  # subfolder of ``out`` that files failing verification are moved into
_META = ("_format", "_sweep_hash", "_chunk_index", "_chunk_size", "_members", "_content_hash")
_RESUME_HINT = "run the sweep again with resume=True (--resume) to recompute it"
# What a sweep runs when the settings leave it out: a sweep explores many starts cheaply, so
# it has its own horizon and step budget; every other default is FlowSettings'/DescentSettings'.
SWEEP_DEFAULTS = {"flow": {"t1": 10.0}, "descent": {"steps": 200}}


class SweepInterrupted(RuntimeError):
    """Raised when ``max_chunks`` stops a sweep early (the finished chunks are on disk)."""


class SweepChunkWarning(UserWarning):
    """A file of a sweep directory failed verification on resume: it was moved into
    ``rejected/`` and is recomputed (or rewritten)."""


# ------------------------------------------------------------------ hashes and files
def _hash_arrays(*arrays):
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(np.asarray(a, float))
        h.update(str(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _content_hash(arrays: dict) -> str:
    """sha256 over the entries of a chunk file: name, dtype and shape, then the bytes."""
    h = hashlib.sha256()
    for k in sorted(arrays):
        a = np.asarray(arrays[k])  # not ascontiguousarray: it turns a 0-d field into shape (1,)
        h.update(json.dumps([k, a.dtype.str, list(a.shape)]).encode())
        h.update(a.tobytes(order="C"))
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


def _chunk_path(out, i):
    return os.path.join(out, f"chunk_{i:05d}.npz")


def _members(i, chunk_size, n_starts):
    return i * chunk_size, min((i + 1) * chunk_size, n_starts)


def _start_pad(i, chunk_size, n_starts, m):
    """The ``start`` and ``pad`` columns of chunk i (η-major: m copies of the c slots)."""
    lo, hi = _members(i, chunk_size, n_starts)
    idx = np.arange(lo, lo + chunk_size)
    return np.tile(idx, m), np.tile(idx >= hi, m)


def _save_npz(path, arrays):
    write_atomic(path, lambda fh: np.savez(fh, allow_pickle=False, **arrays))


def _save_npy(path, array):
    write_atomic(path, lambda fh: np.save(fh, array, allow_pickle=False))


def _save_manifest(path, manifest):
    write_atomic(path, lambda fh: fh.write(json.dumps(manifest, indent=2).encode()))


def _reject(out, path):
    """Move a file that failed verification into ``out/rejected/`` (never overwriting)."""
    folder = os.path.join(out, REJECTED)
    os.makedirs(folder, exist_ok=True)
    name = os.path.basename(path)
    dest, n = os.path.join(folder, name), 1
    while os.path.exists(dest):
        n += 1
        dest = os.path.join(folder, f"{name}.{n}")
    os.replace(path, dest)
    return dest


class _BadFile(Exception):
    """Why a file of a sweep directory failed verification (a predicate: "is empty …")."""


def _short(err):
    msg = str(err).splitlines()[0] if str(err) else ""
    return f"{type(err).__name__}: {msg[:120]}" if msg else type(err).__name__


def _load_arrays(path):
    """Every entry of an .npz file, or _BadFile saying why it cannot be read."""
    if os.path.getsize(path) == 0:
        raise _BadFile("is empty (0 bytes)")
    try:
        # our own handle: np.load leaks the one it opens when the zip directory is unreadable
        with open(path, "rb") as fh:
            z = np.load(fh, allow_pickle=False)
            if isinstance(z, np.ndarray):
                raise _BadFile("is a bare .npy array, not a chunk .npz")
            with z:
                return {k: z[k] for k in z.files}
    except (_BadFile, PermissionError):
        raise
    except Exception as err:  # any parse failure of an untrusted file (zip, npy header, CRC) means damaged
        raise _BadFile(f"is not a readable .npz ({_short(err)})") from None


def _scalar(meta, key, kind):
    try:
        return kind(meta[key].item())
    except (ValueError, TypeError):
        raise _BadFile(f"has a malformed integrity field {key}") from None


def _read_chunk(path, i, sweep_hash, chunk_size, n_starts, m, verified):
    """Chunk i's per-member arrays after verification, and whether it is a 0.2.0 (unverifiable)
    file; raises _BadFile.  ``verified``: the manifest promises integrity fields."""
    arrays = _load_arrays(path)
    meta = {k: arrays.pop(k) for k in list(arrays) if k.startswith("_")}
    legacy = not meta
    lo, hi = _members(i, chunk_size, n_starts)
    if legacy and verified:
        raise _BadFile("carries no integrity fields (_content_hash): it was not written by this sweep")
    if not legacy:
        missing = [k for k in _META if k not in meta]
        if missing:
            raise _BadFile(f"lacks the integrity field(s) {', '.join(missing)}")
        stored = _scalar(meta, "_content_hash", str)
        if stored != _content_hash({**arrays, **{k: v for k, v in meta.items() if k != "_content_hash"}}):
            raise _BadFile("does not match its content hash (edited or damaged)")
        if _scalar(meta, "_format", str) != CHUNK_FORMAT:
            raise _BadFile(f"has chunk format {_scalar(meta, '_format', str)!r}, not {CHUNK_FORMAT!r}")
        c = _scalar(meta, "_chunk_size", int)
        if c != chunk_size:
            raise _BadFile(f"was written with chunk_size {c} (this sweep: {chunk_size})")
        if _scalar(meta, "_sweep_hash", str) != sweep_hash:
            raise _BadFile("belongs to another sweep (its spec hash is not manifest.json's)")
        j = _scalar(meta, "_chunk_index", int)
        if j != i:
            raise _BadFile(f"holds chunk {j}, not chunk {i} (copied or renamed)")
        if meta["_members"].tolist() != [lo, hi]:
            raise _BadFile(f"holds members {meta['_members'].tolist()}, not [{lo}, {hi})")
    # the only checks a 0.2.0 file allows; for a verified file they guard against a bug here
    rows = m * chunk_size
    for k, a in arrays.items():
        if a.ndim == 0 or a.shape[0] != rows:
            raise _BadFile(f"has {a.shape[0] if a.ndim else 0} rows in {k!r}, a chunk of this sweep "
                           f"has {rows} (another chunk_size or sweep)")
    if "start" not in arrays or "pad" not in arrays:
        raise _BadFile("has no 'start'/'pad' columns")
    start, pad = _start_pad(i, chunk_size, n_starts, m)
    if not (np.array_equal(arrays["start"], start) and np.array_equal(arrays["pad"], pad)):
        raise _BadFile(f"does not hold members [{lo}, {hi}) of chunk {i} (copied or from another sweep)")
    return arrays, legacy


def _chunk_file(res, sweep_hash, i, chunk_size, n_starts):
    """The arrays written for chunk i: its results plus the integrity fields (module doc)."""
    lo, hi = _members(i, chunk_size, n_starts)
    arrays = {**res, "_format": np.asarray(CHUNK_FORMAT), "_sweep_hash": np.asarray(sweep_hash),
              "_chunk_index": np.asarray(i, np.int64), "_chunk_size": np.asarray(chunk_size, np.int64),
              "_members": np.asarray([lo, hi], np.int64)}
    arrays["_content_hash"] = np.asarray(_content_hash(arrays))
    return arrays


def _read_manifest(path):
    """The manifest dict if it parses and its spec matches its hash, else _BadFile."""
    try:
        with open(path, "rb") as fh:
            man = json.loads(fh.read().decode())
    except PermissionError:
        raise
    except (OSError, ValueError) as err:  # JSON and UTF-8 errors are ValueErrors
        raise _BadFile(f"is not readable JSON ({_short(err)})") from None
    if not isinstance(man, dict) or not isinstance(man.get("spec"), dict) or "hash" not in man:
        raise _BadFile("is not a flowdeq sweep manifest (no spec/hash)")
    if _spec_hash(man["spec"]) != man["hash"]:
        raise _BadFile("has a spec that does not match its hash (edited)")
    return man


def _read_starts(path, spec):
    """starts.npy after checking it against the spec, else _BadFile."""
    if not os.path.exists(path):
        raise _BadFile("is missing")
    try:
        with open(path, "rb") as fh:
            a = np.load(fh, allow_pickle=False)
    except PermissionError:
        raise
    except Exception as err:  # any parse failure of an untrusted file means damaged
        raise _BadFile(f"is not a readable .npy ({_short(err)})") from None
    if (not isinstance(a, np.ndarray) or a.dtype != np.float64
            or a.shape != (spec.get("n_starts"), spec.get("n_params"))
            or _hash_arrays(a) != spec.get("starts_hash")):
        raise _BadFile("does not match the manifest's starts (shape or starts_hash)")
    return a


def _legacy_warning(out, n, stacklevel):
    warnings.warn(f"sweep in {out} has {n} chunk file(s) written by flowdeq 0.2.0 without content "
                  "hashes: they are used but cannot be verified; rerun the sweep into a new "
                  "directory to get verifiable chunks.", FutureWarning, stacklevel=stacklevel)


# ------------------------------------------------------------------ the sweep
def run_sweep(problem: Problem, starts, out: str | None = None, *, kind: str = "flow",
              step_sizes=None, settings: dict | None = None, chunk_size: int = 64,
              resume: bool = False, max_chunks: int | None = None, callback=None,
              save_paths: bool = False, progress=None, executor=None, grid=None) -> dict:
    r"""Run (or resume) a sweep; returns the merged per-member result dict.

    Parameters
    ----------
    starts : (N, p) θ₀ array (see :func:`grid_starts`, :func:`sample_starts`).
    out : directory for the manifest and chunk files; None keeps everything in memory.
    kind : "flow" or "descent"; ``step_sizes`` (m,) is required for "descent".
    settings : flow keys (t1, solver, rtol, atol, singular_eps, converged_tol, divergence_cap, n_save,
        max_steps, exact_saves) or descent keys (steps, singular_eps, converged_tol, divergence_cap).
    chunk_size : starts per chunk (fixed shape → one compilation).
    resume : continue a directory holding the same sweep (identical spec hash).  Every chunk
        file is verified first (module doc); one that fails is moved into ``out/rejected/``,
        named in a :class:`SweepChunkWarning`, and recomputed.
    max_chunks : stop with :class:`SweepInterrupted` after computing this many new chunks.
    callback : ``callback(index, chunk_result)`` after each chunk is written (an exception
        from it stops the sweep; the chunk is already on disk).
    executor : where the chunks run (see :mod:`flowdeq.executors`): None or "local" (this
        process, in order — the default), "local:N" (a Dask ``LocalCluster`` of N workers on
        127.0.0.1), "tcp://HOST:PORT" (an existing Dask scheduler), a ``distributed.Client``,
        or an executor object.  Chunks are written here, by the caller, as they arrive (in
        completion order on Dask), so ``resume`` works the same way; the executor is not part
        of the spec, so a sweep may be resumed with another one.  Results do not depend on it.
    progress : a ``tqdm`` bar over the chunks on stderr.  None (default) follows the process's
        progress mode (:mod:`flowdeq._progress`: shown when stderr is a terminal), True/False
        force it on/off, a file-like object receives it.
    grid : ``(xs, ys)`` or ``(xs, ys, chart)`` when ``starts`` is ``grid_starts``' grid over the
        chart coordinates xs × ys (:func:`grid_starts`): recorded in the manifest (checked
        against the starts, outside the spec hash) so ``load_sweep(out).to_xarray()`` returns
        a gridded Dataset.
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
    n, m = len(starts), 1 if kind == "flow" else len(step_sizes)
    n_chunks = -(-n // chunk_size)
    grid_record = None if grid is None else grid_manifest(problem, starts, grid)
    names = param_names(problem.model.layout_record(), problem.n_params)
    done = {}
    if out is not None:
        done = _open_dir(out, spec, h, starts, n_chunks, m, resume, grid_record, names)
    todo = [i for i in range(n_chunks) if i not in done]
    batch = todo if max_chunks is None else todo[: max(int(max_chunks), 0)]

    def block_of(i):
        lo, hi = _members(i, chunk_size, n)
        block = np.zeros((chunk_size, starts.shape[1]))
        block[: hi - lo] = starts[lo:hi]
        return block

    stream = None if progress in (None, True, False) else progress
    meter = _progress.bar(n_chunks, f"sweep ({kind})", unit="chunk", initial=len(done),
                          stream=stream, force=None if progress is None else progress is not False)
    try:
        _run_batch(problem, kind, batch, block_of, step_sizes, settings, save_paths, executor, done,
                   chunk_size, n, m, out, h, meter, callback)
    finally:
        meter.close()
    if len(batch) < len(todo):
        raise SweepInterrupted(f"stopped after {len(batch)} new chunk(s) (max_chunks); resume to finish.")
    return _merge(done, n_chunks, kind, step_sizes, starts, out, grid_record, spec, names)


def _run_batch(problem, kind, batch, block_of, step_sizes, settings, save_paths, executor, done,
               chunk_size, n, m, out, h, meter, callback):
    """Run the chunks ``batch`` on the executor, writing each as it arrives."""
    if batch:
        ex, owned = get_executor(executor)
        try:
            results = ex.map_chunks(problem, kind, ((i, block_of(i)) for i in batch), step_sizes,
                                    settings, save_paths)
            try:
                for i, res in results:
                    if i in done:  # a chunk delivered twice (rescheduled task) is kept once
                        continue
                    # plain NumPy, so the arrays kept here are the ones hashed and written
                    res = {k: np.asarray(v) for k, v in res.items()}
                    res["start"], res["pad"] = _start_pad(i, chunk_size, n, m)
                    if out is not None:
                        _save_npz(_chunk_path(out, i), _chunk_file(res, h, i, chunk_size, n))
                    done[i] = res
                    meter.update(1)
                    if callback is not None:
                        callback(i, res)
            finally:
                results.close()  # cancels a remote executor's outstanding chunks
        finally:
            if owned:
                ex.close()


def _open_dir(out, spec, h, starts, n_chunks, m, resume, grid_record=None, names=None):
    """Create or verify the sweep directory ``out``; returns the verified finished chunks."""
    os.makedirs(out, exist_ok=True)
    man = os.path.join(out, "manifest.json")
    st_path = os.path.join(out, "starts.npy")
    manifest = {"format": FORMAT, "spec": spec, "hash": h, "n_chunks": n_chunks,
                "chunk_format": CHUNK_FORMAT}
    # outside the spec (labels for the Dataset): a 0.2 sweep resumes with or without them
    extras = {k: v for k, v in (("grid", grid_record), ("param_names", names)) if v is not None}
    manifest.update(extras)
    if not os.path.exists(man):
        # starts first: the manifest is what marks a directory as a sweep, so it comes last
        _save_npy(st_path, starts)
        _save_manifest(man, manifest)
        return {}
    if not resume:
        raise ValueError(f"out {out} already holds a sweep: pass resume=True (--resume) to "
                         "continue it, or choose an empty directory.")

    def rejected(path, bad, then):
        dest = _reject(out, path)
        warnings.warn(f"{path} {bad}: moved to {dest}; {then}.", SweepChunkWarning, stacklevel=4)

    try:
        old = _read_manifest(man)
    except _BadFile as bad:
        # the chunks verify themselves against the new spec hash, so a fresh manifest is safe
        rejected(man, bad, "it is rewritten")
        _save_manifest(man, manifest)
        old = manifest
    if old["hash"] != h:
        raise ValueError(f"out {out} holds a different sweep (manifest spec hash differs): "
                         "use the same config to resume, or choose an empty directory.")
    if any(old.get(k) != v for k, v in extras.items()):
        _save_manifest(man, {**old, **extras})  # a sweep started before these were kept
    try:
        _read_starts(st_path, spec)
    except _BadFile as bad:
        if os.path.exists(st_path):
            rejected(st_path, bad, "it is rewritten")
        _save_npy(st_path, starts)
    verified = "chunk_format" in old  # a 0.2.0 manifest: its chunks carry no hashes
    done, legacy = {}, 0
    for i in range(n_chunks):
        path = _chunk_path(out, i)
        if not os.path.exists(path):
            continue
        try:
            done[i], old_file = _read_chunk(path, i, h, spec["chunk_size"], spec["n_starts"], m,
                                            verified)
        except _BadFile as bad:
            rejected(path, bad, "it will be recomputed")
            continue
        legacy += old_file
    if legacy:
        _legacy_warning(out, legacy, stacklevel=4)
    return done


def _merge(done, n_chunks, kind, step_sizes, starts, out=None, grid=None, spec=None, names=None):
    keys = [k for k in done[0] if k not in ("pad",)]
    for i in range(1, n_chunks):
        if set(done[i]) != set(done[0]):
            where = f" in {out}" if out is not None else ""
            raise ValueError(f"chunk_{i:05d}.npz{where} holds other fields than chunk_00000.npz: "
                             f"move it aside and {_RESUME_HINT}.")
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
    return SweepResult(res, grid=grid, spec=spec, param_names=names)


def load_sweep(out: str) -> dict:
    """Merge a finished sweep directory after verifying every file (module doc).

    Raises a one-line ValueError naming the file when the manifest or ``starts.npy`` is
    missing or inconsistent, a chunk is missing, or a chunk fails verification (unreadable,
    edited, another sweep or chunk size, another index); the fix is to resume the sweep.
    A 0.2.0 directory loads with a FutureWarning (its chunks cannot be verified).
    """
    man = os.path.join(out, "manifest.json")
    if not os.path.exists(man):
        raise ValueError(f"{man} is missing: run the sweep first (or again with resume=True / "
                         "--resume if it was started).")
    try:
        m = _read_manifest(man)
        spec = m["spec"]
        kind, c, n, etas = spec["kind"], int(spec["chunk_size"]), int(spec["n_starts"]), spec["step_sizes"]
        mult = 1 if kind == "flow" else len(etas)
    except _BadFile as bad:
        raise ValueError(f"{man} {bad}: run the sweep again with resume=True (--resume) to "
                         "rewrite it.") from None
    except (KeyError, TypeError, ValueError):
        raise ValueError(f"{man} lacks kind/chunk_size/n_starts/step_sizes: run the sweep again "
                         "with resume=True (--resume) to rewrite it.") from None
    n_chunks = -(-n // c)
    if m.get("n_chunks", n_chunks) != n_chunks:
        raise ValueError(f"{man} says {m.get('n_chunks')} chunks, its spec {n_chunks}: run the "
                         "sweep again with resume=True (--resume) to rewrite it.")
    st_path = os.path.join(out, "starts.npy")
    try:
        starts = _read_starts(st_path, spec)
    except _BadFile as bad:
        raise ValueError(f"{st_path} {bad}: run the sweep again with resume=True (--resume) to "
                         "rewrite it.") from None
    missing = [i for i in range(n_chunks) if not os.path.exists(_chunk_path(out, i))]
    if missing:
        raise ValueError(f"sweep in {out} is unfinished: {len(missing)} of {n_chunks} chunk files "
                         f"missing (first {_chunk_path(out, missing[0])}): resume it first "
                         "(resume=True / --resume).")
    done, legacy = {}, 0
    for i in range(n_chunks):
        path = _chunk_path(out, i)
        try:
            done[i], old_file = _read_chunk(path, i, m["hash"], c, n, mult, "chunk_format" in m)
        except _BadFile as bad:
            raise ValueError(f"{path} {bad}: {_RESUME_HINT} (it is moved into "
                             f"{os.path.join(out, REJECTED)}).") from None
        legacy += old_file
    if legacy:
        _legacy_warning(out, legacy, stacklevel=3)
    grid = m.get("grid")
    if grid is not None:
        try:
            check_grid(grid, starts)
        except ValueError as err:
            raise ValueError(f"{man} {err}: run the sweep again with resume=True (--resume) to "
                             "rewrite it.") from None
    return _merge(done, n_chunks, kind, etas, starts, out, grid, spec, m.get("param_names"))


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
