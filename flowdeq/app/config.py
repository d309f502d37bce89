r"""TOML run configurations → ``Problem``, θ₀ and run settings.

Tables (all keys optional unless marked):

``[model]``    kind = "linear" | "single-index" | "multi-linear" | "multi-neuron" |
               "package.module:Class" (required); activation (single-index, multi-neuron), bias,
               dim; width (m, default 1), output = "state" | "readout" and, for multi-neuron,
               ill_posed = "contraction" | "jacobian" (the width-m models,
               :mod:`flowdeq.models.multi`).  A user class (an ``AbstractDEQ``) gets the table's
               other keys as constructor keywords, and ``dim`` from the target if it takes one;
               its module is imported as is or, failing that, from the config file's folder
``[target]``   kind = "linear" | "single-index" | "multi-linear" | "teacher" (default: from the
               keys given).  linear: xi; single-index: xi, activation (f = σ(ξᵀx));
               multi-linear: A = [[...], ...] (k rows of d: f = Ax ∈ ℝᵏ, for output = "state"
               with width = k); teacher: f = ŷ_θ*(x) of the [model]'s architecture (its width
               replaced by ``width`` if given) at θ* = ``theta`` (flat, in the model's order),
               or drawn with ``seed`` and ``feedback`` (L‖W*‖₂ of the draw, default 0.5: U*, v*
               standard normal, see ``random_theta``); the input dimension is [model] dim, else
               [data]'s
``[data]``     law = "uniform" | "gaussian" | "empirical" (required); uniform: low, high, dim;
               gaussian: mean (required), cov; empirical: path (required, relative to the config
               file); rule = "quadrature" (nodes) | "monte-carlo" (samples, seed) | "samples"
``[init]``     theta0 = [...] or [[...], ...]; or mean, std, seed, count (θ₀ ~ N(mean, std²I))
``[flow]``     t1 (required for flow) and any other :class:`~flowdeq.FlowSettings` field
``[descent]``  step_size, steps (required for descent) and any other ``DescentSettings`` field
``[sweep]``    ``flowdeq sweep``: kind, theta1/theta2 = [low, high, count] or a ``[sweep.sample]``
               table (mean, std, count, seed), step_sizes, steps, chunk_size, flow settings
``[portrait]`` ``flowdeq portrait``: xlim, ylim, grid, basin_grid, t1, density, solver, max_steps
``[theory]``   ``flowdeq theory``: delta1, delta2, alpha

Configs are strict: an unknown table or key, a key the chosen law or rule does not use, a
wrong type (a bool is never a number, a quoted "false" is not a boolean, 2.5 is not an
integer; a whole float such as 1e4 is, since TOML has no integer exponent), a NaN or
infinity anywhere is a ``ValueError`` naming the table and the key.  A table a run does not
use is never required: ``[init]`` only where θ₀ is read (:meth:`RunConfig.require_theta0`).
"""
from __future__ import annotations

import dataclasses
import difflib
import importlib
import inspect
import math
import os
import sys
import tomllib
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from .._validate import check_size, integer
from ..data import Empirical, Gaussian, Uniform
from ..dynamics.settings import DescentSettings, FlowSettings
from ..models import (AbstractDEQ, LinearDEQ, LinearTarget, MultiLinearDEQ, MultiLinearTarget,
                      MultiNeuronDEQ, SingleIndexDEQ, SingleIndexTarget, TeacherTarget)
from ..problem import Problem

__all__ = ["RunConfig", "load_config", "parse_config", "TABLES"]


# ---------------------------------------------------------------- value types
# Each checker takes (where, value): ``where`` is "config [table] key" for the message.
def _any(where, v):
    return v


def _number(where, v):
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        hint = " without quotes" if isinstance(v, str) else ""
        raise ValueError(f"{where} is {v!r}: give a number{hint}.")
    return v


def _positive(where, v):
    if _number(where, v) <= 0:
        raise ValueError(f"{where} is {v!r}: give a number > 0.")
    return v


def _nonneg(where, v):
    if _number(where, v) < 0:
        raise ValueError(f"{where} is {v!r}: give a number ≥ 0.")
    return v


def _int(minimum):
    # a whole float (3.0, 1e4) is accepted, as everywhere in flowdeq (_validate.integer)
    return lambda where, v: integer(where, v, minimum)


def _bool(where, v):
    if not isinstance(v, bool):
        raise ValueError(f"{where} is {v!r}: give true or false (a TOML boolean, unquoted).")
    return v


def _str(where, v):
    if not isinstance(v, str):
        raise ValueError(f"{where} is {v!r}: give a quoted string.")
    return v


def _choice(*options):
    def check(where, v):
        if not isinstance(v, str) or v.lower() not in options:
            raise ValueError(f"{where} is {v!r}: use one of {', '.join(map(repr, options))}.")
        return v.lower()
    return check


def _numbers(where, v):
    """A number or a non-empty flat list of numbers."""
    if isinstance(v, list):
        if not v:
            raise ValueError(f"{where} is []: give at least one number.")
        for i, u in enumerate(v):
            _number(f"{where}[{i}]", u)
        return v
    return _number(where, v)


def _matrix(where, v):
    """A non-empty rectangular list of lists of numbers."""
    if not (isinstance(v, list) and v and all(isinstance(r, list) for r in v)):
        raise ValueError(f"{where} is {v!r}: give a list of rows, e.g. [[1.0, 0.0], [0.0, 1.0]].")
    for i, r in enumerate(v):
        _numbers(f"{where}[{i}]", r)
        if len(r) != len(v[0]):
            raise ValueError(f"{where} row {i} has {len(r)} entries but row 0 has {len(v[0])}: "
                             "give rows of one length.")
    return v


def _starts(where, v):
    """θ₀: a list of numbers, or a list of such lists (a batch)."""
    if isinstance(v, list) and v and all(isinstance(r, list) for r in v):
        return _matrix(where, v)
    if not isinstance(v, list):
        raise ValueError(f"{where} is {v!r}: give a list of numbers, or a list of such lists.")
    return _numbers(where, v)


def _pair(where, v):
    if not (isinstance(v, list) and len(v) == 2):
        raise ValueError(f"{where} is {v!r}: give [low, high].")
    _numbers(where, v)
    if not v[0] < v[1]:
        raise ValueError(f"{where} is {v!r}: give low < high.")
    return v


def _axis(where, v):
    if not (isinstance(v, list) and len(v) == 3):
        raise ValueError(f"{where} is {v!r}: give [low, high, count].")
    _number(f"{where}[0] (low)", v[0])
    _number(f"{where}[1] (high)", v[1])
    integer(f"{where}[2] (count)", v[2], 1)
    if not v[0] <= v[1]:
        raise ValueError(f"{where} is {v!r}: give low ≤ high.")
    return v


def _table(schema, name):
    def check(where, v):
        if not isinstance(v, dict):
            raise ValueError(f"{where} must be a table ([{name}]).")
        return _check_keys(f"[{name}]", v, schema)
    return check


# ---------------------------------------------------------------- the schema
# the settings objects hold the only list of run settings (and their defaults); a field
# added there without a type here is still accepted and checked by the object itself
_SETTING_TYPES = {
    "t1": _number, "t0": _number, "solver": _str, "rtol": _number, "atol": _number,
    "singular_eps": _number, "converged_tol": _number, "divergence_cap": _number,
    "risk_tol": _number, "n_save": _int(2), "ts": _numbers, "max_steps": _int(1),
    "chunk_size": _int(1), "exact_saves": _bool, "step_size": _numbers, "steps": _int(0),
}


def _settings_schema(cls, drop=()):
    return {f.name: _SETTING_TYPES.get(f.name, _any) for f in dataclasses.fields(cls)
            if f.name not in drop}


_PAPER_MODEL = {"kind": _str, "activation": _str, "bias": _bool, "dim": _int(1)}
_WIDTH_KEYS = {"width": _int(1), "output": _choice("state", "readout"),
               "ill_posed": _choice("contraction", "jacobian")}
_MODEL = _PAPER_MODEL | _WIDTH_KEYS
_TARGET_KINDS = ("linear", "single-index", "single_index", "multi-linear", "multi_linear",
                 "teacher")
# which [target] keys each kind reads
_TARGET_KEYS = {"linear": {"xi"}, "single-index": {"xi", "activation"}, "multi-linear": {"A"},
                "teacher": {"width", "theta", "seed", "feedback"}}
_SAMPLE = {"mean": _numbers, "std": _nonneg, "count": _int(1), "seed": _int(0)}
# a sweep's own chunk_size is the sweep's, and its starts come from the grid or the sample
_SWEEP_FLOW = _settings_schema(FlowSettings, drop=("chunk_size", "t0", "ts"))
TABLES = {
    "model": _MODEL,
    "target": {"kind": _choice(*_TARGET_KINDS), "xi": _numbers, "activation": _str,
               "A": _matrix, "width": _int(1), "theta": _numbers, "seed": _int(0),
               "feedback": _nonneg},
    "data": {"law": _choice("uniform", "gaussian", "empirical"), "low": _numbers,
             "high": _numbers, "dim": _int(1), "mean": _numbers, "cov": _matrix, "path": _str,
             "rule": _choice("quadrature", "monte-carlo", "samples"), "nodes": _int(1),
             "samples": _int(1), "seed": _int(0)},
    "init": {"theta0": _starts, "mean": _numbers, "std": _nonneg, "seed": _int(0),
             "count": _int(1)},
    "flow": _settings_schema(FlowSettings),
    "descent": _settings_schema(DescentSettings),
    "sweep": _SWEEP_FLOW | {
        "kind": _choice("flow", "descent"), "theta1": _axis, "theta2": _axis,
        "sample": _table(_SAMPLE, "sweep.sample"), "step_sizes": _numbers, "steps": _int(0),
        "chunk_size": _int(1)},
    "portrait": {"xlim": _pair, "ylim": _pair, "grid": _int(3), "basin_grid": _int(2),
                 "t1": _positive, "density": _positive, "solver": _str, "max_steps": _int(1)},
    "theory": {"delta1": _number, "delta2": _number, "alpha": _number},
}
# which [data] keys each law and each rule read
_LAW_KEYS = {"uniform": {"low", "high", "dim"}, "gaussian": {"mean", "cov"}, "empirical": {"path"}}
_RULE_KEYS = {"quadrature": {"nodes"}, "monte-carlo": {"samples", "seed"}, "samples": set()}

# [flow]/[descent] keys passed through as keywords (t1, step_size, steps are positional)
_RUN_KEYWORDS = {"flow": set(TABLES["flow"]) - {"t1"},
                 "descent": set(TABLES["descent"]) - {"step_size", "steps"}}


def _suggest(name, valid):
    close = difflib.get_close_matches(name, sorted(valid), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _check_keys(where, table, schema) -> dict:
    """Refuse unknown keys and wrong types in one table ``where`` (e.g. "[data]"); return it
    with names lower-cased and whole floats as ints."""
    unknown = sorted(set(table) - set(schema))
    if unknown:
        raise ValueError(f"config {where} has unknown key {unknown[0]!r}"
                         f"{_suggest(unknown[0], schema)}: valid keys are {sorted(schema)}.")
    return {key: schema[key](f"config {where} {key}", value) for key, value in table.items()}


@contextmanager
def config_errors(table):
    """Name the table in the errors of the library objects built from it."""
    try:
        yield
    except ValueError as err:
        msg = str(err)
        raise ValueError(msg if msg.startswith("config") else f"config [{table}]: {msg}") from None
    except OverflowError as err:  # an integer beyond int64 reaching NumPy
        raise ValueError(f"config [{table}]: a number is too large ({err}).") from None
    except TypeError as err:  # a user class's constructor, a value of the wrong kind
        raise ValueError(f"config [{table}]: a value has the wrong type ({err}).") from None


@dataclass
class RunConfig:
    """A parsed configuration: the problem, the starting point(s) and run settings.

    ``theta0`` is None when the config has no ``[init]`` table (a grid sweep, a portrait
    without paths); :meth:`require_theta0` is what runs that need it call."""

    problem: Problem
    theta0: np.ndarray | None
    flow: dict = field(default_factory=dict)
    descent: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)
    raw: dict = field(default_factory=dict)
    source: str | None = None

    def require_theta0(self, run: str = "this run") -> np.ndarray:
        """θ₀, or a ValueError saying that ``run`` needs ``[init]``."""
        if self.theta0 is None:
            raise ValueError(f"config has no [init] table, which {run} needs: add [init] with "
                             "theta0 = [...] (or mean/std/seed/count to draw θ₀).")
        return self.theta0

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
        unknown = sorted(set(t) - set(keys))
        if unknown:
            raise ValueError(f"config [{name}] has unknown key {unknown[0]!r}"
                             f"{_suggest(unknown[0], keys)}: valid keys are {sorted(keys)}.")
        return dict(t)


def _check_finite(obj, path="config"):
    if isinstance(obj, dict):
        for k, v in obj.items():
            # "[flow] t1", "[sweep] sample.mean[0]"
            sub = (f"[{k}]" if isinstance(v, dict) else k) if path == "config" else \
                f"{path} {k}" if path.endswith("]") and path.startswith("[") else f"{path}.{k}"
            _check_finite(v, sub)
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
    if not module or not name:
        raise ValueError(f"config [model] kind = {spec!r}: name your class as \"module:Class\".")
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


def _model(t, base, d, src=None):
    kind = _str("config [model] kind", _require(t, "kind", "model"))
    if ":" in kind:
        return _user_model(kind, t, base)
    t = _check_keys("[model]", t, _MODEL)
    kind = kind.lower().replace("_", "-")
    if t.get("dim", d) != d:
        raise ValueError(f"config [model] dim is {t['dim']} but {src or f'[target] xi has length {d}'}"
                         ": make them agree (or leave dim out).")
    bias = t.get("bias", False)
    if kind in ("multi-linear", "multi-neuron"):
        return _width_model(kind, t, bias)
    extra = sorted(set(t) & set(_WIDTH_KEYS))
    if extra:
        raise ValueError(f"config [model] {extra[0]} is not used by kind = {kind!r}: remove it, or "
                         "use kind = \"multi-linear\" / \"multi-neuron\" (width-m models).")
    if kind == "linear":
        if "activation" in t:
            raise ValueError("config [model] activation is not used by kind = \"linear\": remove "
                             "it, or use kind = \"single-index\".")
        return lambda d: LinearDEQ(d, bias=bias)
    if kind in ("single-index", "single_index", "singleindex"):
        act = t.get("activation", "sigmoid")
        return lambda d: SingleIndexDEQ(act, d, bias=bias)
    raise ValueError(f"config [model] kind is {kind!r}: use \"linear\", \"single-index\", "
                     "\"multi-linear\", \"multi-neuron\" or \"module:Class\" for your own "
                     "AbstractDEQ.")


def _width_model(kind, t, bias):
    """Factory (d, width=None) → MultiLinearDEQ / MultiNeuronDEQ from a checked [model]."""
    width, output = t.get("width", 1), t.get("output", "state")
    if kind == "multi-linear":
        for key in ("activation", "ill_posed"):
            if key in t:
                raise ValueError(f"config [model] {key} is not used by kind = \"multi-linear\": "
                                 "remove it, or use kind = \"multi-neuron\".")
        return lambda d, w=None: MultiLinearDEQ(d, w or width, bias=bias, output=output)
    act, ill = t.get("activation", "tanh"), t.get("ill_posed", "contraction")
    return lambda d, w=None: MultiNeuronDEQ(act, d, w or width, bias=bias, output=output,
                                            ill_posed=ill)


def _target_kind(t):
    default = ("multi-linear" if "A" in t else "single-index" if "activation" in t else "linear")
    kind = t.get("kind", default).replace("_", "-")
    unused = sorted(set(t) - {"kind"} - _TARGET_KEYS[kind])
    if unused:
        hint = " or use kind = \"single-index\"" if unused[0] == "activation" else ""
        raise ValueError(f"config [target] {unused[0]} is not used by kind = \"{kind}\": remove it"
                         f"{hint} (it reads {sorted(_TARGET_KEYS[kind])}).")
    return kind


def _data_dim(data):
    """The input dimension a [data] table implies without reading files (None if unknown)."""
    if "dim" in data:
        return int(data["dim"])
    if "mean" in data:
        return len(np.atleast_1d(data["mean"]))
    for key in ("low", "high"):
        if isinstance(data.get(key), list):
            return len(data[key])
    return None


def _teacher(t, make_model, d):
    """TeacherTarget of the [model]'s architecture (width replaced by [target] width)."""
    try:
        model = make_model(d, t["width"]) if "width" in t else make_model(d)
    except TypeError:  # a user class: its factory takes d only
        raise ValueError("config [target] width applies to kind = \"multi-linear\" / "
                         "\"multi-neuron\" models only: remove it.") from None
    if "theta" in t:
        for key in ("seed", "feedback"):
            if key in t:
                raise ValueError(f"config [target] gives theta and {key}: keep theta, or remove it "
                                 "to draw the teacher with seed/feedback.")
        return TeacherTarget(model, np.atleast_1d(np.asarray(t["theta"], float)))
    if not hasattr(model, "random_theta"):
        raise ValueError("config [target] kind = \"teacher\" with this model needs theta = [...] "
                         "(only the width-m models can draw a teacher).")
    return TeacherTarget(model, model.random_theta(t.get("seed", 0), t.get("feedback", 0.5)))


def _target(t):
    kind = _target_kind(t)
    if kind == "multi-linear":
        return MultiLinearTarget(_require(t, "A", "target"))
    xi = _require(t, "xi", "target")
    if kind == "linear":
        if "activation" in t:
            raise ValueError("config [target] activation is not used by kind = \"linear\" "
                             "(f = ξᵀx): remove it, or use kind = \"single-index\".")
        return LinearTarget(xi)
    return SingleIndexTarget(xi, t.get("activation", "sigmoid"))


def _data(t, base, d):
    law = _require(t, "law", "data")
    rule = t.get("rule", "samples" if law == "empirical" else "quadrature")
    if (law == "empirical") != (rule == "samples"):
        raise ValueError(f"config [data] rule = {rule!r} does not go with law = {law!r}: "
                         "law = \"empirical\" takes rule = \"samples\"; the others \"quadrature\" "
                         "or \"monte-carlo\".")
    data = _law(t, law, rule, base, d)
    # checked after the law is built, so a broken data file is named first
    used = {"law", "rule"} | _LAW_KEYS[law] | _RULE_KEYS[rule]
    unused = sorted(set(t) - used)
    if unused:
        raise ValueError(f"config [data] {unused[0]} is not used by law = {law!r} with rule = "
                         f"{rule!r}: remove it (they read {sorted(used - {'law', 'rule'})}).")
    return data


def _law(t, law, rule, base, d):
    if law == "empirical":
        path = _require(t, "path", "data")
        data = Empirical.from_file(path if os.path.isabs(path) else os.path.join(base, path))
        if data.dim != d:
            raise ValueError(f"config [data] path {path} has {data.dim} column(s) but [target] xi "
                             f"has length {d}: give ξ one entry per column.")
        return data
    if law == "uniform":
        if t.get("dim", d) != d:
            raise ValueError(f"config [data] dim is {t['dim']} but [target] xi has length {d}: "
                             "make them agree (or leave dim out).")
        dist = Uniform(t.get("low", 0.0), t.get("high", 1.0), d, nodes=t.get("nodes", 32))
    else:
        mean = _require(t, "mean", "data")
        if len(np.atleast_1d(mean)) != d:
            raise ValueError(f"config [data] mean has length {len(np.atleast_1d(mean))} but "
                             f"[target] xi has length {d}: give one entry per input coordinate.")
        dist = Gaussian(mean, t.get("cov", np.eye(d).tolist()), nodes=t.get("nodes", 20))
    if rule == "monte-carlo":
        return dist.monte_carlo(t.get("samples", 1000), t.get("seed", 0))
    return dist


def _theta0(t, problem):
    if t is None:
        return None
    if not t:
        raise ValueError("config [init] is empty: give theta0 = [...], or mean/std/seed/count to "
                         "draw θ₀.")
    p = problem.n_params
    labels = problem.model.param_labels()
    shown = ", ".join(labels[:6]) + (", …" if p > 6 else "")
    if "theta0" in t:
        drawn = sorted(set(t) - {"theta0"})
        if drawn:
            raise ValueError(f"config [init] gives theta0 and {drawn[0]}: keep theta0, or remove it "
                             "to draw θ₀ from mean/std/seed/count.")
        th = np.asarray(t["theta0"], dtype=float)
        if th.shape[-1] != p:
            raise ValueError(f"config [init] theta0 has {th.shape[-1]} number(s) per start but the "
                             f"{problem.model.describe()['kind']} model has {p} parameters "
                             f"({shown}): give {p}.")
        return th
    mean = np.asarray(t.get("mean", 0.0), float)
    if mean.size not in (1, p):
        raise ValueError(f"config [init] mean has {mean.size} entries but the model has {p} "
                         f"parameters ({shown}): give one number or {p}.")
    count = t.get("count")
    if count is not None:
        check_size("config [init] count", 8.0 * int(count) * p, f"{int(count)} starts × {p}")
    rng = np.random.default_rng(int(t.get("seed", 0)))
    shape = (p,) if count is None else (int(count), p)
    return np.broadcast_to(mean.ravel(), (p,)) + float(t.get("std", 0.1)) * rng.standard_normal(shape)


def parse_config(raw: dict, base_dir: str = ".", source: str | None = None) -> RunConfig:
    """Build a :class:`RunConfig` from a parsed TOML dict (see module docstring)."""
    _check_finite(raw)
    for name, value in raw.items():
        if name not in TABLES:
            kind = "table" if isinstance(value, dict) else "key outside any table"
            raise ValueError(f"config has unknown {kind} [{name}]{_suggest(name, TABLES)}: valid "
                             f"tables are {', '.join(f'[{k}]' for k in sorted(TABLES))}.")
        if not isinstance(value, dict):
            raise ValueError(f"config [{name}] must be a table: write [{name}] on a line of its "
                             "own, then its keys.")
    for name in ("model", "target", "data"):
        if name not in raw:
            raise ValueError(f"config needs a [{name}] table.")
    # every type first (a user class's [model] keys are its own), then the objects; the
    # checked tables have names lower-cased and whole floats as ints
    tables = {name: table if name == "model" else _check_keys(f"[{name}]", table, TABLES[name])
              for name, table in raw.items()}
    flow, descent = tables.get("flow", {}), tables.get("descent", {})
    if "ts" in flow and "n_save" in flow:
        raise ValueError("config [flow] gives ts and n_save: keep one (ts replaces the uniform "
                         "grid of n_save points).")
    with config_errors("flow"):
        FlowSettings.build(**flow)
    with config_errors("descent"):
        DescentSettings.build(**descent)
    teacher = tables["target"].get("kind", "").replace("_", "-") == "teacher"
    if teacher:  # the teacher is built from [model]: its dimension comes from there or [data]
        d = tables["model"].get("dim") or _data_dim(tables["data"]) or 1
        with config_errors("model"):
            make_model = _model(tables["model"], base_dir, d)
        with config_errors("target"):
            _target_kind(tables["target"])
            target = _teacher(tables["target"], make_model, d)
    else:
        with config_errors("target"):
            target = _target(tables["target"])
    src = (f"[target] A has {target.dim} column(s)" if isinstance(target, MultiLinearTarget)
           else None)
    with config_errors("model"):
        make_model = _model(tables["model"], base_dir, target.dim, src)
        model = make_model(target.dim)
    with config_errors("data"):
        problem = Problem(model, target, _data(tables["data"], base_dir, target.dim))
    with config_errors("init"):
        theta0 = _theta0(tables.get("init"), problem)
    extra = {k: v for k, v in tables.items() if k not in ("model", "target", "data", "init",
                                                          "flow", "descent")}
    return RunConfig(problem, theta0, dict(flow), dict(descent), extra, raw, source)


def load_config(path: str | os.PathLike) -> RunConfig:
    """Read a TOML configuration file."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as fh:
            raw = tomllib.load(fh)
    except FileNotFoundError:
        raise ValueError(f"config file {path} does not exist.") from None
    except IsADirectoryError:
        raise ValueError(f"config file {path} is a directory: give a .toml file.") from None
    except OSError as err:
        raise ValueError(f"config file {path} cannot be read ({err.strerror or err}).") from None
    except UnicodeDecodeError:
        raise ValueError(f"config file {path} is not UTF-8 text: give a TOML file.") from None
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"config file {path} is not valid TOML: {err}.") from None
    return parse_config(raw, os.path.dirname(os.path.abspath(path)), source=path)
