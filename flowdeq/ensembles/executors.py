r"""Where the chunks of a sweep run: in this process (default) or on a Dask cluster.

An executor takes the chunk tasks of :func:`flowdeq.sweep.run_sweep` — (index, padded
block of starts) — and yields ``(index, result)`` as each chunk finishes; ``run_sweep``
writes every chunk to disk as it arrives, so the resume guarantee does not depend on
where the chunks ran.

* :class:`LocalExecutor` (``executor=None`` / ``"local"``): the chunks run one after
  another in this process, in index order — exactly the historical behaviour.
* :class:`DaskExecutor` (``"tcp://HOST:PORT"``, ``"local:N"`` or a
  ``distributed.Client``): one Dask task per chunk, submitted all at once (or the first
  ``max_chunks``); results come back to the client in completion order
  (``distributed.as_completed``).  Each worker compiles the vmapped solve once (the JAX
  cache is per process) and reuses it for every later chunk it is given.  A chunk whose
  worker dies is rescheduled by Dask; the client keeps only the first result of any
  index, so nothing is lost or written twice.

Dask is the optional ``distributed`` extra (``pip install -e ".[distributed]"``); it is
imported only when a scheduler is asked for.
"""
from __future__ import annotations

import os

import jax

from .._version import __version__
from .chunk import run_chunk

__all__ = ["LocalExecutor", "DaskExecutor", "get_executor", "MissingExtraError"]

_EXTRA_HINT = ('install the distributed extra: pip install -e ".[distributed]" '
               '(or pip install "dask[distributed]")')


class MissingExtraError(ImportError, ValueError):
    """A scheduler was asked for but Dask is not installed (a ValueError too, for the CLI)."""


_PROBLEMS: dict = {}  # per worker process: pickled problem bytes → Problem (one unpickle per sweep)


def _chunk_task(problem_bytes, kind, block, step_sizes, settings, save_paths):
    """The function a Dask worker runs for one chunk.

    The problem travels pickled: unpickling this function imports flowdeq (which turns
    float64 on) before the problem's arrays are rebuilt, so a worker never truncates them to single precision.  The
    unpickled problem is kept per process, and equal problems hit the same jit cache, so a
    worker compiles the vmapped solve once and reuses it for every chunk it runs.
    """
    import cloudpickle  # import cost: cloudpickle comes with the optional distributed extra

    if not jax.config.jax_enable_x64:  # pragma: no cover - importing flowdeq sets it
        raise RuntimeError("worker runs JAX without float64: set JAX_ENABLE_X64=1 on the workers.")
    problem = _PROBLEMS.get(problem_bytes)
    if problem is None:
        _PROBLEMS.clear()
        problem = _PROBLEMS[problem_bytes] = cloudpickle.loads(problem_bytes)
    return run_chunk(problem, kind, block, step_sizes, settings, save_paths)


class LocalExecutor:
    """Run the chunks in this process, in order (the default)."""

    name = "local"

    def map_chunks(self, problem, kind, tasks, step_sizes, settings, save_paths):
        for i, block in tasks:
            yield i, run_chunk(problem, kind, block, step_sizes, settings, save_paths)

    def close(self):
        pass

    def __repr__(self):
        return "LocalExecutor()"


def _import_distributed():
    try:
        import distributed  # noqa: F401  (import cost: the optional extra, only when asked for)
    except ImportError as err:
        raise MissingExtraError(f"a Dask scheduler was asked for but Dask is not installed: "
                                f"{_EXTRA_HINT}.") from err
    return distributed


class DaskExecutor:
    """One Dask task per chunk on the cluster behind ``scheduler``.

    scheduler : ``"tcp://HOST:PORT"`` (an existing scheduler), ``"local:N"`` (start a
        ``LocalCluster`` of N single-threaded worker processes on 127.0.0.1 for the length
        of the sweep) or a ``distributed.Client`` (used as is, not closed).
    """

    name = "dask"

    def __init__(self, scheduler):
        distributed = _import_distributed()
        self._own_cluster = self._own_client = False
        self.cluster = None
        if isinstance(scheduler, distributed.Client):
            self.client = scheduler
        elif isinstance(scheduler, str) and scheduler.startswith("local:"):
            _check_address(scheduler)
            n = int(scheduler.split(":", 1)[1])
            self.cluster = distributed.LocalCluster(
                n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                dashboard_address=None, env={"JAX_ENABLE_X64": "1"})
            self._own_cluster = True
            self.client = distributed.Client(self.cluster)
            self._own_client = True
        elif isinstance(scheduler, str):
            _check_address(scheduler)
            try:
                self.client = distributed.Client(scheduler, timeout="30s")
            except OSError as err:
                raise ValueError(f"scheduler {scheduler}: cannot connect ({err}).") from err
            self._own_client = True
        else:
            raise ValueError(f"scheduler is {scheduler!r}: give tcp://HOST:PORT, local:N or a "
                             "distributed.Client.")
        try:
            self._check_workers()
        except BaseException:
            self.close()
            raise

    def _check_workers(self):
        """Every worker must import the same flowdeq (it unpickles the problem)."""
        try:
            versions = self.client.run(eval, "__import__('flowdeq').__version__")
        except ModuleNotFoundError as err:
            raise ValueError("a Dask worker cannot import flowdeq: install flowdeq (and the "
                             "distributed extra) in every worker's environment.") from err
        bad = {w: v for w, v in versions.items() if v != __version__}
        if bad:
            raise ValueError(f"Dask workers run another flowdeq version than this client "
                             f"({__version__}): {bad}.")

    def map_chunks(self, problem, kind, tasks, step_sizes, settings, save_paths):
        import cloudpickle  # import cost: the optional distributed extra
        from distributed import as_completed  # import cost: the optional distributed extra

        problem_bytes = cloudpickle.dumps(problem)
        futures = {}
        for i, block in tasks:
            # a fresh key per submission (a resumed sweep never picks up a stale or cancelled
            # future of the same name); the prefix names the chunk on the dashboard
            fut = self.client.submit(_chunk_task, problem_bytes, kind, block, step_sizes, settings,
                                     save_paths, key=f"flowdeq-chunk-{i:05d}-{os.urandom(4).hex()}",
                                     pure=False)
            futures[fut.key] = (i, fut)
        seen = set()
        try:
            for fut in as_completed([f for _, f in futures.values()]):
                i = futures[fut.key][0]
                res = fut.result()
                fut.release()
                if i in seen:  # pragma: no cover - as_completed yields each future once
                    continue
                seen.add(i)
                yield i, res
        finally:
            pending = [f for _, f in futures.values() if not f.done()]
            if pending:
                self.client.cancel(pending)

    def close(self):
        if self._own_client:
            self.client.close()
        if self._own_cluster:
            self.cluster.close()

    def __repr__(self):
        return f"DaskExecutor({self.client.scheduler.address})"


def _check_address(scheduler: str):
    """``local:N`` or ``PROTOCOL://HOST:PORT``; checked before Dask is imported or dialled."""
    hint = ("give tcp://HOST:PORT (a running Dask distributed scheduler), local:N (a LocalCluster "
            "of N workers), or nothing for the local executor.")
    if scheduler.startswith("local:"):
        n = scheduler.split(":", 1)[1]
        if not n.isdigit() or int(n) < 1:
            raise ValueError(f"scheduler is {scheduler!r}: N in local:N must be an integer ≥ 1; {hint}")
        return
    proto, sep, rest = scheduler.partition("://")
    host, colon, port = rest.rpartition(":")
    if not (sep and proto and host and colon and port.isdigit()):
        raise ValueError(f"scheduler is {scheduler!r}: {hint}")


def get_executor(executor=None):
    """None / "local" → :class:`LocalExecutor`; "local:N", "tcp://HOST:PORT" or a
    ``distributed.Client`` → :class:`DaskExecutor`; an object with ``map_chunks`` is used as
    is.  Returns ``(executor, owned)``: the caller closes an executor it owns."""
    if executor is None or executor == "local":
        return LocalExecutor(), True
    if hasattr(executor, "map_chunks"):
        return executor, False
    if isinstance(executor, str):
        _check_address(executor)
    return DaskExecutor(executor), True
