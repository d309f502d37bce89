"""The architecture of ../shared/DESIGN.md as checks that fail when it rots.

* import-linter's contracts in pyproject.toml: layers point down, no cycles inside a package;
* a function-level import is only for import cost, and says so ("import cost" beside it);
* no dispatch on the concrete model outside ``models/``: no isinstance on a model class,
  no ``is_linear``, no ``theta[..., -1]`` (θ₂ is the model's business);
* importing flowdeq never changes the user's matplotlib backend, and the numeric layers do
  not import matplotlib at all.
"""
import ast
import os
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PKG = ROOT / "flowdeq"
# the pre-0.2 flat module paths: one-line re-exports kept for old scripts, outside the layers
SHIMS = {"activations", "cache", "cli", "config", "descent", "diagnostics", "equilibrium",
         "executors", "figures", "flow", "jobs", "portraits", "rates", "singularity", "studies",
         "sweep", "targets", "theory", "trajectory"}


def _sources():
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(PKG)
        if len(rel.parts) == 1 and rel.stem in SHIMS:
            continue
        yield rel, path.read_text()


def test_import_linter_contracts_hold():
    exe = pathlib.Path(sys.executable).parent / "lint-imports"
    if not exe.exists():
        pytest.fail("lint-imports is missing: install the test extra (pip install -e '.[test]').")
    proc = subprocess.run([str(exe), "--config", str(ROOT / "pyproject.toml")], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "BROKEN" not in proc.stdout and proc.stdout.count("KEPT") >= 2


def test_shims_only_re_export():
    for name in SHIMS:
        tree = ast.parse((PKG / f"{name}.py").read_text())
        body = [n for n in tree.body if not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))]
        assert all(isinstance(n, (ast.ImportFrom, ast.Import, ast.Assign, ast.If)) for n in body), name


def test_function_level_imports_say_they_are_for_import_cost():
    bad = []
    for rel, text in _sources():
        lines = text.splitlines()
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for inner in ast.walk(node):
                    if isinstance(inner, (ast.Import, ast.ImportFrom)):
                        near = " ".join(lines[max(inner.lineno - 2, 0):inner.lineno])
                        if "import cost" not in near:
                            bad.append(f"{rel}:{inner.lineno}")
    assert not bad, f"function-level imports without an 'import cost' reason: {bad}"


@pytest.mark.parametrize("pattern, what", [
    (r"\bis_linear\b", "is_linear branches"),
    (r"theta\[\.\.\., *-1\]|theta\[:, *-1\]", "θ₂ read as theta[..., -1]"),
    (r"isinstance\([^)]*(LinearDEQ|SingleIndexDEQ|_ScalarFeedbackDEQ)", "isinstance on a model class"),
    (r"hasattr\([^)]*model", "hasattr on a model"),
])
def test_no_model_dispatch_outside_models(pattern, what):
    hits = [f"{rel}:{i + 1}" for rel, text in _sources() if rel.parts[0] != "models"
            for i, line in enumerate(text.splitlines()) if re.search(pattern, line)]
    assert not hits, f"{what} outside flowdeq/models: {hits}"


def _run(code):
    env = {**os.environ, "MPLBACKEND": "pdf"}
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout.strip()


def test_importing_every_module_keeps_the_users_backend():
    out = _run(
        "import importlib, pkgutil, flowdeq, matplotlib\n"
        "for m in pkgutil.walk_packages(flowdeq.__path__, 'flowdeq.'):\n"
        "    importlib.import_module(m.name)\n"
        "print(matplotlib.get_backend())")
    assert out.lower() == "pdf"


def test_numeric_layers_do_not_import_matplotlib():
    out = _run(
        "import sys, flowdeq\n"
        "import flowdeq.dynamics.flow, flowdeq.analysis.diagnostics, flowdeq.analysis.rates\n"
        "import flowdeq.analysis.theory, flowdeq.analysis.geometry, flowdeq.ensembles.sweep\n"
        "import flowdeq.ensembles.singularity, flowdeq.io\n"
        "print('matplotlib' in sys.modules)")
    assert out == "False"
