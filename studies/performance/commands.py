"""Whole-process benchmarks of the commands a researcher runs (issue 16).

Each command runs as a fresh process, as a user would start it, with the compilation cache off
(``FLOWDEQ_NO_CACHE=1``: a first run on a new machine) and with a cache directory of its own
that one earlier run has filled.  Beside each, in the same run: a bare ``import jax;
jnp.ones(3)`` process (what any JAX program pays) and the bare library call the command wraps
(a ``python -c`` that loads the config and calls ``gradient_descent``/``gradient_flow``,
writing nothing).

Where the time goes comes from one more, instrumented run of each (``python -X importtime``,
JAX's compile-stage events and timers around the file writers); its stages are

    startup    interpreter start to the first line of the script
    import     every module import (``-X importtime``, top-level entries; lazy imports made
               while the command runs included)
    compile    tracing, lowering and XLA (the union of ``jaxpr_trace_duration``,
               ``jaxpr_to_mlir_module_duration`` and ``backend_compile_duration`` spans)
    files      rendering and writing figures (``Figure.savefig``), ``np.savez``/``np.save``,
               ``json.dump``
    run        the rest of the command's own time: computing and Python
    teardown   from the command's return to the process's exit (interpreter finalisation)

The instrumented run pays a little for its instruments, so its total is a few per cent above
the median of the plain runs; the stages are reported as measured, beside that median.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CONFIGS = os.path.join(ROOT, "data", "configs")
BARE_JAX = "import jax, jax.numpy as jnp; jnp.ones(3).block_until_ready()"

# runs the command inside an instrumented process; the last stdout line is its JSON report
_PROBE = textwrap.dedent('''
    import time
    T_START = time.time()
    import builtins, importlib.abc, importlib.util, json, sys, threading
    FILE_TIME = [0.0]
    _depth = threading.local()

    def timed(fn):
        def wrapper(*a, **k):
            outer = getattr(_depth, "n", 0) == 0
            _depth.n = getattr(_depth, "n", 0) + 1
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                _depth.n -= 1
                if outer:
                    FILE_TIME[0] += time.perf_counter() - t
        return wrapper

    class _Patch(importlib.abc.MetaPathFinder):
        """Wraps Figure.savefig once matplotlib.figure is imported (lazily, by the command)."""
        def find_spec(self, name, path, target=None):
            if name != "matplotlib.figure":
                return None
            sys.meta_path.remove(self)
            spec = importlib.util.find_spec(name)
            load = spec.loader.exec_module
            def exec_module(module):
                load(module)
                module.Figure.savefig = timed(module.Figure.savefig)
            spec.loader.exec_module = exec_module
            return spec

    sys.meta_path.insert(0, _Patch())
    import numpy as np
    np.savez, np.save, json.dump = timed(np.savez), timed(np.save), timed(json.dump)
    import jax
    EVENTS = ("/jax/core/compile/jaxpr_trace_duration",
              "/jax/core/compile/jaxpr_to_mlir_module_duration",
              "/jax/core/compile/backend_compile_duration")
    spans = []
    def listen(event, duration, **kw):
        if event in EVENTS:
            end = time.perf_counter()
            spans.append((end - duration, end))
    jax.monitoring.register_event_duration_secs_listener(listen)
    sys.stderr.write("FLOWDEQ-BENCH-MAIN\\n"); sys.stderr.flush()
    t_main = time.perf_counter()
    T_MAIN = time.time()
    KIND, ARGS = sys.argv[1], sys.argv[2:]
    if KIND == "cli":
        from flowdeq.app.cli import main
        rc = main(ARGS)
        assert rc == 0, rc
    else:
        exec(ARGS[0])
    main_s = time.perf_counter() - t_main
    compile_s, reach = 0.0, float("-inf")
    for a, b in sorted(spans):  # union: nested traces count once
        if b > reach:
            compile_s += b - max(a, reach)
            reach = b
    print(json.dumps({"t_start": T_START, "t_main": T_MAIN, "main": main_s, "compile": compile_s,
                      "files": FILE_TIME[0], "t_end": time.time()}))
''')


def _env(cache_home):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    if cache_home is None:
        env["FLOWDEQ_NO_CACHE"] = "1"
    else:
        env.pop("FLOWDEQ_NO_CACHE", None)
        env["XDG_CACHE_HOME"] = cache_home
    return env


def _argv(kind, args):
    """The plain command line: the flowdeq CLI as `python -m` would start it, or a script."""
    if kind == "cli":
        return [sys.executable, "-m", "flowdeq.app.cli", *args]
    return [sys.executable, "-c", args[0]]


def _wall(kind, args, env, repeats):
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        subprocess.run(_argv(kind, args), env=env, cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ts.append(time.perf_counter() - t)
    return float(np.median(ts))


def _imports(stderr):
    """Seconds of import before and after the marker (top-level ``-X importtime`` entries)."""
    before = after = 0.0
    seen_marker = False
    for line in stderr.splitlines():
        if line.startswith("FLOWDEQ-BENCH-MAIN"):
            seen_marker = True
            continue
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = line.split("|", 2)
        try:
            us = int(cumulative.strip())
        except ValueError:  # the header line
            continue
        if name[1:] != name[1:].lstrip():  # nested import: counted in its parent
            continue
        if seen_marker:
            after += us / 1e6
        else:
            before += us / 1e6
    return before, after


def breakdown(kind, args, env) -> dict:
    """One instrumented run: the stages of the module doc, in seconds."""
    t_launch = time.time()
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", _PROBE, kind, *args],
                          env=env, cwd=ROOT, capture_output=True, text=True)
    t_exit = time.time()
    if proc.returncode != 0:
        raise RuntimeError(f"{args}: {proc.stderr[-2000:]}")
    rep = json.loads(proc.stdout.strip().splitlines()[-1])
    imp_before, imp_after = _imports(proc.stderr)
    run = rep["main"] - rep["compile"] - rep["files"] - imp_after
    return {"total": t_exit - t_launch, "startup": rep["t_start"] - t_launch,
            "import": imp_before + imp_after, "compile": rep["compile"], "files": rep["files"],
            "run": max(run, 0.0), "teardown": t_exit - rep["t_end"],
            # what the probe itself adds outside the stages (its own imports are counted above)
            "other": (rep["t_main"] - rep["t_start"]) - imp_before}


def fmt_breakdown(b) -> str:
    keys = ("startup", "import", "compile", "run", "files", "teardown")
    return (f"instrumented {b['total']:.2f} s = " + ", ".join(f"{k} {b[k]:.2f}" for k in keys)
            + f" (+{b['other']:.2f} probe)")


def _library_code(verb, config, cache):
    pre = f"fd.enable_compilation_cache({cache!r}); " if cache else ""
    if verb == "descend":
        call = ("fd.gradient_descent(c.problem, c.theta0, c.descent['step_size'], "
                "int(c.descent['steps']))")
    else:
        call = "fd.gradient_flow(c.problem, c.theta0, c.flow['t1'])"
    return (f"import flowdeq as fd; from flowdeq.app.config import load_config; {pre}"
            f"c = load_config({config!r}); {call}")


def bench_commands(q, rows, notes, verdict, brentq_cold=None):
    """The command rows; ``brentq_cold`` is the Sec. 4.2 paper-method baseline's cold time."""
    reps = q["cold_repeats"]
    plain = _env(None)
    jax_s = _wall("code", [BARE_JAX], plain, reps)
    jax_b = breakdown("code", [BARE_JAX], plain)
    rows.append(("bare `import jax; jnp.ones(3)` process (the floor of any JAX command)", jax_s,
                 float("nan"), float("nan"), fmt_breakdown(jax_b), "—", ""))
    out_root = tempfile.mkdtemp(prefix="flowdeq-bench-cmd-")
    cases = [("descend", "sec42-sigmoid.toml"), ("descend", "sec41-linear.toml"),
             ("flow", "sec42-sigmoid.toml"), ("flow", "sec41-linear.toml")]
    study = ["study", "paper"] + (["--quick"] if q.get("quick") else [])
    results = {}
    for verb, name in cases + [("study", "paper")]:
        config = os.path.join(CONFIGS, name)
        label = f"`flowdeq study paper{' --quick' if q.get('quick') else ''}`" if verb == "study" \
            else f"`flowdeq {verb} {name}`"
        for cached in (False, True):
            home = tempfile.mkdtemp(prefix="flowdeq-bench-xdg-") if cached else None
            env = _env(home)
            out = os.path.join(out_root, f"{verb}-{name}-{cached}")
            args = study + ["--out", out] if verb == "study" else [verb, config, "--out", out]
            if cached:
                _wall("cli", args, env, 1)  # fills this row's cache
            wall = _wall("cli", args, env, reps)
            b = breakdown("cli", args, env)
            lib = lib_b = None
            if verb != "study":
                code = _library_code(verb, config, os.path.join(home, "flowdeq", "jax")
                                     if cached else None)
                if cached:
                    _wall("code", [code], env, 1)
                lib = _wall("code", [code], env, reps)
            results[(verb, name, cached)] = (wall, b, lib)
            cache_txt = "cache filled by an earlier run" if cached else "no compilation cache"
            detail = (f"{wall / jax_s:.2f}× bare JAX" + (f", {wall / lib:.2f}× the bare library "
                      f"call ({lib:.2f} s)" if lib else "") + f"; {fmt_breakdown(b)}")
            target, status = "—", ""
            if verb == "descend" and name == "sec42-sigmoid.toml":
                limit = 1.25 if cached else 1.6
                target = f"≤ {limit}× bare JAX"
                status = verdict(wall / jax_s <= limit, f"{wall / jax_s:.2f}×",
                                 f"{label}, {cache_txt}: {wall:.2f} s against {jax_s:.2f} s for a "
                                 f"bare JAX process; {fmt_breakdown(b)}.")
            if verb == "study" and cached:
                share = b["compile"] / b["total"]
                target = "compile ≤ 25 % of wall"
                detail += f"; compile share {share:.0%}"
                status = verdict(share <= 0.25, f"{share:.0%}",
                                 f"{label} with a filled cache: tracing, lowering and compiling "
                                 f"take {b['compile']:.2f} s of {b['total']:.2f} s.")
            rows.append((f"{label}, whole process, {cache_txt}", wall, float("nan"), float("nan"),
                         detail, target, status))
    if brentq_cold is not None:
        wall = results[("descend", "sec42-sigmoid.toml", True)][0]
        rows.append(("`flowdeq descend sec42-sigmoid.toml` with the cache against the paper's "
                     "method (brentq per sample), both whole processes", wall, brentq_cold,
                     brentq_cold / wall, "same θ (Sec. 4.2 rows above)", "≥ 30×",
                     verdict(brentq_cold / wall >= 30, f"{brentq_cold / wall:.0f}× of 30×",
                             "Sec. 4.2 cold with the cache against brentq: see the "
                             "`flowdeq descend` rows for where the time goes.")))
    notes.append("Command rows: medians of " + str(reps) + " fresh processes each "
                 "(`python -m flowdeq.app.cli …`, stdout discarded); 'cache filled by an earlier "
                 "run' = a fresh XDG_CACHE_HOME that one run of the same command filled (JAX's "
                 "compilation cache plus flowdeq's traced programs, flowdeq/_programs.py).  The "
                 "stages come from one more instrumented run (studies/performance/commands.py: "
                 "`-X importtime`, JAX's compile events, timers on savefig/np.savez/json.dump).")
    return results
