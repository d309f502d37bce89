r"""Traced programs kept across processes: ``persistent_jit``, an ``eqx.filter_jit`` whose
traced and lowered program a later process loads instead of tracing it again.

JAX's persistent compilation cache skips only XLA: every new process still traces and lowers
each solve (a Kvaerno5 flow with events: ~1–2 s of the ~5 s it takes to compile), and the main
job's later runs spent half their time doing so (docs/performance.md, entry 20).  Here the
lowered program is stored with ``jax.export`` (StableHLO, JAX's supported serialisation) under a
key that names everything the program depends on; a later call with the same key deserialises
it (milliseconds) and XLA's part comes from JAX's own cache as before.  (Serialising the
compiled executable instead was 2× faster to load but is unsafe: an executable that JAX's cache
itself had loaded re-serialises without its kernels, "Function … not found" at run time.)

The key is a SHA-256 over

* the function (module and qualified name) and the SHA-256 of flowdeq's own source files;
* every non-array argument, written out field by field (equinox modules through their dataclass
  fields, functions by module and name) and every array argument's shape, dtype and weak type;
* the versions of Python, jax, jaxlib, equinox, diffrax, optimistix, lineax, numpy and scipy,
  JAX's configuration values, equinox's error mode, the XLA/TF/equinox environment variables,
  the backend (platform, device kind and count) and the CPU's feature flags.

An argument that cannot be written out exactly — a user's model class, a lambda or a closure
(their code is not in the key), any object of a library outside that list — makes the call
fall back to the plain ``eqx.filter_jit`` path, so a stored program is never reused for code
the key does not cover.  So is a call inside a trace (tracer arguments).  A stored file is
checked against the SHA-256 of its payload before it is used; a damaged one is removed and the
program traced afresh.  A program with host callbacks cannot be exported and is not stored.
Programs that call LAPACK (the Kvaerno stages' LU solves) record it, and jaxlib's LAPACK table
is initialised before such a program is loaded (jaxlib fills it while lowering, which a loaded
program skips; calling it uninitialised crashes the process).

Off until :func:`set_program_cache` names a directory: the ``flowdeq`` command turns it on
beside JAX's cache (``flowdeq.app.cache``); ``FLOWDEQ_NO_CACHE=1`` keeps both off.
"""
from __future__ import annotations

import dataclasses
import enum
import functools
import hashlib
import importlib.metadata
import json
import os
import pathlib
import platform
import re
import sys
import types
import zipfile

import equinox as eqx
import jax
import numpy as np

__all__ = ["persistent_jit", "set_program_cache", "program_cache_dir", "ProgramStats", "STATS"]

# types and functions whose behaviour the key covers: flowdeq's own (by its source hash) and
# these libraries' (by their versions)
_TRUSTED = ("flowdeq", "jax", "jaxlib", "numpy", "equinox", "diffrax", "optimistix", "lineax",
            "builtins", "math", "operator")
_VERSIONED = ("jax", "jaxlib", "equinox", "diffrax", "optimistix", "lineax", "numpy", "scipy",
              "ml_dtypes")
_FORMAT = "flowdeq-program/1"  # a jax.export serialisation + the output tree


@dataclasses.dataclass
class ProgramStats:
    """Counts of this process's calls through :func:`persistent_jit` (for tests and the
    benchmarks): ``loaded`` from disk, ``compiled`` (traced here) and stored, ``memory``
    hits, ``fallback`` to plain jit (cache off, tracer or untrusted argument), ``unstored``
    (traced but not serialisable), ``rejected`` (a damaged file, removed)."""

    loaded: int = 0
    compiled: int = 0
    memory: int = 0
    fallback: int = 0
    unstored: int = 0
    rejected: int = 0


STATS = ProgramStats()
_DIR: pathlib.Path | None = None
_MEMORY: dict = {}


def set_program_cache(path) -> str | None:
    """Store compiled programs under ``path`` (None turns the cache off); returns it."""
    global _DIR
    _DIR = None if path is None else pathlib.Path(path)
    if _DIR is not None:
        _DIR.mkdir(parents=True, exist_ok=True)
    return None if _DIR is None else str(_DIR)


def program_cache_dir() -> str | None:
    return None if _DIR is None else str(_DIR)


class _Untrusted(Exception):
    """An argument the key cannot describe exactly: use the plain jit path."""


def _qualname(obj) -> str:
    mod = getattr(obj, "__module__", None) or ""
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None) or ""
    if not mod.split(".")[0] in _TRUSTED or not name or "<" in name:
        raise _Untrusted(f"{mod}.{name}")
    return f"{mod}.{name}"


def _describe(x) -> str:
    """The argument written out exactly (arrays by their abstract value), or _Untrusted."""
    if x is None or isinstance(x, (bool, int, float, complex, str, bytes)):
        return f"{type(x).__name__}:{x!r}"
    if eqx.is_array(x):
        aval = jax.typeof(x) if not isinstance(x, (np.ndarray, np.generic)) else None
        weak = bool(getattr(aval, "weak_type", False))
        return f"array{np.shape(x)}{np.dtype(x.dtype).str}{'w' if weak else ''}"
    if isinstance(x, (tuple, list)):
        return f"{type(x).__name__}[{','.join(map(_describe, x))}]"
    if isinstance(x, dict):
        return "dict{" + ",".join(f"{k!r}:{_describe(x[k])}" for k in sorted(x, key=repr)) + "}"
    if isinstance(x, enum.Enum):
        return f"{_qualname(type(x))}.{x.name}"
    if type(x).__name__ == "_Untraced" and type(x).__module__ == "flowdeq.problem":
        return "untraced"  # Problem's data rule: jitted code never reads it (problem.py)
    if isinstance(x, types.MethodType):  # the bound object is part of the behaviour
        return f"method:{_describe(x.__self__)}.{_qualname(x.__func__)}"
    if isinstance(x, eqx.Module):
        fields = ",".join(f"{f.name}={_describe(getattr(x, f.name, None))}"
                          for f in dataclasses.fields(x))
        return f"{_qualname(type(x))}({fields})"
    if isinstance(x, (types.FunctionType, types.BuiltinFunctionType, np.ufunc)) or (
            callable(x) and hasattr(x, "__qualname__") and not isinstance(x, type)):
        return f"fn:{_qualname(x)}"
    if isinstance(x, type):
        return f"type:{_qualname(x)}"
    raise _Untrusted(type(x).__qualname__)


@functools.cache
def _environment() -> str:
    """Everything outside the arguments that a compiled program depends on."""
    root = pathlib.Path(__file__).resolve().parent
    src = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        src.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    versions = {}
    for name in _VERSIONED:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "absent"
    # JAX_* variables are not listed: JAX reads them into its configuration, which the key holds
    # (_settings), and JAX_ENABLE_X64 is set by flowdeq itself only when JAX is not yet imported
    env = {k: v for k, v in os.environ.items()
           if k.startswith(("XLA_", "EQX_", "TF_")) and "CACHE" not in k and "LOG" not in k}
    dev = jax.devices()[0]
    cpu = ""
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next((line for line in fh if line.startswith("flags")), "")
    except OSError:
        pass
    return json.dumps({"format": _FORMAT, "flowdeq_source": src.hexdigest(), "python": sys.version,
                       "versions": versions, "env": env,
                       "backend": [dev.platform, dev.device_kind, jax.device_count(),
                                   getattr(dev.client, "platform_version", "")],
                       "machine": [platform.machine(), hashlib.sha256(cpu.encode()).hexdigest()]},
                      sort_keys=True)


def _settings() -> str:
    """JAX's configuration and equinox's error mode now: they can change within a process."""
    config = sorted((k, repr(v)) for k, v in jax.config.values.items()
                    if "cache" not in k and "log" not in k)
    errors = sys.modules.get("equinox._errors")
    return repr((config, getattr(errors, "EQX_ON_ERROR", None)))


def _key(fn, args) -> str:
    h = hashlib.sha256(_environment().encode())
    h.update(f"{_settings()}\0{fn.__module__}.{fn.__qualname__}\0{_describe(args)}".encode())
    return h.hexdigest()


def _init_lapack():
    # jaxlib fills its LAPACK table while lowering a linear solve; a loaded program is not
    # lowered that way, and calling the empty table crashes the process
    from jaxlib import lapack  # import cost: only programs that call LAPACK need it

    lapack.prepare_lapack_call("getrf", np.dtype("float64"))


def _load(path):
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            payload = z["payload"].tobytes()
            out_tree = z["out_tree"].tobytes()
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None
    if meta.get("format") != _FORMAT or hashlib.sha256(payload).hexdigest() != meta.get("sha256"):
        return None
    if meta.get("lapack"):
        _init_lapack()
    exported = jax.export.deserialize(bytearray(payload))
    out = jax.tree_util.PyTreeDef.deserialize_using_proto(jax.tree_util.default_registry,
                                                          out_tree)
    return _runner(exported, meta["function"].rsplit(".", 1)[-1]), out


def _runner(exported, name):
    """The exported program as a jitted callable named like the function it came from (so
    JAX's logs and its cache files say ``jit__solve``, not ``jit_call``)."""
    def run(leaves):
        return exported.call(leaves)

    run.__name__ = run.__qualname__ = name
    return jax.jit(run)


def _store(path, fn, exported, out_tree) -> bool:
    targets = set(re.findall(r"stablehlo\.custom_call @([A-Za-z0-9_]+)",
                             exported.mlir_module()))
    if any(not t.startswith("lapack_") for t in targets):
        return False  # a custom call jaxlib may prepare lazily, as it does LAPACK's: not kept
    try:
        payload = bytes(exported.serialize())
        tree = out_tree.serialize_using_proto()
    except Exception:  # an output tree with custom nodes; flatbuffers missing
        return False
    meta = {"format": _FORMAT, "function": f"{fn.__module__}.{fn.__qualname__}",
            "sha256": hashlib.sha256(payload).hexdigest(), "lapack": bool(targets)}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            np.savez(fh, payload=np.frombuffer(payload, np.uint8),
                     out_tree=np.frombuffer(tree, np.uint8), meta=np.asarray(json.dumps(meta)))
        os.replace(tmp, path)
    except OSError:  # a full or read-only disk: the program still runs, it is just not kept
        tmp.unlink(missing_ok=True)
        return False
    return True


def _resolve(fn, args, static, leaves, treedef):
    key = _key(fn, args)
    hit = _MEMORY.get(key)
    if hit is not None:
        STATS.memory += 1
        return hit
    path = _DIR / f"{key}.npz"
    if path.exists():
        hit = _load(path)
        if hit is None:
            STATS.rejected += 1
            path.unlink(missing_ok=True)
        else:
            STATS.loaded += 1
    if hit is None:
        traced = {}

        def flat(leaves):
            out = fn(*eqx.combine(jax.tree_util.tree_unflatten(treedef, leaves), static))
            traced["tree"] = jax.tree_util.tree_structure(out)
            return jax.tree_util.tree_leaves(out)

        flat.__name__ = flat.__qualname__ = fn.__name__
        try:
            exported = jax.export.export(jax.jit(flat))(leaves)
        except Exception:  # e.g. a host callback, which export refuses: not kept
            STATS.unstored += 1
            raise _Untrusted("not exportable") from None
        STATS.compiled += 1
        if not _store(path, fn, exported, traced["tree"]):
            STATS.unstored += 1
        hit = (_runner(exported, fn.__name__), traced["tree"])
    _MEMORY[key] = hit
    return hit


def persistent_jit(fn):
    """``eqx.filter_jit(fn)`` whose compiled programs persist across processes once
    :func:`set_program_cache` names a directory (module doc).  Same results bit for bit: a
    loaded program is the same StableHLO, compiled by the same XLA.  ``fn`` must return a
    pytree of arrays."""
    jitted = eqx.filter_jit(fn)

    @functools.wraps(fn)
    def call(*args):
        if _DIR is None:
            return jitted(*args)
        dyn, static = eqx.partition(args, eqx.is_array)
        leaves, treedef = jax.tree_util.tree_flatten(dyn)
        if any(isinstance(leaf, jax.core.Tracer) for leaf in leaves):
            STATS.fallback += 1
            return jitted(*args)  # inside another trace: inline, as filter_jit does
        try:
            exe, out_tree = _resolve(fn, args, static, leaves, treedef)
        except _Untrusted:
            STATS.fallback += 1
            return jitted(*args)
        return jax.tree_util.tree_unflatten(out_tree, exe(leaves))

    call.jitted = jitted
    call.lower = jitted.lower  # as filter_jit's: inspect the program (tests/test_recompile.py)
    return call
