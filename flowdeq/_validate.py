"""Argument checks shared by the flow and the GD map: a bad number is a ValueError that
names the argument and says what to give instead."""
from __future__ import annotations

import os

import jax
import numpy as np


def positive(name, value) -> float:
    v = float(value)
    if not np.isfinite(v) or v <= 0:
        raise ValueError(f"{name} is {value!r}: give a positive finite number.")
    return v


def nonneg(name, value) -> float:
    v = float(value)
    if not np.isfinite(v) or v < 0:
        raise ValueError(f"{name} is {value!r}: give a finite number ≥ 0.")
    return v


def device(x):
    """Host numbers → a float64 JAX array without a compilation: ``jnp.asarray`` and
    ``jnp.array`` of host data compile a small conversion program per new shape
    (10–50 ms each, ~0.1 s of every process start); ``device_put`` of a NumPy array
    does not."""
    return jax.device_put(np.asarray(x, dtype=np.float64))


def integer(name, value, minimum=0) -> int:
    """An integer setting: a bool, a fraction or a string is an error, not truncated."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer, float, np.floating)):
        raise ValueError(f"{name} is {value!r}: give a whole number ≥ {minimum}.")
    if isinstance(value, (float, np.floating)) and (not np.isfinite(value) or value != int(value)):
        raise ValueError(f"{name} is {value!r}: give a whole number ≥ {minimum}.")
    v = int(value)
    if v < minimum:
        raise ValueError(f"{name} is {value!r}: give a whole number ≥ {minimum}.")
    return v


def available_memory() -> int:
    """Bytes the process may still allocate: the accelerator's free memory where JAX reports
    it, else the host's available RAM (/proc/meminfo MemAvailable, or physical pages)."""
    try:
        stats = jax.devices()[0].memory_stats() or {}
        if "bytes_limit" in stats:
            return int(stats["bytes_limit"] - stats.get("bytes_in_use", 0))
    except Exception:  # backends without memory_stats (CPU) raise or return None
        pass
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")


def _human(nbytes: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if nbytes < 1024 or unit == "PiB":
            return f"{nbytes:.3g} {unit}"
        nbytes /= 1024
    return f"{nbytes:.3g} PiB"


def check_size(key: str, nbytes: float, what: str = "") -> None:
    """Refuse, before allocating, a request estimated at more than half the free memory.

    ``key`` names the setting to lower; ``what`` says what the estimate counts."""
    free = available_memory()
    if not np.isfinite(nbytes) or nbytes > 0.5 * free:
        detail = f" ({what})" if what else ""
        raise ValueError(f"{key} asks for about {_human(float(nbytes))}{detail}, more than half of "
                         f"the {_human(free)} free: lower {key}.")


def reals(name, value) -> np.ndarray:
    """Real numbers (a number or a nested list/array of them) as a float64 array: a bool, a
    string or a complex number is an error, never cast (NumPy would turn True into 1.0 and
    drop an imaginary part)."""
    def walk(v):
        if isinstance(v, (list, tuple)):
            for u in v:
                walk(u)
        elif isinstance(v, (bool, np.bool_, str, bytes)) or isinstance(v, (complex, np.complexfloating)):
            raise ValueError(f"{name} holds {v!r}: give real numbers.")

    walk(value)
    a = np.asarray(value)
    if a.dtype.kind == "c":
        raise ValueError(f"{name} is complex: give real numbers (e.g. its .real part, if that is meant).")
    if a.dtype.kind not in "iuf":
        raise ValueError(f"{name} has {a.dtype} entries: give real numbers.")
    return a.astype(np.float64)


def output_dir(out, flag: str = "--out") -> str:
    """Create the output directory ``out`` (parents too) and prove it writable, before any
    work is done: a result computed for a path it cannot be written to is lost."""
    out = os.fspath(out)
    if os.path.exists(out) and not os.path.isdir(out):
        raise ValueError(f"{flag} {out} is an existing file: give a directory (it is created if "
                         "missing).")
    try:
        os.makedirs(out, exist_ok=True)
        # a probe file: os.access misses read-only mounts and ACLs
        probe = os.path.join(out, f".flowdeq-write-test-{os.getpid()}")
        with open(probe, "w"):
            pass
        os.remove(probe)
    except OSError as err:
        raise ValueError(f"{flag} {out} is not writable ({err.strerror or err}): give a directory "
                         "you can write to.") from None
    return out
