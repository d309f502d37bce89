"""The ``flowdeq`` command: a thin shell over the library.

    flowdeq flow CONFIG.toml -o DIR           gradient flow → trajectory.npz, summary.json, figure.png
    flowdeq descend CONFIG.toml -o DIR        gradient descent, same files
    flowdeq modified CONFIG.toml -o DIR       GD's modified flow ([modified] step_size, order), same files
    flowdeq theory CONFIG.toml -o DIR         theorem checks → theory.json, theory.md, figure
    flowdeq portrait CONFIG.toml -o DIR       phase portrait (PNG + data)
    flowdeq sweep CONFIG.toml -o DIR [--resume] [--scheduler ADDR] [--netcdf]
    flowdeq study NAME -o DIR [--quick]       a study from studies/ ; ``flowdeq study --list``
    flowdeq show DIR [-o DIR2]                a run's summary and provenance; figures re-drawn
    flowdeq export DIR --netcdf [-o DIR2]     a results directory's data as netCDF (.nc)

Every verb takes ``-q/--quiet`` (no progress or stage lines), ``--pdf`` (PDF figures beside the
PNGs, which are always written) and ``--progress`` (progress on
stderr even when stderr is not a terminal, and diffrax's in-solve meter for single flows);
by default progress and stage lines go to stderr only when it is a terminal.  Results and
the one-line summary go to stdout, progress never does.  Every verb given ``-o/--out``
writes ``run.json`` there (:mod:`flowdeq.app.run_record`): the command line, the exact
config, seeds, versions, platform, git commit, timestamps and how the run ended.

Exit codes:

===  ====================================================================================
Compiled solves are kept in JAX's persistent cache (``~/.cache/flowdeq/jax``; see
``flowdeq.cache``), so a second run skips most of the compile time; ``FLOWDEQ_NO_CACHE=1``
turns that off.
"""
from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import traceback
import warnings

from .. import _progress
from .._version import __version__
from .cache import enable_compilation_cache

__all__ = ["main", "EXIT_OK", "EXIT_FAILED", "EXIT_BAD_INPUT", "EXIT_INTERRUPTED"]

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED, EXIT_TERMINATED = 0, 1, 2, 130, 143

# one example line per verb, shown by `flowdeq VERB --help`
EXAMPLES = {
    "flow": "flowdeq flow data/configs/sec42-sigmoid-population.toml -o results/flow",
    "descend": "flowdeq descend data/configs/sec42-sigmoid.toml -o results/gd",
    "modified": "flowdeq modified data/configs/modified-linear.toml -o results/modified",
    "theory": "flowdeq theory data/configs/sec41-linear-population.toml -o results/theory",
    "portrait": "flowdeq portrait data/configs/portrait-linear.toml -o results/portrait",
    "sweep": "flowdeq sweep data/configs/sweep-linear-gd.toml -o results/sweep --netcdf",
    "study": "flowdeq study paper -o results/paper",
    "show": "flowdeq show results/sweep",
    "export": "flowdeq export results/sweep --netcdf",
}


def _call(target: str, *args, **kwargs):
    # import cost: each verb loads only its own modules (a `study --list` needs no diffrax)
    module, func = target.split(":")
    return getattr(importlib.import_module(module), func)(*args, **kwargs)


class _Parser(argparse.ArgumentParser):
    """argparse with the CLI's one-line error (and exit 2), not usage + error."""

    def error(self, message):
        self.exit(EXIT_BAD_INPUT, f"flowdeq: error: {message} (see `{self.prog} --help`).\n")


class _VerbParser(_Parser):
    """The parser of every verb.  The CLI's conventions are added here, so a verb added later
    gets them without asking: ``-q/--quiet``, ``--progress``, ``-o`` for ``--out``, and its
    example line (``EXAMPLES``) under ``--help``."""

    def __init__(self, *args, **kwargs):
        name = kwargs.get("prog", "").split()[-1] if kwargs.get("prog") else ""
        if name in EXAMPLES and "epilog" not in kwargs:
            kwargs["epilog"] = f"example:\n  {EXAMPLES[name]}"
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)
        g = self.add_mutually_exclusive_group()
        g.add_argument("-q", "--quiet", action="store_true",
                       help="no progress bars or stage lines (warnings and errors still print)")
        g.add_argument("--progress", action="store_true",
                       help="progress on stderr even when it is not a terminal, and diffrax's "
                            "in-solve meter for single flows (one more compile)")
        if name != "export":
            self.add_argument("--pdf", action="store_true",
                              help="write every figure as PDF too (PNG is always written)")

    def add_argument(self, *names, **kwargs):
        if "--out" in names and "-o" not in names:
            names = ("-o", *names)
        return super().add_argument(*names, **kwargs)


def _one_line(message, category, filename, lineno, file=None, line=None):
    # a warning is one line on the command line (the source line means nothing to a user)
    name = "" if category.__name__ == "FigureWarning" else f"{category.__name__}: "
    print(f"flowdeq: warning: {name}{message}", file=sys.stderr)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="flowdeq", description=__doc__.split("\n\n")[0],
                epilog="exit codes: 0 ok, 1 run failed, 2 bad input, 130 interrupted "
                       "(see `python -m pydoc flowdeq.app.cli`).")
    p.add_argument("--version", action="version", version=f"flowdeq {__version__}")
    sub = p.add_subparsers(dest="verb", required=True, parser_class=_VerbParser)
    for verb, text in [("flow", "integrate the gradient flow"), ("descend", "run gradient descent"),
                       ("modified", "integrate GD's modified flow (backward error analysis)"),
                       ("theory", "check the paper's theorems along the runs"),
                       ("portrait", "draw a phase portrait")]:
        s = sub.add_parser(verb, help=text, description=text)
        s.add_argument("config", help="TOML configuration file")
        s.add_argument("--out", required=True, help="output directory")
    s = sub.add_parser("sweep", help="ensemble over starts / step sizes (resumable)",
                       description="ensemble over starts / step sizes (resumable)")
    s.add_argument("config", help="TOML configuration file with a [sweep] table")
    s.add_argument("--out", required=True, help="output directory (the sweep's chunks live here)")
    s.add_argument("--resume", action="store_true", help="continue an interrupted sweep in --out")
    s.add_argument("--scheduler", default=None,
                   help="Dask scheduler: tcp://HOST:PORT, or local:N for a LocalCluster of N workers")
    s.add_argument("--netcdf", action="store_true",
                   help="also write sweep.nc (xarray/netCDF; needs the xarray extra)")
    s = sub.add_parser("study", help="run a study (see --list)", description="run a study")
    s.add_argument("name", nargs="?")
    s.add_argument("--out", default=None, help="output directory")
    s.add_argument("--list", action="store_true", help="list the studies")
    s.add_argument("--quick", action="store_true", help="reduced size (for tests)")
    s = sub.add_parser("show", help="print a run's summary and provenance, re-draw its figures",
                       description="Print a results directory's summary and provenance "
                                   "(run.json) and re-draw its figures from the saved data, "
                                   "without recomputing.")
    s.add_argument("dir", help="a results directory written by flowdeq")
    s.add_argument("--out", default=None,
                   help="where the re-drawn figures go (default DIR/redrawn; never over the "
                        "originals)")
    s.add_argument("--no-figures", action="store_true", help="print only, draw nothing")
    s = sub.add_parser("export", help="write a results directory's data in another format",
                       description="Write the data of a results directory (a sweep, trajectory "
                                   "files, a portrait's maps) as netCDF files any tool opens "
                                   "(xarray.open_dataset).")
    s.add_argument("dir", help="a results directory written by flowdeq")
    s.add_argument("--netcdf", action="store_true", help="write .nc files (needs the xarray extra)")
    s.add_argument("--out", default=None, help="output directory (default: DIR itself)")
    return p


class _Terminated(BaseException):
    """SIGTERM, turned into an exception so run.json records the end and files are closed."""


def _on_sigterm(signum, frame):
    raise _Terminated()


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = _parser().parse_args(argv)
    except SystemExit as done:  # --help / --version (0) or a usage error (2), already printed
        return int(done.code or 0)
    if args.quiet:
        _progress.configure("off")
    elif args.progress:
        _progress.configure("on")
    # the command writes files and opens no window; only here does flowdeq pick a backend.
    # Through the environment, so matplotlib (~0.3 s) is imported only by a verb that draws
    if "matplotlib" in sys.modules:
        sys.modules["matplotlib"].use("Agg")
    else:
        os.environ["MPLBACKEND"] = "Agg"
    if not (args.verb == "study" and (args.list or not args.name)):
        enable_compilation_cache()  # imports JAX, which listing the studies does not need
    record = _call("flowdeq.app.run_record:RunRecord", args, argv)
    old_term = signal.getsignal(signal.SIGTERM)
    try:
        signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread (e.g. main() called from a worker thread)
        old_term = None
    code, error, tb = EXIT_FAILED, None, None
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _one_line
            warnings.simplefilter("always", UserWarning)  # every figure that failed, named
            code, error = _run(args)
    except KeyboardInterrupt:
        code, error = EXIT_INTERRUPTED, "interrupted (Ctrl-C)"
        print(f"flowdeq: {error}: finished work is kept" + _resume_hint(args) + ".",
              file=sys.stderr)
    except _Terminated:
        code, error = EXIT_TERMINATED, "terminated (SIGTERM)"
        print(f"flowdeq: {error}: finished work is kept" + _resume_hint(args) + ".",
              file=sys.stderr)
    except Exception as err:  # a bug or a broken environment: say so, keep the traceback
        code, error, tb = EXIT_FAILED, f"{type(err).__name__}: {_first_line(err)}", \
            traceback.format_exc()
        print(f"flowdeq: error: run failed: {error}", file=sys.stderr)
        print(tb, file=sys.stderr, end="")
    finally:
        if old_term is not None:
            signal.signal(signal.SIGTERM, old_term)
        record.finish(code, error, tb)
    return code


def _resume_hint(args) -> str:
    return " (continue with --resume)" if args.verb == "sweep" else ""


def _run(args) -> tuple[int, str | None]:
    """Run the verb; (exit code, error line or None)."""
    try:
        if getattr(args, "pdf", False):
            _call("flowdeq.plot.figures:set_figure_formats", "pdf")
        if args.verb in ("flow", "descend", "modified"):
            job = {"flow": "flow_job", "descend": "descend_job", "modified": "modified_job"}[args.verb]
            kw = {"progress": _progress.solve_meter()} if args.verb == "flow" else {}
            traj, summary = _call(f"flowdeq.app.jobs:{job}", args.config, args.out, **kw)
            print(f"{args.verb}: outcome {summary.get('outcome', summary.get('outcomes'))}, "
                  f"R_final {summary['risk_final']}, {summary['wall_seconds']:.2f} s -> {args.out}")
            failed = _call("flowdeq.app.jobs:failed_message", traj)
            if failed:
                print(f"flowdeq: error: run failed: {failed}; the trajectory up to that point "
                      f"is in {args.out}.", file=sys.stderr)
                return EXIT_FAILED, failed
        elif args.verb == "theory":
            _call("flowdeq.app.commands:cli_theory", args.config, args.out)
        elif args.verb == "portrait":
            _call("flowdeq.app.commands:cli_portrait", args.config, args.out)
        elif args.verb == "sweep":
            _call("flowdeq.app.commands:cli_sweep", args.config, args.out, resume=args.resume,
                  scheduler=args.scheduler, netcdf=args.netcdf)
        elif args.verb == "study":
            if args.list or not args.name:
                _call("flowdeq.app.studies:cli_list")
            else:
                if not args.out:
                    raise ValueError("flowdeq study NAME needs --out DIR.")
                _call("flowdeq.app.studies:_module", args.name)  # an unknown name, before --out
                _call("flowdeq._validate:output_dir", args.out)
                _call("flowdeq.app.studies:cli_study", args.name, args.out, quick=args.quick)
        elif args.verb == "show":
            _call("flowdeq.app.show:cli_show", args.dir, args.out, figures=not args.no_figures)
        elif args.verb == "export":
            _call("flowdeq.app.show:cli_export", args.dir, args.out, netcdf=args.netcdf)
    except ValueError as err:
        print(f"flowdeq: error: {_first_line(err)}", file=sys.stderr)
        return EXIT_BAD_INPUT, _first_line(err)
    except BrokenPipeError:  # `flowdeq show DIR | head`: the reader had enough
        sys.stdout = open(os.devnull, "w")  # nothing more to flush into the closed pipe
        return EXIT_OK, None
    except OSError as err:  # a file that vanished or a disk that filled mid-run
        where = f" {err.filename}" if err.filename else ""
        msg = f"cannot read or write{where}: {err.strerror or err}."
        print(f"flowdeq: error: run failed: {msg}", file=sys.stderr)
        return EXIT_FAILED, msg
    except ModuleNotFoundError as err:
        if err.name and err.name.startswith("flowdeq"):
            msg = f"`{args.verb}` is not available in this build ({err.name})."
            print(f"flowdeq: error: {msg}", file=sys.stderr)
            return EXIT_BAD_INPUT, msg
        raise
    return EXIT_OK, None


def _first_line(err) -> str:
    # one line, always: a library message that spans lines keeps its first
    lines = str(err).strip().splitlines() or [type(err).__name__]
    return lines[0] + (" (…)" if len(lines) > 1 else "")


if __name__ == "__main__":
    sys.exit(main())
