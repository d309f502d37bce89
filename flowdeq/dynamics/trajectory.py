r"""``Trajectory``: what every run returns and every analysis reads.

A trajectory holds, per saved point, the time t (flow) or step index (GD), θ, R(θ)
and ‖∇R(θ)‖; the outcome label and the event time/step; solver statistics; and the
settings that produced it (problem description, solver, tolerances), so a saved file
is self-describing.

A *batch* (from a batch of θ₀ or of step sizes) stores padded arrays with a leading
member axis and a ``valid`` mask (points after a member's event are not valid);
``traj[i]`` returns member i as a trimmed single trajectory.

File format (``save``/``load``): one ``.npz`` holding the arrays bit-exactly and a
``meta`` entry with the JSON of everything else (``format: flowdeq-trajectory/1``).
``to_xarray``/``from_xarray`` give the same content as a labelled ``xarray.Dataset`` (the
optional ``xarray`` extra), which ``to_netcdf`` writes as netCDF-4 for any tool to open.
"""
from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass, field

import numpy as np

from .. import _xr
from .._outcomes import DESCENT_OUTCOMES, FLOW_OUTCOMES, normalise
from .._version import __version__

__all__ = ["Trajectory", "FLOW_OUTCOMES", "DESCENT_OUTCOMES"]

FORMAT = "flowdeq-trajectory/1"


def jsonable(obj, nonfinite=repr):
    """``obj`` with NumPy types turned into JSON types; a non-finite float becomes
    ``nonfinite(value)`` (default its repr, e.g. "inf", so settings round-trip)."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v, nonfinite) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v, nonfinite) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist(), nonfinite)
    if isinstance(obj, (np.floating, float)):
        v = float(obj)
        return v if np.isfinite(v) else nonfinite(v)
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    return obj



# long names of the Dataset variables (the attribute plotting tools label axes with)
_DESCRIPTIONS = {"theta": ("parameters θ", ""), "risk": ("population risk R(θ)", ""),
                 "grad_norm": ("gradient norm ‖∇R(θ)‖", ""),
                 "valid": ("point is part of the run (False: padding after an event)", ""),
                 "outcome": ("how the run ended (flowdeq.Outcome)", ""),
                 "event_time": ("time the terminating event fired (NaN: none)", ""),
                 "event_step": ("GD iterate that triggered the event (-1: none)", "")}


def param_names(layout, p: int) -> list[str]:
    """The flat θ's entry names from a recorded layout (name → (offset, shape)); ``theta[i]``
    for entries it does not name."""
    names = [f"theta[{i}]" for i in range(p)]
    for name, (off, shape) in (layout or {}).items():
        shape = tuple(shape)
        idx = [""] if not shape else ["[" + ",".join(map(str, i)) + "]" for i in np.ndindex(*shape)]
        for j, suffix in enumerate(idx):
            if off + j < p:
                names[off + j] = f"{name}{suffix}"
    return names


class _ParamsAccess:
    """Callable for the 0.2 pytree view, subscriptable for 0.1 scripts' per-member dict."""

    def __init__(self, traj):
        self._traj = traj

    def __call__(self, k: int = -1) -> dict:
        return self._traj._params_at(k)

    def __getitem__(self, key):
        warnings.warn("traj.params[...] is traj.per_member[...] since flowdeq 0.2 (traj.params(k) "
                      "is now the parameter pytree)", DeprecationWarning, stacklevel=2)
        return self._traj.per_member[key]


@dataclass
class Trajectory:
    """Result of :func:`flowdeq.gradient_flow` or :func:`flowdeq.gradient_descent`.

    Attributes
    ----------
    kind : "flow" | "descent"
    t : times (flow) or step indices (descent); shape (m,) or (n, m) for a batch
    theta : θ at those points, (m, p) or (n, m, p)
    risk, grad_norm : R(θ) and ‖∇R(θ)‖ at those points
    valid : bool mask of meaningful points (all True for a single run)
    outcome : label (str), or array of labels for a batch; see :class:`flowdeq.Outcome`
    event_time : flow: time the terminating event fired (NaN if none); descent: NaN
    event_step : descent: index of the iterate that triggered the event (−1 if none)
    stats : solver statistics (e.g. num_steps), scalars or per-member arrays
    settings : the run's settings and the problem description (JSON-able); ``layout`` maps
        each parameter name to its (offset, shape) inside the flat θ
    per_member : per-member run parameters of a batch (e.g. ``step_size``, ``start``)
    """

    kind: str
    t: np.ndarray
    theta: np.ndarray
    risk: np.ndarray
    grad_norm: np.ndarray
    outcome: str | np.ndarray
    event_time: float | np.ndarray = np.nan
    event_step: int | np.ndarray = -1
    valid: np.ndarray | None = None
    stats: dict = field(default_factory=dict)
    settings: dict = field(default_factory=dict)
    per_member: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.valid is None:
            self.valid = np.ones(np.shape(self.t), dtype=bool)

    # ----------------------------------------------------- parameter pytree
    @property
    def params(self) -> "_ParamsAccess":
        """``traj.params(k)``: the parameter pytree (name → array) at saved point ``k``
        (default the last; for a batch, ``traj[i].params(k)``), from the recorded layout.
        (``traj.params["step_size"]``, 0.1's name for ``per_member``, still reads.)"""
        return _ParamsAccess(self)

    def _params_at(self, k: int = -1) -> dict:
        if self.is_batch:
            raise ValueError("params(k) reads one member: use traj[i].params(k).")
        theta = np.asarray(self.theta[k])
        layout = self.settings.get("layout")
        if not layout:
            raise ValueError("this trajectory records no parameter layout (written before "
                             "flowdeq 0.2): read the flat theta instead.")
        return {name: theta[off:off + int(np.prod(shape))].reshape(shape)
                for name, (off, shape) in ((n, (o, tuple(s))) for n, (o, s) in layout.items())}

    # ------------------------------------------------------------- batches
    @property
    def is_batch(self) -> bool:
        return np.ndim(self.t) == 2

    def __len__(self) -> int:
        return int(np.shape(self.t)[0]) if self.is_batch else 1

    def __getitem__(self, i: int) -> "Trajectory":
        if not self.is_batch:
            if i in (0, -1):
                return self
            raise IndexError("a single trajectory has only member 0")
        m = np.asarray(self.valid[i])
        return Trajectory(
            kind=self.kind, t=self.t[i][m], theta=self.theta[i][m], risk=self.risk[i][m],
            grad_norm=self.grad_norm[i][m], outcome=str(self.outcome[i]),
            event_time=float(np.asarray(self.event_time)[i]),
            event_step=int(np.asarray(self.event_step)[i]), valid=None,
            stats={k: np.asarray(v)[i].item() for k, v in self.stats.items()},
            settings=self.settings,
            per_member={k: np.asarray(v)[i].item() for k, v in self.per_member.items()})

    def members(self):
        """Iterate over the members of a batch (a single run yields itself)."""
        for i in range(len(self)):
            yield self[i]

    # ------------------------------------------------------------ summaries
    @property
    def theta_final(self) -> np.ndarray:
        """Last valid θ (per member for a batch)."""
        if not self.is_batch:
            return self.theta[-1]
        last = self.valid.shape[1] - 1 - np.argmax(self.valid[:, ::-1], axis=1)
        return self.theta[np.arange(len(self)), last]

    @property
    def risk_final(self):
        if not self.is_batch:
            return float(self.risk[-1])
        last = self.valid.shape[1] - 1 - np.argmax(self.valid[:, ::-1], axis=1)
        return self.risk[np.arange(len(self)), last]

    def outcome_counts(self) -> dict:
        labels, counts = np.unique(np.atleast_1d(self.outcome), return_counts=True)
        return {str(k): int(v) for k, v in zip(labels, counts)}

    def summary(self) -> dict:
        """A JSON-able digest (used for ``summary.json``)."""
        if self.is_batch:
            return {"kind": self.kind, "members": len(self), "outcomes": self.outcome_counts(),
                    "theta_final": jsonable(self.theta_final),
                    "risk_final": jsonable(self.risk_final)}
        out = {"kind": self.kind, "outcome": str(self.outcome),
               "theta_final": jsonable(self.theta_final), "risk_final": jsonable(self.risk_final),
               "grad_norm_final": jsonable(float(self.grad_norm[-1])), "points": int(len(self.t))}
        if self.kind == "flow":
            out["event_time"] = None if not np.isfinite(self.event_time) else float(self.event_time)
            out["t_final"] = float(self.t[-1])
        else:
            out["event_step"] = None if int(self.event_step) < 0 else int(self.event_step)
            out["steps"] = int(self.t[-1])
        out["stats"] = jsonable(self.stats)
        return out

    # ----------------------------------------------------------------- I/O
    _ARRAYS = ("t", "theta", "risk", "grad_norm", "valid", "event_time", "event_step")

    def save(self, path: str | os.PathLike) -> str:
        """Write ``path`` (``.npz`` appended if missing); exact round trip with :meth:`load`."""
        path = os.fspath(path)
        if not path.endswith(".npz"):
            path += ".npz"
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        arrays = {k: np.asarray(getattr(self, k)) for k in self._ARRAYS}
        for k, v in self.stats.items():
            arrays[f"stats__{k}"] = np.asarray(v)
        for k, v in self.per_member.items():
            arrays[f"per_member__{k}"] = np.asarray(v)
        meta = {"format": FORMAT, "kind": self.kind,
                "outcome": jsonable(np.asarray(self.outcome)) if self.is_batch else str(self.outcome),
                "settings": jsonable(self.settings),
                "stats_keys": list(self.stats), "per_member_keys": list(self.per_member)}
        arrays["meta"] = np.asarray(json.dumps(meta))
        np.savez(path, **arrays)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Trajectory":
        path = os.fspath(path)
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
                if meta.get("format") != FORMAT:
                    raise ValueError(f"format {meta.get('format')!r}")
                arrays = {k: z[k] for k in cls._ARRAYS}
                stats = {k: z[f"stats__{k}"] for k in meta["stats_keys"]}
                # files before 0.2 named the per-member table "params"
                old = "params_keys" in meta
                per_member = {k: z[f"params__{k}" if old else f"per_member__{k}"]
                              for k in meta["params_keys" if old else "per_member_keys"]}
        except (OSError, KeyError, ValueError) as err:
            raise ValueError(f"{path} is not a flowdeq trajectory file ({err}).") from None
        outcome = normalise(meta["outcome"])
        batch = arrays["t"].ndim == 2
        stats = {k: (v if batch else v.item()) for k, v in stats.items()}
        et = arrays["event_time"]
        es = arrays["event_step"]
        return cls(kind=meta["kind"], t=arrays["t"], theta=arrays["theta"], risk=arrays["risk"],
                   grad_norm=arrays["grad_norm"], valid=arrays["valid"], outcome=outcome,
                   event_time=et if batch else float(et), event_step=es if batch else int(es),
                   stats=stats, settings=meta["settings"], per_member=per_member)

    # ------------------------------------------------------- labelled data
    def param_names(self) -> list[str]:
        """Names of the flat θ's entries from the recorded layout (``theta1``, ``W[0,1]``, …;
        ``theta[i]`` for a file without one)."""
        return param_names(self.settings.get("layout"), np.shape(self.theta)[-1])

    def to_xarray(self):
        r"""This trajectory as an ``xarray.Dataset`` (needs the ``xarray`` extra).

        A single run has dimension ``time`` (flow; coordinate t) or ``step`` (GD; the step
        index), and ``param`` (the names of :meth:`param_names`): variables ``theta`` (time,
        param), ``risk`` R(θ), ``grad_norm`` ‖∇R(θ)‖, and 0-d ``outcome``, ``event_time``,
        ``event_step`` and one variable per solver statistic.  A batch has dimensions
        ``member`` and ``point`` (the padded save index), with ``time``/``step`` as a 2-D
        coordinate, the ``valid`` mask, and the per-member parameters (``step_size``,
        ``start``) as coordinates of ``member``.  Attributes: ``kind``, ``flowdeq_version``, and
        ``settings`` and ``problem`` as JSON strings (``json.loads(ds.attrs["settings"])``).
        :meth:`from_xarray` inverts it exactly, also after a netCDF round trip.
        """
        xr = _xr.xarray("Trajectory.to_xarray()")
        tname = "time" if self.kind == "flow" else "step"
        dims = ("member", "point") if self.is_batch else (tname,)
        lead = dims[:1] if self.is_batch else ()
        t = np.asarray(self.t)
        coords = {"param": ("param", np.asarray(self.param_names(), dtype=str))}
        if self.is_batch:
            coords["member"] = ("member", np.arange(len(self)))
        coords[tname] = (dims, t)
        for k, v in self.per_member.items():
            coords[k] = (lead, np.asarray(v))
        data = {"theta": (dims + ("param",), np.asarray(self.theta)),
                "risk": (dims, np.asarray(self.risk)),
                "grad_norm": (dims, np.asarray(self.grad_norm)),
                "valid": (dims, np.asarray(self.valid, dtype=bool)),
                "outcome": (lead, np.asarray(self.outcome, dtype=str)),
                "event_time": (lead, np.asarray(self.event_time, dtype=float)),
                "event_step": (lead, np.asarray(self.event_step, dtype=np.int64))}
        for k, v in self.stats.items():
            if k in data or k in coords:
                raise ValueError(f"stats key {k!r} collides with a Dataset variable: rename it.")
            data[k] = (lead, np.asarray(v))
        ds = xr.Dataset(data, coords=coords)
        for name, (desc, unit) in _DESCRIPTIONS.items():
            if name in ds:
                ds[name].attrs["long_name"] = desc
        ds.attrs = {"flowdeq_format": FORMAT, "kind": self.kind, "flowdeq_version": __version__,
                    "settings": _xr.json_attr(jsonable(self.settings)),
                    "problem": _xr.json_attr(jsonable(self.settings.get("problem", {}))),
                    "stats_keys": _xr.json_attr(list(self.stats)),
                    "per_member_keys": _xr.json_attr(list(self.per_member))}
        return ds

    @classmethod
    def from_xarray(cls, ds) -> "Trajectory":
        """The trajectory a :meth:`to_xarray` Dataset (or its netCDF file, read back) holds."""
        if ds.attrs.get("flowdeq_format") != FORMAT:
            raise ValueError("this Dataset was not made by Trajectory.to_xarray() (no "
                             f"flowdeq_format = {FORMAT!r} attribute).")
        kind = ds.attrs["kind"]
        batch = "member" in ds.dims
        tname = "time" if kind == "flow" else "step"
        get = lambda k: np.asarray(ds[k].values)  # noqa: E731
        stats = {k: get(k) for k in _xr.parse_attr(ds, "stats_keys", [])}
        per_member = {k: get(k) for k in _xr.parse_attr(ds, "per_member_keys", [])}
        outcome = get("outcome").astype(str)
        if not batch:
            stats = {k: v.item() for k, v in stats.items()}
            stats = {k: str(v) if isinstance(v, bytes) else v for k, v in stats.items()}
        else:
            stats = {k: (v.astype(str) if v.dtype == object else v) for k, v in stats.items()}
        return cls(kind=kind, t=get(tname), theta=get("theta"), risk=get("risk"),
                   grad_norm=get("grad_norm"), valid=get("valid").astype(bool),
                   outcome=outcome if batch else str(outcome), 
                   event_time=get("event_time") if batch else float(get("event_time")),
                   event_step=get("event_step") if batch else int(get("event_step")),
                   stats=stats, settings=_xr.parse_attr(ds, "settings", {}),
                   per_member=per_member)

    def to_netcdf(self, path: str | os.PathLike) -> str:
        """Write :meth:`to_xarray` to ``path`` (netCDF-4, h5netcdf engine); read it back with
        ``xarray.open_dataset(path)`` or ``Trajectory.from_xarray``."""
        return _xr.to_netcdf(self.to_xarray(), path)

    def __repr__(self) -> str:
        if self.is_batch:
            return f"Trajectory({self.kind}, {len(self)} members, outcomes={self.outcome_counts()})"
        return (f"Trajectory({self.kind}, {len(self.t)} points, outcome={self.outcome!r}, "
                f"R_final={float(self.risk[-1]):.3e})")
