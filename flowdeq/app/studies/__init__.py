"""Studies: one module per study, each ``run(out, quick=False) -> dict`` writing figures
(PNG; PDF too with ``--pdf``), ``summary.md`` and ``summary.json`` into ``out``.

``flowdeq study --list`` → :func:`cli_list`; ``flowdeq study NAME --out DIR [--quick]``
→ :func:`cli_study`.
"""
from __future__ import annotations

import argparse
import ast
import importlib
import importlib.util

__all__ = ["STUDIES", "cli_list", "cli_study", "run_study", "script_main"]

# name → module (imported lazily so `--list` is instant)
STUDIES = {
    "paper": "paper",
    "rank-deficient": "rank_deficient",
    "basins": "basins",
    "activations": "activations",
    "empirical-vs-population": "empirical_vs_population",
    "gd-vs-flow": "gd_vs_flow",
    "multi-neuron": "multi_neuron",
}


def _module(name):
    if name not in STUDIES:
        raise ValueError(f"study {name!r} is unknown: use one of {sorted(STUDIES)} "
                         "(see `flowdeq study --list`).")
    return importlib.import_module(f".{STUDIES[name]}", __name__)


def _description(name) -> str:
    """A study's ``DESCRIPTION``, read from its source without importing it: importing a study
    loads JAX, diffrax and matplotlib (~2 s), and `flowdeq study --list` needs none of them."""
    spec = importlib.util.find_spec(f".{STUDIES[name]}", __name__)
    for node in ast.parse(spec.loader.get_source(spec.name)).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "DESCRIPTION"
                                                for t in node.targets):
            return ast.literal_eval(node.value)
    return ""


def available():
    return {name: _description(name) for name in STUDIES}


def cli_list():
    for name, desc in available().items():
        print(f"{name:26s} {desc}")
    return list(available())


def run_study(name: str, out: str, quick: bool = False) -> dict:
    return _module(name).run(out, quick=bool(quick))


def cli_study(name: str, out: str, quick: bool = False) -> dict:
    summary = run_study(name, out, quick)
    print(f"study {name}: wrote {out}/summary.md, summary.json and figures")
    return summary


def script_main(name: str, argv=None) -> dict:
    """``python studies/<name>.py [--out DIR] [--quick]``: what each script in studies/ runs."""
    ap = argparse.ArgumentParser(description=f"Run the `{name}` study (see docs/studies.md).")
    ap.add_argument("--out", default=f"results/{name}")
    ap.add_argument("--quick", action="store_true", help="reduced size")
    a = ap.parse_args(argv)
    return cli_study(name, a.out, quick=a.quick)
