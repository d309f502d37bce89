"""The bad-input suite (issue 13): every row is one hostile input and the one-line message
that must answer it.

A CLI row runs ``main(argv)`` in this process (no subprocess, no JAX compile: each case fails
in validation) and asserts exit 2, no traceback, exactly one ``flowdeq: error:`` line (warning
lines aside) matching the row's regex — which names the table/key or the file — and that
``--out`` was left empty: nothing computed from a silently changed input.  An API row asserts
a one-line ValueError matching its regex; an ``accept`` row asserts that a valid input is
read exactly (nothing dropped, truncated or cast).  ``verdict`` classifies a row as ok /
vague / wrong / traceback, which is how the before/after table of the issue is measured.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import warnings
from dataclasses import dataclass, field

import matplotlib.pyplot as plt
import numpy as np
import pytest

import flowdeq as fd
from flowdeq.app.commands import starts_from_table
from flowdeq.app.config import TABLES
from flowdeq.cli import main
from flowdeq.ensembles.chunk import DESCENT_KEYS, FLOW_KEYS
from flowdeq.plot.figures import FigureWarning, draw_figure

# ---------------------------------------------------------------- configs as tables
BASE = {
    "model": {"kind": '"linear"'},
    "target": {"xi": "[2.0]"},
    "data": {"law": '"uniform"', "nodes": "8"},
    "init": {"theta0": "[0.1, 0.5]"},
    "flow": {"t1": "2.0"},
    "descent": {"step_size": "0.01", "steps": "20"},
}
SI = {**BASE, "model": {"kind": '"single-index"', "activation": '"sigmoid"'},
      "target": {"xi": "[2.0]", "activation": '"sigmoid"'}}
SWEEP = {**BASE, "sweep": {"kind": '"descent"', "theta1": "[-1.0, 1.0, 3]",
                           "theta2": "[-0.5, 0.5, 3]", "step_sizes": "[0.01]"}}
FSWEEP = {**BASE, "sweep": {"kind": '"flow"', "theta1": "[-1.0, 1.0, 3]",
                            "theta2": "[-0.5, 0.5, 3]"}}
PORTRAIT = {**BASE, "portrait": {"grid": "5", "basin_grid": "3"}}
EMP = {**BASE, "data": {"law": '"empirical"', "path": '"x.csv"'}}
EMPN = {**BASE, "data": {"law": '"empirical"', "path": '"x.npy"'}}
GAUSS = {**BASE, "data": {"law": '"gaussian"', "mean": "[0.0]", "cov": "[[1.0]]", "nodes": "6"}}
MC = {**BASE, "data": {"law": '"uniform"', "rule": '"monte-carlo"', "samples": "50", "seed": "0"}}


def toml(base=BASE, set=None, drop=(), raw_tail=""):
    """TOML text of ``base`` with ``drop`` ("table" or "table.key") removed, then ``set``
    {"table.key": literal} applied; ``raw_tail`` is appended verbatim."""
    tables = {k: dict(v) for k, v in base.items()}
    for dotted in drop:
        if dotted in tables:
            del tables[dotted]
        else:
            table, key = dotted.rsplit(".", 1)
            del tables[table][key]
    for dotted, literal in (set or {}).items():
        table, key = dotted.rsplit(".", 1)
        tables.setdefault(table, {})[key] = literal
    parts = []
    for name, keys in tables.items():
        parts.append(f"[{name}]\n" + "".join(f"{k} = {v}\n" for k, v in keys.items()))
    return "\n".join(parts) + raw_tail


# ---------------------------------------------------------------- the rows
@dataclass
class Case:
    id: str
    category: str
    regex: str | None = None            # what the one error line must match (None: accepted)
    verb: str | None = None             # CLI: flow | descend | theory | portrait | sweep | study
    text: str | bytes | None = None     # the config file (None: no config written)
    files: dict = field(default_factory=dict)   # name → str | bytes | array (.npy)
    argv: list | None = None            # explicit argv ({cfg}, {out}, {tmp} substituted)
    api: object = None                  # API row: fn(tmp_path) that must raise / must pass


def cli(id, category, verb, text, regex, files=None, argv=None):
    return Case(id, category, regex, verb, text, files or {}, argv)


def api(id, category, fn, regex):
    return Case(id, category, regex, api=fn)


def accept(id, category, fn):
    return Case(id, category, None, api=fn)


CSV3 = "1.0\n2.0\n3.0\n"
COMPLEX = np.array([[1.0], [2.0 + 3.0j], [0.5]])
HUGE = "9223372036854775807"  # int64 max: products of it overflow NumPy integers


def _load(text, tmp_path, files=None):
    for name, content in (files or {}).items():
        _write(tmp_path / name, content)
    p = tmp_path / "c.toml"
    p.write_text(text)
    return fd.load_config(p)


def _write(path, content):
    if isinstance(content, np.ndarray):
        np.save(path, content)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")


def _accept_bom_csv(tmp_path):
    (tmp_path / "x.csv").write_bytes("\ufeff1.0\n2.0\n3.0\n".encode("utf-8"))
    np.testing.assert_array_equal(fd.Empirical.from_file(tmp_path / "x.csv").samples[:, 0], [1, 2, 3])


def _accept_bom_header(tmp_path):
    (tmp_path / "x.csv").write_bytes("\ufeffx\n1.0\n2.0\n".encode("utf-8"))
    np.testing.assert_array_equal(fd.Empirical.from_file(tmp_path / "x.csv").samples[:, 0], [1, 2])


def _accept_header(tmp_path):
    (tmp_path / "x.csv").write_text("x, y\n1,2\n3,4\n")
    assert fd.Empirical.from_file(tmp_path / "x.csv").samples.tolist() == [[1, 2], [3, 4]]


def _accept_whole_floats(tmp_path):
    cfg = _load(toml(MC, set={"data.samples": "50.0", "data.seed": "3.0", "descent.steps": "1e2"}),
                tmp_path)
    assert cfg.problem.data.samples == 50 and cfg.problem.data.seed == 3
    assert cfg.descent["steps"] == 100 and isinstance(cfg.descent["steps"], int)


def _accept_bias_bool(tmp_path):
    cfg = _load(toml(set={"model.bias": "true", "init.theta0": "[0.1, 0.2, 0.5]"}), tmp_path)
    assert cfg.problem.model.bias is True and cfg.problem.n_params == 3


def _accept_grid_without_init(tmp_path):
    cfg = _load(toml(SWEEP, drop=("init",)), tmp_path)
    assert cfg.theta0 is None
    assert starts_from_table(cfg.problem, cfg.extra["sweep"], cfg.theta0).shape == (9, 2)


def _accept_portrait_without_init(tmp_path):
    assert _load(toml(PORTRAIT, drop=("init",)), tmp_path).theta0 is None


def _accept_npy_real(tmp_path):
    x = np.arange(6.0).reshape(3, 2)
    np.save(tmp_path / "x.npy", x)
    np.testing.assert_array_equal(fd.Empirical.from_file(tmp_path / "x.npy").samples, x)


CASES = [
    # ---------------------------------------------------------------- the issue's own cases
    accept("issue-csv-bom-keeps-first-sample", "issue", _accept_bom_csv),
    accept("issue-csv-bom-before-header", "issue", _accept_bom_header),
    cli("issue-csv-first-row-typo", "issue", "flow", toml(EMP), r"x\.csv line 1, column 2.*'2\.O'",
        {"x.csv": "1.0,2.O\n3.0,4.0\n"}),
    cli("issue-npy-complex", "issue", "flow", toml(EMPN), r"x\.npy.*complex.*row 1",
        {"x.npy": COMPLEX}),
    cli("issue-npy-nan", "issue", "flow", toml(EMPN), r"x\.npy.*non-finite.*row 2",
        {"x.npy": np.array([[1.0], [2.0], [np.nan]])}),
    cli("issue-nodes-1.5", "issue", "flow", toml(set={"data.nodes": "1.5"}), r"\[data\] nodes is 1\.5"),
    cli("issue-samples-2.7", "issue", "flow", toml(MC, set={"data.samples": "2.7"}),
        r"\[data\] samples is 2\.7"),
    cli("issue-steps-2.5", "issue", "descend", toml(set={"descent.steps": "2.5"}),
        r"\[descent\] steps is 2\.5"),
    cli("issue-data-seed-1.9", "issue", "flow", toml(MC, set={"data.seed": "1.9"}),
        r"\[data\] seed is 1\.9"),
    cli("issue-init-seed-1.9", "issue", "flow",
        toml(drop=("init",), set={"init.std": "0.1", "init.seed": "1.9"}),
        r"\[init\] seed is 1\.9"),
    cli("issue-bias-string-false", "issue", "flow", toml(set={"model.bias": '"false"'}),
        r"\[model\] bias is 'false'"),
    cli("issue-t1-true", "issue", "flow", toml(set={"flow.t1": "true"}), r"\[flow\] t1 is True"),
    cli("issue-table-flwo", "issue", "flow", toml(set={"flwo.t1": "2.0"}), r"unknown table \[flwo\].*'flow'"),
    cli("issue-table-sweeep", "issue", "sweep", toml(set={"sweeep.kind": '"descent"'}),
        r"unknown table \[sweeep\].*'sweep'"),
    accept("issue-grid-sweep-needs-no-init", "issue", _accept_grid_without_init),
    cli("issue-steps-1e12", "issue", "descend", toml(set={"descent.steps": "1e12"}), r"steps asks for about"),
    cli("issue-nodes-1e12", "issue", "flow", toml(set={"data.nodes": "1e12"}), r"\[data\].*nodes is"),
    cli("issue-n_save-1e9", "issue", "flow", toml(set={"flow.n_save": "1e9"}), r"n_save asks for about"),
    cli("issue-grid-1e9-points", "issue", "sweep",
        toml(SWEEP, set={"sweep.theta1": "[-1.0, 1.0, 100000]", "sweep.theta2": "[-0.5, 0.5, 10000]"}),
        r"\[sweep\] theta1/theta2 counts asks for about"),
    cli("issue-int64-overflow-count", "issue", "flow", toml(drop=("init",), set={"init.count": HUGE}),
        r"\[init\] count asks for about"),
    cli("issue-int64-overflow-grid", "issue", "sweep",
        toml(SWEEP, set={"sweep.theta1": f"[-1.0, 1.0, {HUGE}]", "sweep.theta2": f"[0.0, 0.5, {HUGE}]"}),
        r"\[sweep\] theta1/theta2 counts asks for about"),
    cli("issue-out-is-a-file", "issue", "flow", toml(BASE), r"--out .*out is an existing file",
        {"out": "not a directory"}),
    # ---------------------------------------------------------------- [model]
    cli("model-kind-int", "model", "flow", toml(set={"model.kind": "3"}), r"\[model\] kind is 3"),
    cli("model-kind-bool", "model", "flow", toml(set={"model.kind": "true"}), r"\[model\] kind is True"),
    cli("model-kind-unknown", "model", "flow",
        toml(set={"model.kind": '"quadratic"'}), r"\[model\] kind is 'quadratic'"),
    cli("model-kind-missing", "model", "flow", toml(drop=("model.kind",), set={"model.bias": "false"}),
        r"\[model\] needs `kind`"),
    cli("model-user-no-module", "model", "flow", toml(set={"model.kind": '"no_such_mod:Cls"'}),
        r"\[model\] kind = 'no_such_mod:Cls'.*cannot be imported"),
    cli("model-user-empty-class", "model", "flow", toml(set={"model.kind": '"os:"'}),
        r"\[model\] kind = 'os:'"),
    cli("model-user-not-a-deq", "model", "flow", toml(set={"model.kind": '"os:path"'}),
        r"\[model\] kind = 'os:path'.*not a"),
    cli("model-activation-int", "model", "flow", toml(SI, set={"model.activation": "1"}),
        r"\[model\] activation is 1"),
    cli("model-activation-unknown", "model", "flow", toml(SI, set={"model.activation": '"swish"'}),
        r"\[model\].*unknown activation 'swish'"),
    cli("model-activation-on-linear", "model", "flow", toml(set={"model.activation": '"tanh"'}),
        r"\[model\] activation is not used by kind = \"linear\""),
    cli("model-bias-int", "model", "flow", toml(set={"model.bias": "1"}), r"\[model\] bias is 1"),
    cli("model-dim-fraction", "model", "flow", toml(set={"model.dim": "1.5"}), r"\[model\] dim is 1\.5"),
    cli("model-dim-bool", "model", "flow", toml(set={"model.dim": "true"}), r"\[model\] dim is True"),
    cli("model-dim-zero", "model", "flow", toml(set={"model.dim": "0"}), r"\[model\] dim is 0"),
    cli("model-dim-string", "model", "flow", toml(set={"model.dim": '"1"'}), r"\[model\] dim is '1'"),
    cli("model-dim-mismatch", "model", "flow",
        toml(set={"model.dim": "2"}), r"\[model\] dim is 2 but \[target\] xi"),
    cli("model-unknown-key", "model", "flow", toml(set={"model.biass": "true"}),
        r"\[model\] has unknown key 'biass'.*'bias'"),
    cli("model-not-a-table", "model", "flow",
        "model = 3\n" + toml(drop=("model",)), r"\[model\] must be a table"),
    cli("model-table-missing", "model", "flow", toml(drop=("model",)), r"needs a \[model\] table"),
    # ---------------------------------------------------------------- [target]
    cli("target-xi-string", "target", "flow", toml(set={"target.xi": '"2"'}), r"\[target\] xi is '2'"),
    cli("target-xi-bool", "target", "flow", toml(set={"target.xi": "[true]"}), r"\[target\] xi\[0\] is True"),
    cli("target-xi-empty", "target", "flow", toml(set={"target.xi": "[]"}), r"\[target\] xi is \[\]"),
    cli("target-xi-nested", "target", "flow",
        toml(set={"target.xi": "[[2.0]]"}), r"\[target\] xi\[0\] is \[2\.0\]"),
    cli("target-xi-nan", "target", "flow",
        toml(set={"target.xi": "[nan]"}), r"\[target\] xi\[0\] is nan.*finite"),
    cli("target-xi-missing", "target", "flow", toml(drop=("target.xi",), set={"target.kind": '"linear"'}),
        r"\[target\] needs `xi`"),
    cli("target-kind-unknown", "target", "flow", toml(set={"target.kind": '"quadratic"'}),
        r"\[target\] kind is 'quadratic'"),
    cli("target-kind-int", "target", "flow", toml(set={"target.kind": "1"}), r"\[target\] kind is 1"),
    cli("target-activation-int", "target", "flow", toml(SI, set={"target.activation": "2"}),
        r"\[target\] activation is 2"),
    cli("target-activation-unknown", "target", "flow", toml(SI, set={"target.activation": '"swish"'}),
        r"\[target\].*unknown activation 'swish'"),
    cli("target-activation-on-linear", "target", "flow",
        toml(set={"target.kind": '"linear"', "target.activation": '"tanh"'}),
        r"\[target\] activation is not used by kind = \"linear\""),
    cli("target-table-missing", "target", "flow", toml(drop=("target",)), r"needs a \[target\] table"),
    # ---------------------------------------------------------------- [data]
    cli("data-law-int", "data", "flow", toml(set={"data.law": "1"}), r"\[data\] law is 1"),
    cli("data-law-unknown", "data", "flow", toml(set={"data.law": '"normal"'}), r"\[data\] law is 'normal'"),
    cli("data-law-missing", "data", "flow", toml(drop=("data.law",)), r"\[data\] needs `law`"),
    cli("data-low-string", "data", "flow", toml(set={"data.low": '"0"'}), r"\[data\] low is '0'"),
    cli("data-high-bool", "data", "flow", toml(set={"data.high": "[true]"}), r"\[data\] high\[0\] is True"),
    cli("data-high-equals-low", "data", "flow", toml(set={"data.low": "1.0", "data.high": "1.0"}),
        r"\[data\].*high > low"),
    cli("data-low-wrong-length", "data", "flow", toml(set={"data.low": "[0.0, 0.0]"}),
        r"\[data\].*low has shape \(2,\) but dim = 1"),
    cli("data-dim-fraction", "data", "flow", toml(set={"data.dim": "1.5"}), r"\[data\] dim is 1\.5"),
    cli("data-dim-mismatch", "data", "flow",
        toml(set={"data.dim": "2"}), r"\[data\] dim is 2 but \[target\] xi"),
    cli("data-dim-1e12", "data", "flow",
        toml(set={"data.dim": "1e12"}), r"\[data\] dim is 1000000000000 but"),
    cli("data-nodes-zero", "data", "flow", toml(set={"data.nodes": "0"}), r"\[data\] nodes is 0"),
    cli("data-nodes-negative", "data", "flow", toml(set={"data.nodes": "-3"}), r"\[data\] nodes is -3"),
    cli("data-nodes-bool", "data", "flow", toml(set={"data.nodes": "true"}), r"\[data\] nodes is True"),
    cli("data-nodes-string", "data", "flow", toml(set={"data.nodes": '"8"'}), r"\[data\] nodes is '8'"),
    cli("data-nodes-5000-per-axis", "data", "flow", toml(set={"data.nodes": "5000"}),
        r"\[data\]: nodes is 5000: give at most 1000"),
    cli("data-nodes-tensor-too-big", "data", "flow",
        toml(set={"target.xi": "[1.0, 1.0, 1.0, 1.0, 1.0]", "data.nodes": "100",
                  "init.theta0": "[0.1, 0.1, 0.1, 0.1, 0.1, 0.5]"}),
        r"\[data\]: tensor quadrature with nodes = 100 on 5 axes"),
    cli("data-samples-zero", "data", "flow", toml(MC, set={"data.samples": "0"}), r"\[data\] samples is 0"),
    cli("data-samples-1e12", "data", "flow", toml(MC, set={"data.samples": "1e12"}),
        r"\[data\]: samples asks for about"),
    cli("data-samples-int64-max", "data", "flow", toml(MC, set={"data.samples": HUGE}),
        r"\[data\]: samples asks for about"),
    cli("data-seed-negative", "data", "flow", toml(MC, set={"data.seed": "-1"}), r"\[data\] seed is -1"),
    cli("data-seed-string", "data", "flow", toml(MC, set={"data.seed": '"0"'}), r"\[data\] seed is '0'"),
    cli("data-rule-unknown", "data", "flow", toml(set={"data.rule": '"mc"'}), r"\[data\] rule is 'mc'"),
    cli("data-rule-samples-on-uniform", "data", "flow", toml(set={"data.rule": '"samples"'}),
        r"\[data\] rule = 'samples' does not go with law = 'uniform'"),
    cli("data-rule-quadrature-on-empirical", "data", "flow", toml(EMP, set={"data.rule": '"quadrature"'}),
        r"\[data\] rule = 'quadrature' does not go with law = 'empirical'", {"x.csv": CSV3}),
    cli("data-nodes-unused-by-monte-carlo", "data", "flow", toml(MC, set={"data.nodes": "8"}),
        r"\[data\] nodes is not used by law = 'uniform' with rule = 'monte-carlo'"),
    cli("data-seed-unused-by-quadrature", "data", "flow", toml(set={"data.seed": "1"}),
        r"\[data\] seed is not used by law = 'uniform' with rule = 'quadrature'"),
    cli("data-mean-unused-by-uniform", "data", "flow", toml(set={"data.mean": "[0.0]"}),
        r"\[data\] mean is not used by law = 'uniform'"),
    cli("data-unknown-key", "data", "flow",
        toml(set={"data.node": "8"}), r"\[data\] has unknown key 'node'.*'nodes'"),
    cli("data-gaussian-mean-missing", "data", "flow", toml(GAUSS, drop=("data.mean", "data.cov")),
        r"\[data\] needs `mean`"),
    cli("data-gaussian-mean-string", "data", "flow", toml(GAUSS, set={"data.mean": '"0"'}),
        r"\[data\] mean is '0'"),
    cli("data-gaussian-mean-wrong-length", "data", "flow", toml(GAUSS, set={"data.mean": "[0.0, 0.0]"}),
        r"\[data\] mean has length 2 but \[target\] xi has length 1"),
    cli("data-gaussian-cov-not-matrix", "data", "flow", toml(GAUSS, set={"data.cov": "1.0"}),
        r"\[data\] cov is 1\.0: give a list of rows"),
    cli("data-gaussian-cov-ragged", "data", "flow",
        toml(GAUSS, set={"target.xi": "[1.0, 1.0]", "data.mean": "[0.0, 0.0]",
                         "data.cov": "[[1.0, 0.0], [0.0]]",
                         "init.theta0": "[0.1, 0.1, 0.5]"}), r"\[data\] cov row 1 has 1 entries"),
    cli("data-gaussian-cov-not-psd", "data", "flow", toml(GAUSS, set={"data.cov": "[[-1.0]]"}),
        r"\[data\]: cov is not positive semi-definite"),
    cli("data-gaussian-cov-wrong-shape", "data", "flow", toml(GAUSS, set={"data.cov": "[[1.0, 0.0]]"}),
        r"\[data\]: cov has shape \(1, 2\)"),
    cli("data-empirical-path-missing-key", "data", "flow",
        toml(EMP, drop=("data.path",)), r"\[data\] needs `path`"),
    cli("data-empirical-path-int", "data", "flow", toml(EMP, set={"data.path": "1"}), r"\[data\] path is 1"),
    cli("data-table-missing", "data", "flow", toml(drop=("data",)), r"needs a \[data\] table"),
    # ---------------------------------------------------------------- data files
    cli("file-missing", "data file", "flow", toml(EMP), r"data file .*x\.csv does not exist"),
    cli("file-is-directory", "data file", "flow", toml(EMP), r"data file .*x\.csv is a directory",
        {"x.csv/keep": "1\n"}),
    cli("file-extension", "data file", "flow", toml(EMP, set={"data.path": '"x.txt"'}),
        r"x\.txt: unsupported extension '\.txt'", {"x.txt": CSV3}),
    cli("csv-empty", "data file", "flow", toml(EMP), r"x\.csv: no rows of numbers", {"x.csv": ""}),
    cli("csv-header-only", "data file", "flow", toml(EMP), r"x\.csv: no rows of numbers", {"x.csv": "x\n"}),
    cli("csv-ragged", "data file", "flow", toml(EMP), r"x\.csv line 2 has 1 column\(s\) but line 1 has 2",
        {"x.csv": "1,2\n3\n"}),
    cli("csv-text-mid-file", "data file", "flow", toml(EMP), r"x\.csv line 3, column 1: 'abc'",
        {"x.csv": "1.0\n2.0\nabc\n"}),
    cli("csv-complex", "data file", "flow", toml(EMP), r"x\.csv line 2, column 1: '1\+2j' is complex",
        {"x.csv": "1.0\n1+2j\n"}),
    cli("csv-complex-first-row", "data file", "flow", toml(EMP), r"x\.csv line 1, column 1: '3j' is complex",
        {"x.csv": "3j\n1.0\n"}),
    cli("csv-nan", "data file", "flow", toml(EMP), r"x\.csv line 2, column 1 is a non-finite value \(nan\)",
        {"x.csv": "1.0\nnan\n"}),
    cli("csv-inf", "data file", "flow", toml(EMP), r"x\.csv line 1, column 1 is a non-finite value \(inf\)",
        {"x.csv": "inf\n1.0\n"}),
    cli("csv-mixed-first-row", "data file", "flow", toml(EMP), r"x\.csv line 1, column 1: 'x'.*header",
        {"x.csv": "x,1.0\n2.0,3.0\n"}),
    cli("csv-trailing-comma", "data file", "flow", toml(EMP), r"x\.csv line 2, column 2: ''",
        {"x.csv": "1.0\n2.0,\n"}),
    cli("csv-semicolons", "data file", "flow",
        toml(EMP), r"x\.csv line 2, column 1: '3;4' is not a number \(columns are separated by commas\)",
        {"x.csv": "1;2\n3;4\n"}),
    cli("csv-wrong-dimension", "data file", "flow", toml(EMP),
        r"\[data\] path x\.csv has 2 column\(s\) but \[target\] xi has length 1", {"x.csv": "1,2\n3,4\n"}),
    cli("csv-not-utf8", "data file", "flow",
        toml(EMP), r"x\.csv: not UTF-8", {"x.csv": b"\xff\xfe1\x00\n\x00"}),
    cli("npy-3d", "data file", "flow",
        toml(EMPN), r"x\.npy have shape \(2, 1, 1\)", {"x.npy": np.ones((2, 1, 1))}),
    cli("npy-scalar", "data file", "flow", toml(EMPN), r"x\.npy have shape \(\)", {"x.npy": np.array(1.0)}),
    cli("npy-empty", "data file", "flow",
        toml(EMPN), r"x\.npy have shape \(0, 1\)", {"x.npy": np.zeros((0, 1))}),
    cli("npy-bool", "data file", "flow", toml(EMPN), r"x\.npy have bool entries",
        {"x.npy": np.array([[True], [False]])}),
    cli("npy-strings", "data file", "flow",
        toml(EMPN), r"x\.npy have <U3 entries", {"x.npy": np.array(["abc"])}),
    cli("npy-inf", "data file", "flow", toml(EMPN), r"x\.npy.*non-finite value \(inf\) at row 0",
        {"x.npy": np.array([[np.inf], [1.0]])}),
    cli("npy-object-pickle", "data file", "flow", toml(EMPN), r"malformed data file .*x\.npy",
        {"x.npy": np.array([{"a": 1}], dtype=object)}),
    cli("npy-truncated", "data file", "flow", toml(EMPN), r"malformed data file .*x\.npy",
        {"x.npy": b"\x93NUMPY\x01\x00v\x00{'descr': '<f8', 'fortran_order': False, 'shape': (100, 1), }"
                  + b" " * 50 + b"\n" + b"\x00" * 16}),
    cli("npy-garbage", "data file", "flow",
        toml(EMPN), r"malformed data file .*x\.npy: not a NumPy \.npy file",
        {"x.npy": b"garbage"}),
    cli("npy-wrong-dimension", "data file", "flow", toml(EMPN),
        r"\[data\] path x\.npy has 3 column\(s\)", {"x.npy": np.ones((4, 3))}),
    # ---------------------------------------------------------------- [init]
    cli("init-theta0-string", "init", "flow",
        toml(set={"init.theta0": '"0.1"'}), r"\[init\] theta0 is '0\.1'"),
    cli("init-theta0-number", "init", "flow", toml(set={"init.theta0": "0.1"}), r"\[init\] theta0 is 0\.1"),
    cli("init-theta0-short", "init", "flow", toml(set={"init.theta0": "[0.1]"}),
        r"\[init\] theta0 has 1 number\(s\) per start but the linear model has 2 parameters "
        r"\(theta1\[0\], theta2\)"),
    cli("init-theta0-long", "init", "descend", toml(set={"init.theta0": "[0.1, 0.5, 0.3]"}),
        r"\[init\] theta0 has 3 number\(s\)"),
    cli("init-theta0-ragged", "init", "flow", toml(set={"init.theta0": "[[0.1, 0.5], [0.2]]"}),
        r"\[init\] theta0 row 1 has 1 entries"),
    cli("init-theta0-bool", "init", "flow",
        toml(set={"init.theta0": "[true, 0.5]"}), r"\[init\] theta0\[0\] is True"),
    cli("init-theta0-empty", "init", "flow", toml(set={"init.theta0": "[]"}), r"\[init\] theta0 is \[\]"),
    cli("init-theta0-nan", "init", "flow",
        toml(set={"init.theta0": "[nan, 0.5]"}), r"\[init\] theta0\[0\] is nan.*finite"),
    cli("init-theta0-inf", "init", "descend",
        toml(set={"init.theta0": "[0.1, inf]"}), r"theta0\[1\] is inf.*finite"),
    cli("init-theta0-ill-posed", "init", "flow", toml(set={"init.theta0": "[0.1, 1.0]"}),
        r"\[init\] theta0 has margin .*θ₂ = 1"),
    cli("init-theta0-not-contractive", "init", "descend", toml(SI, set={"init.theta0": "[0.1, 4.5]"}),
        r"\[init\] theta0 has margin .*not contractive"),
    cli("init-theta0-and-mean", "init", "flow",
        toml(set={"init.mean": "0.0"}), r"\[init\] gives theta0 and mean"),
    cli("init-mean-string", "init", "flow",
        toml(drop=("init",), set={"init.mean": '"0"'}), r"\[init\] mean is '0'"),
    cli("init-mean-wrong-length", "init", "flow", toml(drop=("init",), set={"init.mean": "[0.0, 0.0, 0.0]"}),
        r"\[init\] mean has 3 entries but the model has 2 parameters"),
    cli("init-std-negative", "init", "flow",
        toml(drop=("init",), set={"init.std": "-1.0"}), r"\[init\] std is -1\.0"),
    cli("init-std-string", "init", "flow",
        toml(drop=("init",), set={"init.std": '"0.1"'}), r"\[init\] std is '0\.1'"),
    cli("init-count-zero", "init", "flow",
        toml(drop=("init",), set={"init.count": "0"}), r"\[init\] count is 0"),
    cli("init-count-fraction", "init", "flow",
        toml(drop=("init",), set={"init.count": "2.5"}), r"\[init\] count is 2\.5"),
    cli("init-count-1e12", "init", "flow", toml(drop=("init",), set={"init.count": "1e12"}),
        r"\[init\] count asks for about"),
    cli("init-empty-table", "init", "flow",
        toml(drop=("init",), raw_tail="\n[init]\n"), r"\[init\] is empty"),
    cli("init-missing-for-flow", "init", "flow",
        toml(drop=("init",)), r"no \[init\] table, which `flowdeq flow` needs"),
    cli("init-missing-for-descend", "init", "descend", toml(drop=("init",)),
        r"no \[init\] table, which `flowdeq descend` needs"),
    cli("init-unknown-key", "init", "flow",
        toml(set={"init.theta": "[0.1, 0.5]"}), r"\[init\] has unknown key 'theta'"),
    # ---------------------------------------------------------------- [flow]
    cli("flow-t1-string", "flow", "flow",
        toml(set={"flow.t1": '"2"'}), r"\[flow\] t1 is '2': give a number without quotes"),
    cli("flow-t1-negative", "flow", "flow", toml(set={"flow.t1": "-1.0"}), r"\[flow\]: t1 is -1\.0"),
    cli("flow-t1-zero", "flow", "flow", toml(set={"flow.t1": "0"}), r"\[flow\]: t1 is 0"),
    cli("flow-t1-nan", "flow", "flow", toml(set={"flow.t1": "nan"}), r"\[flow\] t1 is nan.*finite"),
    cli("flow-t1-inf", "flow", "flow", toml(set={"flow.t1": "inf"}), r"t1 is inf.*finite"),
    cli("flow-t1-missing", "flow", "flow", toml(drop=("flow.t1",), set={"flow.rtol": "1e-8"}),
        r"\[flow\] needs `t1`"),
    cli("flow-table-missing", "flow", "flow", toml(drop=("flow",)), r"\[flow\] needs `t1`"),
    cli("flow-rtol-zero", "flow", "flow", toml(set={"flow.rtol": "0"}), r"\[flow\]: rtol is 0"),
    cli("flow-rtol-string", "flow", "flow", toml(set={"flow.rtol": '"1e-8"'}), r"\[flow\] rtol is '1e-8'"),
    cli("flow-atol-bool", "flow", "flow", toml(set={"flow.atol": "true"}), r"\[flow\] atol is True"),
    cli("flow-singular_eps-negative", "flow", "flow", toml(set={"flow.singular_eps": "-1e-3"}),
        r"\[flow\]: singular_eps is -0\.001"),
    cli("flow-converged_tol-string", "flow", "flow", toml(set={"flow.converged_tol": '"x"'}),
        r"\[flow\] converged_tol is 'x'"),
    cli("flow-divergence_cap-zero", "flow", "flow", toml(set={"flow.divergence_cap": "0.0"}),
        r"\[flow\]: divergence_cap is 0\.0"),
    cli("flow-risk_tol-negative", "flow", "flow",
        toml(set={"flow.risk_tol": "-1.0"}), r"\[flow\]: risk_tol is -1\.0"),
    cli("flow-n_save-one", "flow", "flow", toml(set={"flow.n_save": "1"}), r"\[flow\] n_save is 1"),
    cli("flow-n_save-fraction", "flow", "flow", toml(set={"flow.n_save": "2.5"}), r"\[flow\] n_save is 2\.5"),
    cli("flow-n_save-1e12", "flow", "flow", toml(set={"flow.n_save": "1e12"}), r"n_save asks for about"),
    cli("flow-max_steps-zero", "flow", "flow", toml(set={"flow.max_steps": "0"}), r"\[flow\] max_steps is 0"),
    cli("flow-max_steps-fraction", "flow", "flow",
        toml(set={"flow.max_steps": "1.5"}), r"\[flow\] max_steps is 1\.5"),
    cli("flow-chunk_size-zero", "flow", "flow",
        toml(set={"flow.chunk_size": "0"}), r"\[flow\] chunk_size is 0"),
    cli("flow-exact_saves-string", "flow", "flow", toml(set={"flow.exact_saves": '"yes"'}),
        r"\[flow\] exact_saves is 'yes'"),
    cli("flow-exact_saves-int", "flow", "flow",
        toml(set={"flow.exact_saves": "1"}), r"\[flow\] exact_saves is 1"),
    cli("flow-solver-int", "flow", "flow", toml(set={"flow.solver": "3"}), r"\[flow\] solver is 3"),
    cli("flow-t0-bool", "flow", "flow", toml(set={"flow.t0": "true"}), r"\[flow\] t0 is True"),
    cli("flow-ts-string", "flow", "flow", toml(set={"flow.ts": '"0.5"'}), r"\[flow\] ts is '0\.5'"),
    cli("flow-ts-and-n_save", "flow", "flow", toml(set={"flow.ts": "[0.5, 1.0]", "flow.n_save": "11"}),
        r"\[flow\] gives ts and n_save"),
    cli("flow-unknown-key", "flow", "flow",
        toml(set={"flow.rtl": "1e-8"}), r"\[flow\] has unknown key 'rtl'.*'rtol'"),
    # ---------------------------------------------------------------- [descent]
    cli("descent-step_size-zero", "descent", "descend", toml(set={"descent.step_size": "0.0"}),
        r"\[descent\]: step_size is 0\.0"),
    cli("descent-step_size-negative", "descent", "descend", toml(set={"descent.step_size": "-0.1"}),
        r"\[descent\]: step_size is -0\.1"),
    cli("descent-step_size-string", "descent", "descend", toml(set={"descent.step_size": '"0.1"'}),
        r"\[descent\] step_size is '0\.1'"),
    cli("descent-step_size-bool", "descent", "descend", toml(set={"descent.step_size": "true"}),
        r"\[descent\] step_size is True"),
    cli("descent-step_size-empty", "descent", "descend", toml(set={"descent.step_size": "[]"}),
        r"\[descent\] step_size is \[\]"),
    cli("descent-step_size-one-negative", "descent", "descend",
        toml(set={"descent.step_size": "[0.1, -1.0]"}),
        r"\[descent\]: step_size is \[0\.1, -1\.0\]"),
    cli("descent-step_size-inf", "descent", "descend",
        toml(set={"descent.step_size": "inf"}), r"step_size is inf"),
    cli("descent-steps-negative", "descent", "descend",
        toml(set={"descent.steps": "-1"}), r"\[descent\] steps is -1"),
    cli("descent-steps-bool", "descent", "descend",
        toml(set={"descent.steps": "true"}), r"\[descent\] steps is True"),
    cli("descent-step_size-missing", "descent", "descend", toml(drop=("descent.step_size",)),
        r"\[descent\] needs `step_size`"),
    cli("descent-steps-missing", "descent", "descend",
        toml(drop=("descent.steps",)), r"\[descent\] needs `steps`"),
    cli("descent-divergence_cap-negative", "descent", "descend", toml(set={"descent.divergence_cap": "-1.0"}),
        r"\[descent\]: divergence_cap is -1\.0"),
    cli("descent-unknown-key", "descent", "descend",
        toml(set={"descent.eta": "0.1"}), r"\[descent\] has unknown key 'eta'"),
    # ---------------------------------------------------------------- [sweep]
    cli("sweep-kind-unknown", "sweep", "sweep",
        toml(SWEEP, set={"sweep.kind": '"sgd"'}), r"\[sweep\] kind is 'sgd'"),
    cli("sweep-kind-int", "sweep", "sweep", toml(SWEEP, set={"sweep.kind": "1"}), r"\[sweep\] kind is 1"),
    cli("sweep-theta1-two-entries", "sweep", "sweep", toml(SWEEP, set={"sweep.theta1": "[0.0, 1.0]"}),
        r"\[sweep\] theta1 is \[0\.0, 1\.0\]: give \[low, high, count\]"),
    cli("sweep-theta1-count-fraction", "sweep", "sweep", toml(SWEEP, set={"sweep.theta1": "[0.0, 1.0, 2.5]"}),
        r"\[sweep\] theta1\[2\] \(count\) is 2\.5"),
    cli("sweep-theta1-string", "sweep", "sweep",
        toml(SWEEP, set={"sweep.theta1": '"x"'}), r"\[sweep\] theta1 is 'x'"),
    cli("sweep-theta2-low-above-high", "sweep", "sweep", toml(SWEEP, set={"sweep.theta2": "[1.0, 0.0, 3]"}),
        r"\[sweep\] theta2 is \[1\.0, 0\.0, 3\]: give low ≤ high"),
    cli("sweep-theta2-bool", "sweep", "sweep", toml(SWEEP, set={"sweep.theta2": "[true, 1.0, 3]"}),
        r"\[sweep\] theta2\[0\] \(low\) is True"),
    cli("sweep-theta1-only", "sweep", "sweep",
        toml(SWEEP, drop=("sweep.theta2",)), r"\[sweep\] needs both `theta1` and `theta2`"),
    cli("sweep-grid-and-sample", "sweep", "sweep", toml(SWEEP, set={"sweep.sample.count": "4"}),
        r"\[sweep\] gives a theta1/theta2 grid and a \[sweep.sample\] table"),
    cli("sweep-sample-not-table", "sweep", "sweep",
        toml(SWEEP, drop=("sweep.theta1", "sweep.theta2"), set={"sweep.sample": "1"}),
        r"\[sweep\] sample must be a table"),
    cli("sweep-sample-count-zero", "sweep", "sweep",
        toml(SWEEP, drop=("sweep.theta1", "sweep.theta2"), set={"sweep.sample.count": "0"}),
        r"\[sweep.sample\] count is 0"),
    cli("sweep-sample-std-negative", "sweep", "sweep",
        toml(SWEEP, drop=("sweep.theta1", "sweep.theta2"), set={"sweep.sample.std": "-1.0"}),
        r"\[sweep.sample\] std is -1\.0"),
    cli("sweep-sample-unknown-key", "sweep", "sweep",
        toml(SWEEP, drop=("sweep.theta1", "sweep.theta2"), set={"sweep.sample.cnt": "3"}),
        r"\[sweep.sample\] has unknown key 'cnt'"),
    cli("sweep-sample-count-1e12", "sweep", "sweep",
        toml(SWEEP, drop=("sweep.theta1", "sweep.theta2"), set={"sweep.sample.count": "1e12"}),
        r"\[sweep.sample\] count asks for about"),
    cli("sweep-step_sizes-negative", "sweep", "sweep", toml(SWEEP, set={"sweep.step_sizes": "[0.1, -1.0]"}),
        r"\[sweep\]: step_size is \[0\.1, -1\.0\]"),
    cli("sweep-step_sizes-string", "sweep", "sweep", toml(SWEEP, set={"sweep.step_sizes": '"0.1"'}),
        r"\[sweep\] step_sizes is '0\.1'"),
    cli("sweep-step_sizes-on-flow", "sweep", "sweep", toml(FSWEEP, set={"sweep.step_sizes": "[0.1]"}),
        r"\[sweep\] step_sizes is not used by kind = 'flow'"),
    cli("sweep-t1-on-descent", "sweep", "sweep", toml(SWEEP, set={"sweep.t1": "5.0"}),
        r"\[sweep\] t1 is not used by kind = 'descent'"),
    cli("sweep-descent-no-step-sizes", "sweep", "sweep", toml(SWEEP, drop=("sweep.step_sizes", "descent")),
        r"\[sweep\] kind = \"descent\" needs step_sizes"),
    cli("sweep-chunk_size-zero", "sweep", "sweep",
        toml(SWEEP, set={"sweep.chunk_size": "0"}), r"\[sweep\] chunk_size is 0"),
    cli("sweep-chunk_size-fraction", "sweep", "sweep", toml(SWEEP, set={"sweep.chunk_size": "1.5"}),
        r"\[sweep\] chunk_size is 1\.5"),
    cli("sweep-steps-fraction", "sweep", "sweep",
        toml(SWEEP, set={"sweep.steps": "2.5"}), r"\[sweep\] steps is 2\.5"),
    cli("sweep-rtol-zero-flow", "sweep", "sweep",
        toml(FSWEEP, set={"sweep.rtol": "0.0"}), r"\[sweep\]: rtol is 0\.0"),
    cli("sweep-no-starts", "sweep", "sweep", toml(SWEEP, drop=("init", "sweep.theta1", "sweep.theta2")),
        r"\[sweep\] needs `theta1`/`theta2` grids, a `sample` table, or \[init\]"),
    cli("sweep-unknown-key", "sweep", "sweep", toml(SWEEP, set={"sweep.theta3": "[0.0, 1.0, 2]"}),
        r"\[sweep\] has unknown key 'theta3'"),
    cli("sweep-not-a-table", "sweep", "sweep", "sweep = 1\n" + toml(BASE), r"\[sweep\] must be a table"),
    # ---------------------------------------------------------------- [portrait]
    cli("portrait-xlim-reversed", "portrait", "portrait", toml(PORTRAIT, set={"portrait.xlim": "[1.0, 0.0]"}),
        r"\[portrait\] xlim is \[1\.0, 0\.0\]: give low < high"),
    cli("portrait-xlim-one-number", "portrait", "portrait", toml(PORTRAIT, set={"portrait.xlim": "[0.0]"}),
        r"\[portrait\] xlim is \[0\.0\]: give \[low, high\]"),
    cli("portrait-xlim-string", "portrait", "portrait", toml(PORTRAIT, set={"portrait.xlim": '"a"'}),
        r"\[portrait\] xlim is 'a'"),
    cli("portrait-ylim-bool", "portrait", "portrait", toml(PORTRAIT, set={"portrait.ylim": "[true, 2.0]"}),
        r"\[portrait\] ylim\[0\] is True"),
    cli("portrait-grid-two", "portrait", "portrait",
        toml(PORTRAIT, set={"portrait.grid": "2"}), r"\[portrait\] grid is 2"),
    cli("portrait-grid-fraction", "portrait", "portrait", toml(PORTRAIT, set={"portrait.grid": "5.5"}),
        r"\[portrait\] grid is 5\.5"),
    cli("portrait-grid-huge", "portrait", "portrait", toml(PORTRAIT, set={"portrait.grid": "1e6"}),
        r"\[portrait\] grid asks for about"),
    cli("portrait-basin_grid-one", "portrait", "portrait", toml(PORTRAIT, set={"portrait.basin_grid": "1"}),
        r"\[portrait\] basin_grid is 1"),
    cli("portrait-basin_grid-huge", "portrait", "portrait",
        toml(PORTRAIT, set={"portrait.basin_grid": "1e9"}),
        r"\[portrait\] basin_grid asks for about"),
    cli("portrait-density-zero", "portrait", "portrait", toml(PORTRAIT, set={"portrait.density": "0"}),
        r"\[portrait\] density is 0"),
    cli("portrait-density-string", "portrait", "portrait", toml(PORTRAIT, set={"portrait.density": '"1"'}),
        r"\[portrait\] density is '1'"),
    cli("portrait-t1-negative", "portrait", "portrait", toml(PORTRAIT, set={"portrait.t1": "-5.0"}),
        r"\[portrait\] t1 is -5\.0"),
    cli("portrait-max_steps-zero", "portrait", "portrait", toml(PORTRAIT, set={"portrait.max_steps": "0"}),
        r"\[portrait\] max_steps is 0"),
    cli("portrait-solver-int", "portrait", "portrait", toml(PORTRAIT, set={"portrait.solver": "1"}),
        r"\[portrait\] solver is 1"),
    cli("portrait-unknown-key", "portrait", "portrait", toml(PORTRAIT, set={"portrait.gird": "5"}),
        r"\[portrait\] has unknown key 'gird'.*'grid'"),
    cli("portrait-theta0-ill-posed", "portrait", "portrait",
        toml(PORTRAIT, set={"init.theta0": "[0.1, 1.0]"}),
        r"\[init\] theta0 \(member 0\) has margin"),
    # ---------------------------------------------------------------- [theory]
    cli("theory-delta1-string", "theory", "theory",
        toml(SI, set={"theory.delta1": '"x"'}), r"\[theory\] delta1 is 'x'"),
    cli("theory-alpha-bool", "theory", "theory",
        toml(SI, set={"theory.alpha": "true"}), r"\[theory\] alpha is True"),
    cli("theory-unknown-key", "theory", "theory", toml(SI, set={"theory.delta": "0.5"}),
        r"\[theory\] has unknown key 'delta'.*'delta1'"),
    cli("theory-init-missing", "theory", "theory", toml(SI, drop=("init",)),
        r"no \[init\] table, which `flowdeq theory` needs"),
    # without [flow] t1 the flow statements are "not applicable" rows; without any run, an error
    cli("theory-runs-missing", "theory", "theory", toml(SI, drop=("flow", "descent")),
        r"needs \[flow\] t1 or \[descent\] step_size and steps"),
    # ---------------------------------------------------------------- tables and files
    cli("table-grid-unknown", "structure", "sweep",
        toml(SWEEP, set={"grid.n": "3"}), r"unknown table \[grid\]"),
    cli("table-case", "structure", "flow", toml(set={"Flow.t1": "2.0"}), r"unknown table \[Flow\].*'flow'"),
    cli("table-top-level-key", "structure", "flow", "t1 = 2.0\n" + toml(BASE),
        r"unknown key outside any table \[t1\]"),
    cli("toml-syntax", "structure", "flow", toml(BASE, raw_tail="key = = 1\n"), r"c\.toml is not valid TOML"),
    cli("toml-duplicate-key", "structure", "flow",
        toml(BASE, raw_tail="steps = 30\n"), r"c\.toml is not valid TOML"),
    cli("toml-duplicate-table", "structure", "flow", toml(BASE, raw_tail="\n[flow]\nrtol = 1e-8\n"),
        r"c\.toml is not valid TOML"),
    cli("toml-not-utf8", "structure", "flow", b"\xff\xfe[\x00m\x00", r"c\.toml is not (UTF-8|valid TOML)"),
    cli("toml-empty", "structure", "flow", "", r"needs a \[model\] table"),
    cli("config-missing", "structure", "flow", None, r"config file .*nope\.toml does not exist",
        argv=["flow", "{tmp}/nope.toml", "--out", "{out}"]),
    cli("config-is-directory", "structure", "flow", None, r"config file .*cfgdir is a directory",
        {"cfgdir/keep": "x"}, argv=["flow", "{tmp}/cfgdir", "--out", "{out}"]),
    cli("out-under-a-file", "output", "descend", toml(BASE), r"--out .*blocker/out is not writable",
        {"blocker": "x"}, argv=["descend", "{cfg}", "--out", "{tmp}/blocker/out"]),
    cli("out-file-for-sweep", "output", "sweep",
        toml(SWEEP), r"--out .*out is an existing file", {"out": "x"}),
    cli("out-file-for-portrait", "output", "portrait", toml(PORTRAIT), r"--out .*out is an existing file",
        {"out": "x"}),
    cli("out-file-for-theory", "output", "theory",
        toml(SI), r"--out .*out is an existing file", {"out": "x"}),
    cli("cli-missing-out", "structure", "flow", toml(BASE), r"required: -o/--out", argv=["flow", "{cfg}"]),
    cli("cli-unknown-verb", "structure", "flow",
        toml(BASE), r"invalid choice: 'flwo'", argv=["flwo", "{cfg}"]),
    cli("study-unknown", "structure", "study", None, r"study 'papr' is unknown",
        argv=["study", "papr", "--out", "{out}"]),
    cli("study-no-out", "structure", "study", None, r"needs --out", argv=["study", "paper"]),
    # ---------------------------------------------------------------- the Python API
    api("api-uniform-nodes-fraction", "api", lambda t: fd.Uniform(nodes=1.5), r"nodes is 1\.5"),
    api("api-uniform-nodes-bool", "api", lambda t: fd.Uniform(nodes=True), r"nodes is True"),
    api("api-uniform-dim-fraction", "api", lambda t: fd.Uniform(dim=1.5), r"dim is 1\.5"),
    api("api-uniform-dim-1e12", "api", lambda t: fd.Uniform(dim=10**12), r"dim asks for about"),
    api("api-uniform-low-complex", "api", lambda t: fd.Uniform(low=1j), r"low holds 1j"),
    api("api-uniform-low-wrong-length", "api",
        lambda t: fd.Uniform([0, 0], 1, dim=1), r"low has shape \(2,\)"),
    api("api-uniform-tensor-too-big", "api", lambda t: fd.Uniform(dim=10, nodes=32).nodes_weights(),
        r"nodes = 32 on 10 axes needs about 1e15 nodes"),
    api("api-uniform-tensor-beyond-float", "api", lambda t: fd.Uniform(dim=200, nodes=1000).nodes_weights(),
        r"nodes = 1000 on 200 axes needs about 1e600 nodes"),
    api("api-gaussian-mean-complex", "api",
        lambda t: fd.Gaussian([1 + 2j], [[1.0]]), r"mean holds \(1\+2j\)"),
    api("api-gaussian-cov-bool", "api", lambda t: fd.Gaussian([0.0], [[True]]), r"cov holds True"),
    api("api-gaussian-nodes-5000", "api",
        lambda t: fd.Gaussian([0.0], [[1.0]], nodes=5000), r"nodes is 5000"),
    api("api-monte-carlo-samples-fraction", "api",
        lambda t: fd.Uniform().monte_carlo(2.7), r"samples is 2\.7"),
    api("api-monte-carlo-seed-fraction", "api",
        lambda t: fd.Uniform().monte_carlo(10, seed=1.9), r"seed is 1\.9"),
    api("api-monte-carlo-seed-negative", "api",
        lambda t: fd.Uniform().monte_carlo(10, seed=-1), r"seed is -1"),
    api("api-monte-carlo-samples-1e12", "api",
        lambda t: fd.Uniform().monte_carlo(10**12), r"samples asks for about"),
    api("api-empirical-complex", "api", lambda t: fd.Empirical(COMPLEX), r"complex.*row 1"),
    api("api-empirical-bool", "api", lambda t: fd.Empirical(np.array([True, False])), r"bool entries"),
    api("api-empirical-strings", "api", lambda t: fd.Empirical(["1", "2"]), r"<U1 entries"),
    api("api-empirical-nan", "api",
        lambda t: fd.Empirical([[1.0], [np.nan]]), r"non-finite value \(nan\) at row 1"),
    # ---------------------------------------------------------------- valid inputs read exactly
    accept("accept-csv-header", "accept", _accept_header),
    accept("accept-whole-floats-as-integers", "accept", _accept_whole_floats),
    accept("accept-bias-boolean", "accept", _accept_bias_bool),
    accept("accept-portrait-without-init", "accept", _accept_portrait_without_init),
    accept("accept-npy-real", "accept", _accept_npy_real),
]


# ---------------------------------------------------------------- running one row
def _setup(case, tmp_path):
    for name, content in case.files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        _write(path, content)
    cfg = tmp_path / "c.toml"
    if case.text is not None:
        (cfg.write_bytes if isinstance(case.text, bytes) else cfg.write_text)(case.text)
    out = tmp_path / "out"
    if case.argv is None:
        argv = [case.verb, str(cfg), "--out", str(out)]
    else:
        argv = [a.format(cfg=cfg, out=out, tmp=tmp_path) for a in case.argv]
    return argv, out


def verdict(case, tmp_path, read_err):
    """("ok" | "vague" | "wrong" | "traceback", detail) for one row; ``read_err()`` returns the
    stderr captured since the last call."""
    if case.verb is None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                case.api(tmp_path)
        except ValueError as err:
            if case.regex is None:
                return "wrong", f"refused a valid input: {err}"
            msg = str(err)
            ok = "\n" not in msg.strip() and re.search(case.regex, msg)
            return ("ok" if ok else "vague"), msg
        except AssertionError as err:
            return "wrong", f"read differently: {err}"
        except Exception as err:
            return "traceback", f"{type(err).__name__}: {err}"
        return ("ok", "") if case.regex is None else ("wrong", "accepted")
    argv, out = _setup(case, tmp_path)
    try:
        code = main(argv)
    except SystemExit as done:
        code = done.code
    except BaseException as err:  # what the command line would print as a traceback
        return "traceback", f"{type(err).__name__}: {str(err)[:200]}"
    err = read_err()
    errors = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith("flowdeq: warning")]
    if "Traceback" in err:
        return "traceback", err[-300:]
    if code == 0:
        return "wrong", "exit 0"
    if out.is_dir() and any(out.iterdir()) and case.category != "output":
        return "wrong", f"wrote {sorted(p.name for p in out.iterdir())}"
    ok = (code == 2 and len(errors) == 1 and errors[0].startswith("flowdeq: error: ")
          and re.search(case.regex, errors[0]))
    return ("ok" if ok else "vague"), " | ".join(errors) + f" (exit {code})"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # relative paths in a row resolve in its own folder
    result, detail = verdict(case, tmp_path, lambda: capsys.readouterr().err)
    assert result == "ok", detail


def test_the_suite_is_large_enough():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))
    assert sum(c.regex is not None for c in CASES) >= 110


def test_sweep_schema_covers_the_sweep_settings():
    assert FLOW_KEYS | DESCENT_KEYS <= set(TABLES["sweep"])


# ---------------------------------------------------------------- the output stage
def _cfg(tmp_path, text=None):
    p = tmp_path / "c.toml"
    p.write_text(text or toml(BASE))
    return p


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a 0o500 directory anyway")
def test_unwritable_out_is_refused_before_computing(tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        for verb in ("flow", "descend"):
            assert main([verb, str(_cfg(tmp_path)), "--out", str(locked / "out")]) == 2
            err = capsys.readouterr().err
            assert "Traceback" not in err and "is not writable" in err and len(err.splitlines()) == 1
        assert main(["flow", str(_cfg(tmp_path)), "--out", str(locked)]) == 2
        assert "is not writable" in capsys.readouterr().err
    finally:
        locked.chmod(0o700)


def test_out_that_cannot_be_created_is_refused_before_computing(tmp_path, capsys, monkeypatch):
    # what chmod 0o500 tests, for any user (root included): creating --out fails
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    ran = []
    # the job imports the flow where it runs it (import cost), so patch it at its source
    monkeypatch.setattr("flowdeq.dynamics.flow.gradient_flow", lambda *a, **k: ran.append(1))
    monkeypatch.setattr(os, "makedirs", refuse)
    assert main(["flow", str(_cfg(tmp_path)), "--out", str(tmp_path / "new")]) == 2
    err = capsys.readouterr().err
    assert "is not writable (Permission denied)" in err and "Traceback" not in err
    assert not ran


def test_out_that_is_a_file_is_refused_and_kept(tmp_path, capsys):
    f = tmp_path / "results"
    f.write_text("keep me")
    for verb in ("flow", "descend", "theory", "portrait", "sweep"):
        text = toml(SWEEP) if verb == "sweep" else toml(SI) if verb == "theory" else toml(PORTRAIT)
        assert main([verb, str(_cfg(tmp_path, text)), "--out", str(f)]) == 2, verb
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "is an existing file" in err
    assert f.read_text() == "keep me"


def test_figure_failure_is_a_warning_and_keeps_the_data(tmp_path, capsys, monkeypatch):
    def overflow(*args, **kwargs):
        raise OverflowError("cannot convert float infinity to integer")

    monkeypatch.setattr("flowdeq.plot.figures.quick_figure", overflow)  # imported where drawn
    out = tmp_path / "out"
    assert main(["descend", str(_cfg(tmp_path)), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    warn = [ln for ln in err.splitlines() if ln.startswith("flowdeq: warning:")]
    assert len(warn) == 1 and "figure.png" in warn[0] and "OverflowError" in warn[0]
    assert "Traceback" not in err
    assert {p.name for p in out.iterdir()} == {"trajectory.npz", "summary.json", "run.json"}
    assert fd.Trajectory.load(out / "trajectory.npz").theta.shape == (21, 2)


def test_draw_figure_removes_a_half_written_file(tmp_path):
    def half():
        fig = plt.figure()

        def savefig(path, dpi=None):
            open(path, "w").write("partial")
            raise OverflowError("boom")

        fig.savefig = savefig
        return fig

    with pytest.warns(FigureWarning, match=r"x\.png was not drawn \(OverflowError: boom\)"):
        assert draw_figure(str(tmp_path), "x", half) is None
    assert not (tmp_path / "x.png").exists() and not plt.get_fignums()


# ---------------------------------------------------------------- the real exit path
def _flowdeq(args, cwd):
    exe = os.path.join(os.path.dirname(sys.executable), "flowdeq")
    return subprocess.run([exe, *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, "MPLBACKEND": "Agg"}, timeout=300)


def test_subprocess_bad_input_exits_2_in_one_line(tmp_path):
    _cfg(tmp_path, toml(set={"data.nodes": "1.5"}))
    proc = _flowdeq(["flow", "c.toml", "--out", "out"], tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == ["flowdeq: error: config [data] nodes is 1.5: give a whole "
                                        "number ≥ 1."]
    assert not (tmp_path / "out").exists()


def test_subprocess_figure_overflow_keeps_data_and_exits_0(tmp_path):
    # GD with η = 1e308 diverges to values matplotlib cannot place on an axis
    _cfg(tmp_path, toml(set={"descent.step_size": "1e308", "init.theta0": "[0.1, 2.0]"}))
    proc = _flowdeq(["descend", "c.toml", "--out", "out"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert all(ln.startswith("flowdeq: warning:") for ln in proc.stderr.splitlines())
    assert {p.name for p in (tmp_path / "out").iterdir()} >= {"trajectory.npz", "summary.json"}
