r"""Progress on stderr, in one place: every verb, study and long library call reports through here.

Three things, all written to **stderr** (never stdout, which carries results):

* :func:`report` — a stage line, ``flowdeq paper [2/5] sigmoid DEQ: GD, 4000 steps (3.1 s)``:
  what is being computed and how far along a study or job is;
* :func:`bar` — a ``tqdm`` progress bar over countable work (sweep chunks, members);
* :func:`solve_meter` — whether a single long flow should show diffrax's in-solve meter
  (``diffrax.TqdmProgressMeter``; it costs a compile of its own, see ``gradient_flow``).

One process-wide mode decides (:func:`configure`; the CLI sets it from ``--quiet`` /
``--progress``):

=========  ===============================================================================
"auto"     (default) stage lines and bars iff stderr is a terminal; no in-solve meter
"on"       stage lines and bars even when stderr is not a terminal, and the in-solve meter
"off"      nothing (``--quiet``); warnings and errors still print
=========  ===============================================================================

A study adds progress with two lines::

    from flowdeq._progress import Stages
    stages = Stages("my-study", total=3)
    stages("computing the flows")          # prints [1/3] …, then [2/3] … on the next call

tqdm is imported only when a bar is shown (import cost: ``import flowdeq`` stays free of it).
"""
from __future__ import annotations

import os
import sys
import time

__all__ = ["configure", "mode", "enabled", "solve_meter", "report", "bar", "Stages"]

_MODES = ("auto", "on", "off")
_state = {"mode": os.environ.get("FLOWDEQ_PROGRESS", "auto").lower()}
if _state["mode"] not in _MODES:  # a typo in the environment must not break a run
    _state["mode"] = "auto"


def configure(mode: str) -> str:
    """Set the process-wide progress mode ("auto", "on" or "off"); returns the previous one."""
    if mode not in _MODES:
        raise ValueError(f"progress mode is {mode!r}: use one of {', '.join(map(repr, _MODES))}.")
    old, _state["mode"] = _state["mode"], mode
    return old


def mode() -> str:
    return _state["mode"]


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # a closed or stream-less stderr
        return False


def enabled(stream=None) -> bool:
    """Whether stage lines and bars are shown (on ``stream``, default stderr)."""
    m = _state["mode"]
    return m == "on" or (m == "auto" and _isatty(stream if stream is not None else sys.stderr))


def solve_meter() -> bool:
    """Whether a single flow shows diffrax's in-solve progress meter: only when asked ("on")."""
    return _state["mode"] == "on"


def report(message: str, *, stream=None) -> None:
    """One stage line on stderr: ``flowdeq: message``."""
    stream = stream if stream is not None else sys.stderr
    if enabled(stream):
        print(f"flowdeq: {message}", file=stream, flush=True)


def bar(total: int, desc: str, *, unit: str = "it", initial: int = 0, stream=None, force=None):
    """A ``tqdm`` bar on stderr (or ``stream``), disabled unless :func:`enabled`.

    ``force`` True/False overrides the mode (a library caller's explicit ``progress=``)."""
    stream = stream if stream is not None else sys.stderr
    on = enabled(stream) if force is None else bool(force)
    if not on:
        return _NoBar()
    import tqdm  # import cost: 0.03 s, paid only by a process that shows progress

    return tqdm.tqdm(total=total, desc=desc, unit=unit, initial=initial, file=stream,
                     disable=not on, dynamic_ncols=True, leave=True)


class _NoBar:
    """What a disabled bar needs to answer, without importing tqdm."""

    def update(self, n=1):
        pass

    def close(self):
        pass

    def set_postfix_str(self, *args, **kwargs):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class Stages:
    """Numbered stage lines for a job or study: ``Stages(name, total)("what")`` prints
    ``flowdeq name [k/total] what (elapsed s)`` and counts k up."""

    def __init__(self, name: str, total: int | None = None, stream=None):
        self.name, self.total, self.k, self.stream = name, total, 0, stream
        self.t0 = time.perf_counter()

    def __call__(self, what: str) -> None:
        self.k += 1
        of = f"{self.k}/{self.total}" if self.total else f"{self.k}"
        report(f"{self.name} [{of}] {what} ({time.perf_counter() - self.t0:.1f} s)",
               stream=self.stream)

    def done(self, what: str = "done") -> None:
        report(f"{self.name}: {what} in {time.perf_counter() - self.t0:.1f} s", stream=self.stream)
