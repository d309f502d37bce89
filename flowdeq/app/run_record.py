"""``run.json`` for every ``--out`` of the ``flowdeq`` command, written once, here.

The CLI builds a :class:`RunRecord` before a verb runs and calls :meth:`RunRecord.finish`
after it, whatever happened, so every verb (also one added later) that is given ``--out``
gets a ``run.json`` without code of its own.  The record is :func:`flowdeq.io.provenance`
(versions, x64, platform, git commit, environment, the exact config with its sha256 and
seeds) plus::

    verb, options      the verb and every parsed option (the config path, --resume, …)
    status, exit_code  "ok" 0 | "failed" 1 | "bad_input" 2 | "interrupted" 130/143
    error, traceback   the one-line error and, for an unexpected one, the traceback
    started, finished  ISO 8601 local times with offset; wall_seconds between them
    run_id             a random id; an earlier run.json in the same directory (an
                       interrupted sweep before its --resume) moves into ``history``

A bad-input run (exit 2) writes no run.json: nothing was computed, and the provenance of
results already in the directory must not be touched.  A failed or interrupted run still
writes its record, with its end state.
"""
from __future__ import annotations

import os
import sys
import time
import uuid

from ..io import jsonable, now, provenance, write_run_json

__all__ = ["RunRecord", "STATUS"]

STATUS = {0: "ok", 1: "failed", 2: "bad_input", 130: "interrupted", 143: "interrupted"}


class RunRecord:
    """Start/end bookkeeping of one CLI run (see the module doc)."""

    def __init__(self, args, argv):
        self.args, self.argv = args, list(argv)
        self.out = getattr(args, "out", None)
        self.started, self.t0 = now(), time.perf_counter()
        self.run_id = uuid.uuid4().hex

    def finish(self, code: int, error: str | None = None, tb: str | None = None) -> str | None:
        """Write ``run.json`` into ``--out`` if there is one to write into (module doc)."""
        out = self.out
        if not out or not os.path.isdir(out) or code == 2:
            return None
        config = getattr(self.args, "config", None)
        config = config if isinstance(config, str) and os.path.isfile(config) else None
        options = {k: v for k, v in vars(self.args).items() if k not in ("verb",)}
        rec = provenance(config=config, command=["flowdeq", *self.argv])
        rec.pop("time", None)
        rec.update({"run_id": self.run_id, "verb": self.args.verb, "options": jsonable(options),
                    "status": STATUS.get(code, "failed"), "exit_code": int(code),
                    "error": error, "traceback": tb, "started": self.started,
                    "finished": now(), "wall_seconds": time.perf_counter() - self.t0})
        try:
            return write_run_json(out, rec)
        except OSError as err:  # the run's own exit code stands; say why provenance is missing
            print(f"flowdeq: warning: run.json not written ({err.strerror or err}).",
                  file=sys.stderr)
            return None
