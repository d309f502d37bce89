"""Writing results: JSON and Markdown summaries and a run's provenance, ``run.json`` (layer L3;
figures are written by :func:`flowdeq.plot.save_fig`, since only ``plot/`` imports matplotlib).

:func:`provenance` is what a results directory needs to be reproduced or trusted later: the
versions of flowdeq and of the numerical stack, float64 on or off, the platform and JAX
backend, the git commit when flowdeq runs from a checkout, and the environment variables
that change JAX's numerics.  The ``flowdeq`` command writes it, with the command line, the
config, seeds, timestamps and the end state, into every ``--out`` as ``run.json``
(:mod:`flowdeq.app.run_record`); from Python, ``write_run_json(out, provenance(...))``.
"""
from __future__ import annotations

import datetime
import hashlib
import json
import os
import platform
import subprocess
import sys
import tomllib
from importlib import metadata

from .dynamics.trajectory import jsonable as _jsonable

__all__ = ["jsonable", "write_json", "write_md", "provenance", "write_run_json", "read_run_json",
           "now", "RUN_FORMAT", "VERSIONED"]

RUN_FORMAT = "flowdeq-run/1"
# the packages whose versions decide a result (numerics, solvers) or its files
VERSIONED = ("flowdeq", "jax", "jaxlib", "diffrax", "equinox", "optimistix", "lineax", "numpy",
             "scipy", "matplotlib", "ml_dtypes", "tqdm", "xarray", "h5netcdf", "dask")
# environment variables that change what JAX computes or where
_ENV = ("JAX_ENABLE_X64", "JAX_PLATFORMS", "JAX_DEFAULT_MATMUL_PRECISION", "XLA_FLAGS",
        "FLOWDEQ_NO_CACHE", "FLOWDEQ_PROGRESS", "CUDA_VISIBLE_DEVICES")


def jsonable(obj):
    """JSON-ready ``obj`` for summaries: non-finite numbers become null."""
    return _jsonable(obj, nonfinite=lambda v: None)


def write_json(out, name, obj):
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, name)
    with open(path, "w") as fh:
        json.dump(jsonable(obj), fh, indent=2)
    return path


def write_md(out, lines, name="summary.md"):
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, name)
    with open(path, "w") as fh:
        fh.write("\n".join(lines).rstrip() + "\n")
    return path


# ------------------------------------------------------------------ provenance
def now() -> str:
    """The local time with its UTC offset, ISO 8601 to the millisecond."""
    return datetime.datetime.now().astimezone().isoformat(timespec="milliseconds")


def _versions() -> dict:
    out = {"python": platform.python_version()}
    for name in VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None  # an optional extra that is not installed
    return out


def _git() -> dict | None:
    """The commit of the checkout flowdeq runs from (None for an installed wheel)."""
    here = os.path.dirname(os.path.abspath(__file__))

    def git(*args):
        return subprocess.run(["git", "-C", here, *args], capture_output=True, text=True,
                              timeout=10, check=True).stdout.strip()

    try:
        git("ls-files", "--error-unmatch", "__init__.py")  # flowdeq itself is tracked here
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
        return {"commit": commit, "dirty": dirty, "root": git("rev-parse", "--show-toplevel")}
    except (OSError, subprocess.SubprocessError):
        return None


def _platform() -> dict:
    import jax  # import cost: `flowdeq study --list` and --help record nothing and need no JAX

    try:
        devices = [str(d) for d in jax.devices()]
        backend = jax.default_backend()
    except RuntimeError:  # no backend could be initialised
        devices, backend = [], None
    return {"system": platform.system(), "release": platform.release(),
            "machine": platform.machine(), "python_implementation": platform.python_implementation(),
            "executable": sys.executable, "jax_backend": backend, "devices": devices}


def _seeds(raw, path=()) -> dict:
    """Every ``seed`` key of a config, by its table path (``data.seed``, ``sweep.sample.seed``)."""
    found = {}
    if isinstance(raw, dict):
        for k, v in raw.items():
            if k == "seed" and not isinstance(v, dict):
                found[".".join(path + (k,))] = v
            else:
                found.update(_seeds(v, path + (str(k),)))
    return found


def config_record(path) -> dict:
    """The exact config file: its absolute path, sha256 and text, its TOML seeds, and the
    sha256 of the data file its ``[data] path`` names."""
    path = os.path.abspath(os.fspath(path))
    with open(path, "rb") as fh:
        data = fh.read()
    text = data.decode("utf-8", errors="replace")
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        raw = {}
    rec = {"path": path, "sha256": hashlib.sha256(data).hexdigest(), "text": text,
           "seeds": _seeds(raw)}
    file = raw.get("data", {}).get("path") if isinstance(raw.get("data"), dict) else None
    if isinstance(file, str):
        full = file if os.path.isabs(file) else os.path.join(os.path.dirname(path), file)
        try:
            with open(full, "rb") as fh:
                rec["data_file"] = {"path": full, "sha256": hashlib.sha256(fh.read()).hexdigest()}
        except OSError:
            rec["data_file"] = {"path": full, "sha256": None}
    return rec


def provenance(config=None, seeds: dict | None = None, command=None, **extra) -> dict:
    """What produced a result: a JSON-able dict for ``run.json``.

    Holds the versions of flowdeq, jax, jaxlib, diffrax, equinox, optimistix, numpy, scipy
    (and the rest of :data:`VERSIONED`, None where not installed), ``x64`` (JAX float64 on),
    the platform and JAX backend/devices, the git commit (and whether the checkout had
    uncommitted changes) when flowdeq runs from a checkout, the environment variables that
    change JAX's numerics, and the time.  ``config``: a config file path (its text and
    sha256 are copied in, its seeds listed); ``seeds``: seeds set in code; ``command``: the
    command line (default ``sys.argv``); ``extra``: anything else to record.
    """
    import jax  # import cost: as in _platform

    rec = {"format": RUN_FORMAT, "time": now(),
           "command": {"argv": list(sys.argv if command is None else command), "cwd": os.getcwd()},
           "versions": _versions(), "x64": bool(jax.config.jax_enable_x64),
           "platform": _platform(), "git": _git(),
           "environment": {k: os.environ[k] for k in _ENV if k in os.environ}}
    if config is not None:
        rec["config"] = config_record(config)
    rec["seeds"] = {**(rec.get("config", {}).get("seeds", {})), **(seeds or {})}
    rec.update(extra)
    return rec


def write_run_json(out, record: dict, name: str = "run.json") -> str:
    """Write ``record`` to ``out/run.json`` atomically.  A run.json already there (an earlier
    or interrupted run into the same directory, e.g. before a ``--resume``) is kept in the new
    record's ``history`` list, so no run's provenance is lost."""
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, name)
    old = read_run_json(out, name, missing_ok=True)
    record = dict(record)
    if old is not None and old.get("run_id") != record.get("run_id"):
        record["history"] = old.pop("history", []) + [old]
    elif old is not None:
        record.setdefault("history", old.get("history", []))
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w") as fh:
        json.dump(jsonable(record), fh, indent=2, ensure_ascii=False)
        fh.write("\n")
    os.replace(tmp, path)
    return path


def read_run_json(out, name: str = "run.json", missing_ok: bool = False) -> dict | None:
    """The run record of ``out`` (ValueError naming the file if it is not readable JSON)."""
    path = os.path.join(out, name)
    if not os.path.exists(path):
        if missing_ok:
            return None
        raise ValueError(f"{path} is missing: this directory was not written by the flowdeq "
                         "command (or by write_run_json).")
    try:
        with open(path, encoding="utf-8") as fh:
            rec = json.load(fh)
    except (OSError, ValueError) as err:
        if missing_ok:
            return None
        raise ValueError(f"{path} is not readable JSON ({err}).") from None
    return rec if isinstance(rec, dict) else None
