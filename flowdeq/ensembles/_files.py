"""Atomic file writes for sweep directories (a private helper of :mod:`flowdeq.ensembles.sweep`).

It lives here, not in :mod:`flowdeq.io`, because ``io`` sits above ``ensembles`` in the
layer contract (pyproject ``[tool.importlinter]``).
"""
from __future__ import annotations

import contextlib
import os

__all__ = ["write_atomic"]


def write_atomic(path: str, write) -> None:
    """Write ``path`` all at once: ``write(fh)`` fills a binary temp file in the same
    directory, which is fsynced and then ``os.replace``-d onto ``path``.

    A reader sees the old file or the whole new one, never a part; if ``write`` raises
    (or the process is stopped by an exception) the temp file is removed and ``path`` is
    untouched.  A process killed outright may leave ``.NAME.*.tmp``, which is safe to delete.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(folder, f".{os.path.basename(path)}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    # os.open with 0o666 (not mkstemp's 0o600) so the file gets the user's umask like any other
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(folder)


def _fsync_dir(folder: str) -> None:
    """Make the rename itself durable (POSIX); directories cannot be opened on Windows."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
