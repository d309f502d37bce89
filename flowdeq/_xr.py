"""xarray and netCDF for flowdeq's labelled results (the optional ``xarray`` extra).

xarray (with pandas) costs ~0.3 s of import and ~100 MB installed, and nothing in flowdeq's
core needs it, so it is an extra: ``pip install "flowdeq[xarray]"`` (xarray, h5netcdf, h5py).
Every call that needs it imports it here, at the call (import cost), and without it fails
with one line naming the extra.  netCDF files are written with the ``h5netcdf`` engine
(netCDF-4/HDF5), atomically; nested settings travel as JSON strings in attributes, since
netCDF attributes hold only strings, numbers and flat arrays.
"""
from __future__ import annotations

import json
import os

__all__ = ["MissingXarrayError", "xarray", "require", "to_netcdf", "open_dataset", "json_attr", "parse_attr",
           "EXTRA_HINT"]

EXTRA_HINT = ('install the xarray extra: pip install "flowdeq[xarray]" (in a checkout: '
              'pip install -e ".[xarray]")')


class MissingXarrayError(ImportError, ValueError):
    """xarray or h5netcdf is not installed (a ValueError too: the CLI prints one line, exit 2)."""


def xarray(what: str = "a labelled Dataset"):
    """The xarray module, or a one-line :class:`MissingXarrayError` naming the extra."""
    try:
        import xarray as xr  # import cost: 0.3 s with pandas, only where a Dataset is built
    except ImportError:
        raise MissingXarrayError(f"{what} needs xarray, which is not installed: {EXTRA_HINT}.") \
            from None
    return xr


def _engine(what):
    try:
        import h5netcdf  # noqa: F401  (import cost: the netCDF engine, only when writing/reading .nc)
        import h5py  # noqa: F401  (import cost: h5netcdf's HDF5 backend)
    except ImportError:
        raise MissingXarrayError(f"{what} needs h5netcdf and h5py, which are not installed: "
                                 f"{EXTRA_HINT}.") from None
    return "h5netcdf"


def require(what: str) -> None:
    """Fail now, in one line naming the extra, if ``what`` (e.g. "--netcdf") cannot run."""
    xarray(what)
    _engine(what)


def to_netcdf(ds, path) -> str:
    """Write Dataset ``ds`` to ``path`` (netCDF-4 through h5netcdf) all at once: a temp file in
    the same folder, then ``os.replace``, so a reader never sees half a file."""
    path = os.fspath(path)
    engine = _engine("writing netCDF")
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f".{os.path.basename(path)}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    try:
        ds.to_netcdf(tmp, engine=engine)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def open_dataset(path):
    """Read a netCDF file written by :func:`to_netcdf` fully into memory (the file is closed)."""
    xr = xarray("reading netCDF")
    with xr.open_dataset(os.fspath(path), engine=_engine("reading netCDF")) as ds:
        return ds.load()


def json_attr(obj) -> str:
    """A netCDF attribute holding ``obj`` (already JSON-able) as a JSON string."""
    return json.dumps(obj, sort_keys=True, ensure_ascii=False)


def parse_attr(ds, name, default=None):
    """The JSON attribute ``name`` of ``ds`` parsed back (``default`` when absent)."""
    text = ds.attrs.get(name)
    return default if text is None else json.loads(text)
