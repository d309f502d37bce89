"""Writing results: JSON and Markdown summaries (layer L3; figures are written by
:func:`flowdeq.plot.save_fig`, since only ``plot/`` imports matplotlib)."""
from __future__ import annotations

import json
import os

from .dynamics.trajectory import jsonable as _jsonable

__all__ = ["jsonable", "write_json", "write_md"]


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
