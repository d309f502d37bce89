"""The ``flowdeq`` command: a thin shell over the library.

    flowdeq flow CONFIG.toml --out DIR        gradient flow → trajectory.npz, summary.json, figure.png
    flowdeq descend CONFIG.toml --out DIR     gradient descent, same files
    flowdeq modified CONFIG.toml --out DIR    GD's modified flow ([modified] step_size, order), same files
    flowdeq theory CONFIG.toml --out DIR      theorem checks → theory.json, theory.md, figure
    flowdeq portrait CONFIG.toml --out DIR    phase portrait (PNG + PDF + data)
    flowdeq sweep CONFIG.toml --out DIR [--resume] [--scheduler ADDR]
    flowdeq study NAME --out DIR [--quick]    a study from studies/ ; ``flowdeq study --list``

Errors in the input (a ``ValueError`` from the library, an unreadable file) print one line,
``flowdeq: error: …``, and exit 2, before anything is computed or ``--out`` is created; a
figure that cannot be drawn prints one ``flowdeq: warning: …`` line, the data files kept.
Compiled solves are kept in JAX's persistent cache (``~/.cache/flowdeq/jax``; see
``flowdeq.cache``), so a second run skips most of the compile time; ``FLOWDEQ_NO_CACHE=1``
turns that off.
"""
from __future__ import annotations

import argparse
import importlib
import sys
import warnings

import matplotlib

from .cache import enable_compilation_cache

__all__ = ["main"]


def _call(target: str, *args, **kwargs):
    # import cost: each verb loads only its own modules (a `study --list` needs no diffrax)
    module, func = target.split(":")
    return getattr(importlib.import_module(module), func)(*args, **kwargs)


class _Parser(argparse.ArgumentParser):
    """argparse with the CLI's one-line error (and exit 2), not usage + error."""

    def error(self, message):
        self.exit(2, f"flowdeq: error: {message} (see `{self.prog} --help`).\n")


def _one_line(message, category, filename, lineno, file=None, line=None):
    # a warning is one line on the command line (the source line means nothing to a user)
    name = "" if category.__name__ == "FigureWarning" else f"{category.__name__}: "
    print(f"flowdeq: warning: {name}{message}", file=sys.stderr)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="flowdeq", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="verb", required=True)
    for verb, text in [("flow", "integrate the gradient flow"), ("descend", "run gradient descent"),
                       ("modified", "integrate GD's modified flow (backward error analysis)"),
                       ("theory", "check the paper's theorems along the runs"),
                       ("portrait", "draw a phase portrait")]:
        s = sub.add_parser(verb, help=text)
        s.add_argument("config", help="TOML configuration file")
        s.add_argument("--out", required=True, help="output directory")
    s = sub.add_parser("sweep", help="ensemble over starts / step sizes (resumable)")
    s.add_argument("config")
    s.add_argument("--out", required=True)
    s.add_argument("--resume", action="store_true", help="continue an interrupted sweep in --out")
    s.add_argument("--scheduler", default=None,
                   help="Dask scheduler: tcp://HOST:PORT, or local:N for a LocalCluster of N workers")
    s = sub.add_parser("study", help="run a study (see --list)")
    s.add_argument("name", nargs="?")
    s.add_argument("--out", default=None)
    s.add_argument("--list", action="store_true", help="list the studies")
    s.add_argument("--quick", action="store_true", help="reduced size (for tests)")
    return p


def main(argv=None) -> int:
    try:
        args = _parser().parse_args(argv)
    except SystemExit as done:  # --help (0) or a usage error (2), already printed
        return int(done.code or 0)
    # the command writes files and opens no window; only here does flowdeq pick a backend
    matplotlib.use("Agg")
    enable_compilation_cache()
    with warnings.catch_warnings():
        warnings.showwarning = _one_line
        warnings.simplefilter("always", UserWarning)  # every figure that failed, named
        return _run(args)


def _run(args) -> int:
    try:
        if args.verb in ("flow", "descend", "modified"):
            job = {"flow": "flow_job", "descend": "descend_job", "modified": "modified_job"}[args.verb]
            traj, summary = _call(f"flowdeq.app.jobs:{job}", args.config, args.out)
            print(f"{args.verb}: outcome {summary.get('outcome', summary.get('outcomes'))}, "
                  f"R_final {summary['risk_final']}, {summary['wall_seconds']:.2f} s -> {args.out}")
        elif args.verb == "theory":
            _call("flowdeq.app.commands:cli_theory", args.config, args.out)
        elif args.verb == "portrait":
            _call("flowdeq.app.commands:cli_portrait", args.config, args.out)
        elif args.verb == "sweep":
            _call("flowdeq.app.commands:cli_sweep", args.config, args.out, resume=args.resume,
                  scheduler=args.scheduler)
        elif args.verb == "study":
            if args.list or not args.name:
                _call("flowdeq.app.studies:cli_list")
            else:
                if not args.out:
                    raise ValueError("flowdeq study NAME needs --out DIR.")
                _call("flowdeq.app.studies:_module", args.name)  # an unknown name, before --out
                _call("flowdeq._validate:output_dir", args.out)
                _call("flowdeq.app.studies:cli_study", args.name, args.out, quick=args.quick)
    except ValueError as err:
        print(f"flowdeq: error: {_first_line(err)}", file=sys.stderr)
        return 2
    except OSError as err:  # a file that vanished or filled the disk mid-run
        where = f" {err.filename}" if err.filename else ""
        print(f"flowdeq: error: cannot read or write{where}: {err.strerror or err}.",
              file=sys.stderr)
        return 2
    except ModuleNotFoundError as err:
        if err.name and err.name.startswith("flowdeq"):
            print(f"flowdeq: error: `{args.verb}` is not available in this build ({err.name}).",
                  file=sys.stderr)
            return 2
        raise
    return 0


def _first_line(err) -> str:
    # one line, always: a library message that spans lines keeps its first
    lines = str(err).strip().splitlines() or [type(err).__name__]
    return lines[0] + (" (…)" if len(lines) > 1 else "")


if __name__ == "__main__":
    sys.exit(main())
