r"""A merged sweep result (:class:`SweepResult`) and its labelled view, ``to_xarray()``.

``run_sweep`` and ``load_sweep`` return a :class:`SweepResult`: the dict of per-member arrays
they always returned (so ``res["outcome"]`` reads as before), plus the sweep's spec, its grid
(for a sweep over ``grid_starts``' chart grid) and the parameter names, which
:meth:`SweepResult.to_xarray` turns into an ``xarray.Dataset``:

* a **grid** sweep is gridded: dimensions ``theta2`` × ``theta1`` (the chart's t and s axes,
  named as the config's ``[sweep] theta1/theta2``; their ``long_name`` is the chart label),
  and for GD a leading ``step_size`` dimension, so ``ds.outcome.sel(theta1=…, theta2=…)``;
* any other sweep has a ``member`` dimension (the start's index; GD: ``step_size`` × ``member``).

Variables: ``outcome``, ``event_time`` / ``event_step``, ``theta_final``, ``risk_final``,
``grad_norm_final``, ``min_margin`` (closest approach to ill-posedness), ``t_min_margin``,
``t_final``, ``theta0`` (the start); GD adds ``theta_before``/``theta_after`` of a ``crossed``
jump; ``save_paths`` sweeps add ``path_t``/``path_theta`` over a ``point`` dimension.
Attributes hold the spec (problem, settings, hashes) as a JSON string.
"""
from __future__ import annotations

import numpy as np

from .. import _xr
from .._version import __version__
from ..analysis.geometry import chart as _chart
from ..dynamics.trajectory import jsonable

__all__ = ["SweepResult", "grid_manifest", "check_grid", "DATASET_FORMAT"]

DATASET_FORMAT = "flowdeq-sweep-dataset/1"
_SKIP = {"start", "step_size", "starts", "kind", "step_sizes"}  # coordinates, not variables
_LONG = {"outcome": "how the run ended (flowdeq.Outcome; ill_posed_start: not run)",
         "event_time": "time the terminating event fired (NaN: none)",
         "event_step": "GD iterate that triggered the event (-1: none)",
         "theta_final": "θ at the end of the run", "risk_final": "R(θ) at the end",
         "grad_norm_final": "‖∇R(θ)‖ at the end",
         "min_margin": "closest approach: least margin to ill-posedness over the run",
         "t_min_margin": "time (flow) or step (GD) of the closest approach",
         "t_final": "time (flow) or step (GD) of the last point", "theta0": "the start θ₀",
         "theta_before": "θ before the crossing step", "theta_after": "θ after the crossing step"}


def grid_manifest(problem, starts, grid) -> dict:
    """The manifest record of a chart grid: ``grid`` = (xs, ys) or (xs, ys, chart)."""
    if not isinstance(grid, (tuple, list)) or len(grid) not in (2, 3):
        raise ValueError("grid is not (xs, ys) or (xs, ys, chart): give the chart axes "
                         "grid_starts built the starts from.")
    c = _chart(problem, grid[2] if len(grid) == 3 else None)
    rec = {"names": ["theta1", "theta2"], "labels": list(c.labels),
           "s": np.asarray(grid[0], float).tolist(), "t": np.asarray(grid[1], float).tolist(),
           "origin": c.origin.tolist(), "u": c.u.tolist(), "v": c.v.tolist()}
    check_grid(rec, starts)
    return rec


def check_grid(rec, starts) -> None:
    """ValueError unless ``starts`` is exactly the chart grid ``rec`` describes (row-major
    over (t, s), as :func:`~flowdeq.ensembles.starts.grid_starts` builds it)."""
    try:
        xs, ys = np.asarray(rec["s"], float), np.asarray(rec["t"], float)
        o, u, v = (np.asarray(rec[k], float) for k in ("origin", "u", "v"))
        S, T = np.meshgrid(xs, ys)
        s, t = S.ravel(), T.ravel()
        lifted = o + s[:, None] * u + t[:, None] * v  # the same operations as geometry.lift
    except (KeyError, TypeError, ValueError):
        raise ValueError("has a malformed grid record") from None
    if lifted.shape != np.shape(starts) or not np.array_equal(lifted, starts):
        raise ValueError("has a grid that does not match its starts")


class SweepResult(dict):
    """Per-member arrays of a merged sweep (a dict, as before) with :meth:`to_xarray`."""

    def __init__(self, res, grid=None, spec=None, param_names=None):
        super().__init__(res)
        self.grid, self.spec = grid, spec
        p = np.shape(res["starts"])[1]
        self.param_names = list(param_names) if param_names else [f"theta[{i}]" for i in range(p)]

    def to_xarray(self):
        """The sweep as an ``xarray.Dataset`` (module doc); needs the ``xarray`` extra."""
        xr = _xr.xarray("a sweep's to_xarray()")
        kind = self["kind"]
        starts = np.asarray(self["starts"])
        n = len(starts)
        etas = None if self["step_sizes"] is None else np.asarray(self["step_sizes"], float)
        m = 1 if kind == "flow" else len(etas)
        coords = {"param": ("param", np.asarray(self.param_names, dtype=str))}
        if self.grid is not None:
            xs, ys = np.asarray(self.grid["s"]), np.asarray(self.grid["t"])
            place = ("theta2", "theta1")
            coords["theta1"] = ("theta1", xs, {"long_name": f"{self.grid['labels'][0]}(0)"})
            coords["theta2"] = ("theta2", ys, {"long_name": f"{self.grid['labels'][1]}(0)"})
            shape = (len(ys), len(xs))
        else:
            place = ("member",)
            coords["member"] = ("member", np.arange(n))
            shape = (n,)
        lead = () if kind == "flow" else ("step_size",)
        if kind != "flow":
            coords["step_size"] = ("step_size", etas, {"long_name": "GD step size η"})
        data = {"theta0": (place + ("param",), starts.reshape(shape + (-1,)))}
        for k, a in self.items():
            if k in _SKIP:
                continue
            a = np.asarray(a)
            extra = a.shape[1:]
            dims = lead + place
            if k in ("theta_final", "theta_before", "theta_after"):
                dims += ("param",)
            elif k == "path_t":
                dims += ("point",)
            elif k == "path_theta":
                dims += ("point", "param")
            block = a.reshape((m,) + shape + extra)
            data[k] = (dims, block if kind != "flow" else block[0])
        ds = xr.Dataset(data, coords=coords)
        for k, text in _LONG.items():
            if k in ds:
                ds[k].attrs["long_name"] = text
        ds.attrs = {"flowdeq_format": DATASET_FORMAT, "kind": kind, "flowdeq_version": __version__,
                    "spec": _xr.json_attr(jsonable(self.spec or {})),
                    "problem": _xr.json_attr(jsonable((self.spec or {}).get("problem", {})))}
        if self.grid is not None:
            ds.attrs["grid"] = _xr.json_attr(self.grid)
        return ds

    def to_netcdf(self, path) -> str:
        """Write :meth:`to_xarray` to ``path`` (netCDF-4, h5netcdf engine)."""
        return _xr.to_netcdf(self.to_xarray(), path)
