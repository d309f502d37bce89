r"""TOML run configurations → ``Problem``, θ₀ and run settings.

Tables (all keys optional unless marked):

``[model]``   kind = "linear" | "single-index" | "package.module:Class" (required); activation
              (single-index), bias, dim.  A user class (an ``AbstractDEQ``) gets the table's
              other keys as constructor keywords, and ``dim`` from the target if it takes one;
              its module is imported as is or, failing that, from the config file's folder
``[target]``  xi (required), activation (given → f = σ(ξᵀx); absent → f = ξᵀx), kind
``[data]``    law = "uniform" | "gaussian" | "empirical" (required); uniform: low, high, dim;
              gaussian: mean, cov; empirical: path (relative to the config file);
              rule = "quadrature" | "monte-carlo" | "samples"; nodes; samples; seed
``[init]``    theta0 = [...] or [[...], ...]; or mean, std, seed, count (θ₀ ~ N(mean, std²I))
``[flow]``    t1 (required for flow) and any other :class:`~flowdeq.FlowSettings` field
``[descent]`` step_size, steps (required for descent) and any other ``DescentSettings`` field

Extra tables (e.g. ``[portrait]``, ``[sweep]``, ``[theory]``) are kept in
``RunConfig.extra`` for the commands that read them.  Every number is checked: a NaN
or infinity anywhere, an unknown key, or a wrong type is a ``ValueError`` that names
the key.
"""
from __future__ import annotations

import dataclasses
import importlib
import inspect
import math
import os
import sys
import tomllib
from dataclasses import dataclass, field

import numpy as np

from ..data import Empirical, Gaussian, Uniform
from ..dynamics.settings import DescentSettings, FlowSettings
from ..models import AbstractDEQ, LinearDEQ, LinearTarget, SingleIndexDEQ, SingleIndexTarget
from ..problem import Problem

__all__ = ["RunConfig", "load_config", "parse_config"]

_KEYS = {
    "target": {"kind", "xi", "activation"},
    "data": {"law", "low", "high", "dim", "mean", "cov", "path", "rule", "nodes", "samples", "seed"},
    "init": {"theta0", "mean", "std", "seed", "count"},
    # the settings objects hold the only list of run settings (and their defaults)
    "flow": {f.name for f in dataclasses.fields(FlowSettings)},
    "descent": {f.name for f in dataclasses.fields(DescentSettings)},
}


_PAPER_MODEL_KEYS = {"kind", "activation", "bias", "dim"}

# [flow]/[descent] keys passed through as keywords (t1, step_size, steps are positional)
_RUN_KEYWORDS = {"flow": _KEYS["flow"] - {"t1"}, "descent": _KEYS["descent"] - {"step_size", "steps"}}


@dataclass
class RunConfig:
    """A parsed configuration: the problem, the starting point(s) and run settings."""

    problem: Problem
    theta0: np.ndarray
    flow: dict = field(default_factory=dict)
    descent: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)
    raw: dict = field(default_factory=dict)
    source: str | None = None

    def flow_kwargs(self) -> dict:
        """The ``[flow]`` settings that :func:`flowdeq.gradient_flow` takes as keywords."""
        return {k: v for k, v in self.flow.items() if k in _RUN_KEYWORDS["flow"]}

    def descent_kwargs(self) -> dict:
        """The ``[descent]`` settings that :func:`flowdeq.descent.gradient_descent` takes as keywords."""
        return {k: v for k, v in self.descent.items() if k in _RUN_KEYWORDS["descent"]}

    def table(self, name: str, keys) -> dict:
        """The extra table ``[name]`` (empty if absent), refusing keys outside ``keys``."""
        t = self.extra.get(name, {})
        if not isinstance(t, dict):
            raise ValueError(f"config [{name}] must be a table.")
        unknown = set(t) - set(keys)
        if unknown:
            raise ValueError(f"config [{name}] has unknown key(s) {sorted(unknown)}: valid keys are "
                             f"{sorted(keys)}.")
        return dict(t)


def _check_finite(obj, path="config"):
    if isinstance(obj, dict):
        for k, v in obj.items():
            _check_finite(v, f"{path}.{k}" if path != "config" else f"[{k}]" if isinstance(v, dict) else k)
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            _check_finite(v, f"{path}[{i}]")
    elif isinstance(obj, float) and not math.isfinite(obj):
        raise ValueError(f"config {path} is {obj!r}: every number must be finite; fix that value.")


def _require(table, key, where):
    if key not in table:
        raise ValueError(f"config [{where}] needs `{key}`.")
    return table[key]


def _user_model(spec, t, base):
    module, _, name = spec.partition(":")
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError:
        sys.path.insert(0, base)  # a module beside the config file
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError:
            raise ValueError(f"config [model] kind = {spec!r}: module {module!r} cannot be "
                             "imported; put it on PYTHONPATH or beside the config file.") from None
        finally:
            sys.path.remove(base)
    cls = getattr(mod, name, None)
    if not (inspect.isclass(cls) and issubclass(cls, AbstractDEQ)):
        raise ValueError(f"config [model] kind = {spec!r}: {name!r} in {module} is not a "
                         "flowdeq.models.AbstractDEQ subclass.")
    kw = {k: v for k, v in t.items() if k != "kind"}
    takes_dim = "dim" in inspect.signature(cls).parameters

    def make(d):
        try:
            return cls(**({"dim": d} | kw if takes_dim else kw))
        except TypeError as err:
            raise ValueError(f"config [model] for {spec}: {err}") from None

    return make


def _model(t, base="."):
    kind = str(_require(t, "kind", "model"))
    if ":" in kind:
        return _user_model(kind, t, base)
    unknown = set(t) - _PAPER_MODEL_KEYS
    if unknown:
        raise ValueError(f"config [model] has unknown key(s) {sorted(unknown)}: valid keys are "
                         f"{sorted(_PAPER_MODEL_KEYS)} (or name your own class as kind = "
                         "\"module:Class\").")
    kind = kind.lower()
    dim = t.get("dim")
    bias = bool(t.get("bias", False))
    if kind == "linear":
        return lambda d: LinearDEQ(dim or d, bias=bias)
    if kind in ("single-index", "single_index", "singleindex"):
        act = t.get("activation", "sigmoid")
        return lambda d: SingleIndexDEQ(act, dim or d, bias=bias)
    raise ValueError(f"config [model] kind is {kind!r}: use \"linear\", \"single-index\" or "
                     "\"module:Class\" for your own AbstractDEQ.")


def _target(t):
    xi = _require(t, "xi", "target")
    kind = t.get("kind", "single-index" if "activation" in t else "linear")
    if kind == "linear":
        return LinearTarget(xi)
    if kind in ("single-index", "single_index"):
        return SingleIndexTarget(xi, t.get("activation", "sigmoid"))
    raise ValueError(f"config [target] kind is {kind!r}: use \"linear\" or \"single-index\".")


def _data(t, base, d):
    law = str(_require(t, "law", "data")).lower()
    rule = t.get("rule")
    if law == "empirical":
        if rule not in (None, "samples"):
            raise ValueError("config [data] rule for law=\"empirical\" must be \"samples\".")
        path = str(_require(t, "path", "data"))
        return Empirical.from_file(path if os.path.isabs(path) else os.path.join(base, path))
    if law == "uniform":
        dist = Uniform(t.get("low", 0.0), t.get("high", 1.0), int(t.get("dim", d)),
                       nodes=int(t.get("nodes", 32)))
    elif law == "gaussian":
        mean = _require(t, "mean", "data")
        dist = Gaussian(mean, t.get("cov", np.eye(len(np.atleast_1d(mean))).tolist()),
                        nodes=int(t.get("nodes", 20)))
    else:
        raise ValueError(f"config [data] law is {law!r}: use \"uniform\", \"gaussian\" or \"empirical\".")
    rule = rule or "quadrature"
    if rule == "quadrature":
        return dist
    if rule == "monte-carlo":
        return dist.monte_carlo(int(t.get("samples", 1000)), int(t.get("seed", 0)))
    raise ValueError(f"config [data] rule is {rule!r}: use \"quadrature\" or \"monte-carlo\" "
                     "(or \"samples\" with law=\"empirical\").")


def _theta0(t, p):
    if "theta0" in t:
        return np.asarray(t["theta0"], dtype=float)
    if "std" in t or "mean" in t:
        mean = np.broadcast_to(np.asarray(t.get("mean", 0.0), float), (p,))
        rng = np.random.default_rng(int(t.get("seed", 0)))
        count = t.get("count")
        shape = (p,) if count is None else (int(count), p)
        return mean + float(t.get("std", 0.1)) * rng.standard_normal(shape)
    raise ValueError("config [init] needs `theta0` (a list) or `mean`/`std`/`seed` to draw it.")


def parse_config(raw: dict, base_dir: str = ".", source: str | None = None) -> RunConfig:
    """Build a :class:`RunConfig` from a parsed TOML dict (see module docstring)."""
    _check_finite(raw)
    for table, keys in _KEYS.items():
        if table in raw:
            if not isinstance(raw[table], dict):
                raise ValueError(f"config [{table}] must be a table.")
            unknown = set(raw[table]) - keys
            if unknown:
                raise ValueError(f"config [{table}] has unknown key(s) {sorted(unknown)}: valid keys "
                                 f"are {sorted(keys)}.")
    if "model" in raw and not isinstance(raw["model"], dict):
        raise ValueError("config [model] must be a table.")
    for table in ("model", "target", "data"):
        if table not in raw:
            raise ValueError(f"config needs a [{table}] table.")
    try:
        target = _target(raw["target"])
        make_model = _model(raw["model"], base_dir)
        data = _data(raw["data"], base_dir, target.dim)
        problem = Problem(make_model(target.dim), target, data)
        theta0 = _theta0(raw.get("init", {}), problem.n_params)
    except (TypeError, KeyError) as err:
        raise ValueError(f"config value has the wrong type: {err}") from None
    extra = {k: v for k, v in raw.items() if k not in _KEYS and k != "model"}
    return RunConfig(problem, theta0, dict(raw.get("flow", {})), dict(raw.get("descent", {})),
                     extra, raw, source)


def load_config(path: str | os.PathLike) -> RunConfig:
    """Read a TOML configuration file."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as fh:
            raw = tomllib.load(fh)
    except FileNotFoundError:
        raise ValueError(f"config file {path} does not exist.") from None
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"config file {path} is not valid TOML: {err}.") from None
    return parse_config(raw, os.path.dirname(os.path.abspath(path)), source=path)
