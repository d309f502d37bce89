"""Run settings: the only copy of each default of a flow or a GD run.

The Python API (``gradient_flow(..., rtol=...)``), the TOML config (``[flow]``,
``[descent]``) and the CLI all build these objects, so a default changed here changes
everywhere.  Each value is checked when the object is built: a bad one is a ``ValueError``
naming the setting and the fix.  Values enter jitted code as arrays, so new values do not
recompile (tests/test_recompile.py).
"""
from __future__ import annotations

import dataclasses

import numpy as np

from .._validate import nonneg, positive

__all__ = ["FlowSettings", "DescentSettings"]


def _replace(cls, base, kw, what):
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(kw) - names
    if unknown:
        raise ValueError(f"unknown {what} setting(s) {sorted(unknown)}: valid are {sorted(names)}.")
    return dataclasses.replace(base, **kw) if base is not None else cls(**kw)


@dataclasses.dataclass(frozen=True)
class FlowSettings:
    """Settings of :func:`flowdeq.gradient_flow` (see its docstring for each)."""

    t1: float | None = None
    t0: float = 0.0
    solver: object = "kvaerno5"
    rtol: float = 1e-10
    atol: float = 1e-12
    singular_eps: float = 1e-6
    converged_tol: float = 1e-10
    divergence_cap: float = 1e10
    risk_tol: float = 1e-8
    n_save: int = 201
    ts: object = None
    max_steps: int = 100_000
    chunk_size: int = 1024
    exact_saves: bool | None = None
    save_steps: bool = False

    def __post_init__(self):
        set_ = lambda k, v: object.__setattr__(self, k, v)
        set_("rtol", positive("rtol", self.rtol))
        set_("atol", positive("atol", self.atol))
        set_("singular_eps", nonneg("singular_eps", self.singular_eps))
        set_("converged_tol", nonneg("converged_tol", self.converged_tol))
        set_("divergence_cap", positive("divergence_cap", self.divergence_cap))
        set_("risk_tol", nonneg("risk_tol", self.risk_tol))
        t0 = float(self.t0)
        if not np.isfinite(t0):
            raise ValueError(f"t0 is {self.t0!r}: give a finite start time.")
        set_("t0", t0)
        if self.t1 is not None:
            t1 = float(self.t1)
            if not np.isfinite(t1) or t1 <= t0:
                raise ValueError(f"t1 is {self.t1!r}: give a finite end time greater than t0 = {t0:g}.")
            set_("t1", t1)
        if int(self.n_save) != self.n_save or int(self.n_save) < 2:
            raise ValueError(f"n_save is {self.n_save!r}: save at least 2 points.")
        set_("n_save", int(self.n_save))
        for k in ("max_steps", "chunk_size"):
            v = getattr(self, k)
            if isinstance(v, bool) or int(v) != v or int(v) < 1:
                raise ValueError(f"{k} is {v!r}: give a positive integer.")
            set_(k, int(v))
        if self.exact_saves is not None and not isinstance(self.exact_saves, (bool, np.bool_)):
            raise ValueError(f"exact_saves is {self.exact_saves!r}: give true, false or leave it "
                             "out (automatic).")
        if not isinstance(self.save_steps, (bool, np.bool_)):
            raise ValueError(f"save_steps is {self.save_steps!r}: give true or false.")
        set_("save_steps", bool(self.save_steps))

    @classmethod
    def build(cls, base=None, **kw) -> "FlowSettings":
        """``base`` (or the defaults) with the given settings replaced."""
        return _replace(cls, base, kw, "flow")

    def save_times(self) -> np.ndarray:
        """The save grid: ``ts`` with t0 and t1 added, or ``n_save`` uniform points."""
        if self.t1 is None:
            raise ValueError("t1 is missing: give the final time of the flow (e.g. t1=10).")
        if self.ts is None:
            return np.linspace(self.t0, self.t1, self.n_save)
        ts = np.asarray(self.ts, dtype=float)
        if ts.ndim != 1 or ts.size < 1 or np.any(np.diff(ts) <= 0) or not np.all(np.isfinite(ts)):
            raise ValueError("ts must be a finite, strictly increasing 1-D array of save times.")
        if ts[0] < self.t0 or ts[-1] > self.t1:
            raise ValueError(f"ts must lie within [t0, t1] = [{self.t0:g}, {self.t1:g}].")
        return np.unique(np.concatenate([[self.t0], ts, [self.t1]]))


@dataclasses.dataclass(frozen=True)
class DescentSettings:
    """Settings of :func:`flowdeq.gradient_descent` (see its docstring for each)."""

    step_size: object = None
    steps: int | None = None
    singular_eps: float = 1e-6
    converged_tol: float = 1e-10
    divergence_cap: float = 1e10
    risk_tol: float = 1e-8

    def __post_init__(self):
        set_ = lambda k, v: object.__setattr__(self, k, v)
        set_("singular_eps", nonneg("singular_eps", self.singular_eps))
        set_("converged_tol", nonneg("converged_tol", self.converged_tol))
        set_("divergence_cap", positive("divergence_cap", self.divergence_cap))
        set_("risk_tol", nonneg("risk_tol", self.risk_tol))
        if self.steps is not None:
            if isinstance(self.steps, bool) or int(self.steps) != self.steps or self.steps < 0:
                raise ValueError(f"steps is {self.steps!r}: give a non-negative integer.")
            set_("steps", int(self.steps))
        if self.step_size is not None:
            eta = np.atleast_1d(np.asarray(self.step_size, dtype=float))
            if eta.ndim != 1 or eta.size == 0 or not np.all(np.isfinite(eta)) or np.any(eta <= 0):
                raise ValueError(f"step_size is {self.step_size!r}: give η > 0 (a number or a "
                                 "1-D array).")

    @classmethod
    def build(cls, base=None, **kw) -> "DescentSettings":
        """``base`` (or the defaults) with the given settings replaced."""
        return _replace(cls, base, kw, "descent")

    def step_sizes(self) -> np.ndarray:
        if self.step_size is None:
            raise ValueError("step_size is missing: give the GD step size η > 0.")
        return np.atleast_1d(np.asarray(self.step_size, dtype=float))
