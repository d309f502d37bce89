"""JAX's persistent compilation cache, switched on for the ``flowdeq`` command.

Compiling a flow solve (diffrax Kvaerno5 with events, under ``vmap``) takes 2–4 s of
XLA time per model type; with the cache a later process loads the executable
instead.  Measured on the ``paper`` study (2 cores): 14.9 s → 9.2 s for the second
process (docs/performance.md).  Tracing (~2 s per flow) is not cached by JAX.

The command line turns the cache on by default; the library does not (importing
flowdeq writes nothing).  Scripts and notebooks opt in with
:func:`enable_compilation_cache`.  ``FLOWDEQ_NO_CACHE=1`` turns it off everywhere, and a
``JAX_COMPILATION_CACHE_DIR`` the user has set is kept.
"""
from __future__ import annotations

import os

__all__ = ["enable_compilation_cache", "default_cache_dir"]


def default_cache_dir() -> str:
    """``$XDG_CACHE_HOME/flowdeq/jax`` (``~/.cache/flowdeq/jax`` when unset)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "flowdeq", "jax")


def enable_compilation_cache(path: str | None = None, min_compile_secs: float = 0.2) -> str | None:
    """Point JAX's persistent compilation cache at ``path`` and return it.

    Parameters
    ----------
    path : directory for the cache; default: ``JAX_COMPILATION_CACHE_DIR`` if set, else
        :func:`default_cache_dir`.
    min_compile_secs : only executables that took at least this long to compile are
        written (JAX's default, 1 s, would skip the GD scan, ~0.4 s).

    Returns None (and changes nothing) when ``FLOWDEQ_NO_CACHE`` is set to a non-empty
    value other than ``0``.  Call it before the first compilation of the process: JAX
    fixes its cache settings when it first compiles.
    """
    if os.environ.get("FLOWDEQ_NO_CACHE", "") not in ("", "0"):
        return None
    import jax  # import cost: `flowdeq study --list` and --help never load JAX

    from .._programs import set_program_cache  # import cost: JAX and equinox, as above

    path = path or os.environ.get("JAX_COMPILATION_CACHE_DIR") or default_cache_dir()
    try:
        os.makedirs(path, exist_ok=True)
    except OSError:  # read-only home, say: run uncached rather than fail
        return None
    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", float(min_compile_secs))
    # flowdeq's own solves are kept whole (traced, lowered and compiled: flowdeq._programs)
    set_program_cache(os.path.join(path, "flowdeq-programs"))
    return path
