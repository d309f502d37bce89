"""flowdeq: gradient-flow and gradient-descent dynamics of deep equilibrium models.

A ``Problem`` (any :class:`~flowdeq.models.AbstractDEQ` + a target + a data rule) goes in,
a ``Trajectory`` comes out, and everything else reads trajectories.  The layers
(``../shared/DESIGN.md``, checked by tests/test_layers.py)::

    models/ data problem  →  dynamics/  →  analysis/ → ensembles/  →  plot/  →  app/

Importing flowdeq enables float64 in JAX (``jax_enable_x64``): the stiff flows and the
conservation checks need it.  Every public name is re-exported lazily, so ``import flowdeq``
loads neither JAX nor diffrax, matplotlib or scipy until a name that needs them is used
(tests/test_import_budget.py holds each command to what it uses).
"""
import importlib as _importlib
import os as _os
import sys as _sys

# float64 always: the stiff flows and the conservation checks need it.  JAX reads
# JAX_ENABLE_X64 when it is first imported, so `import flowdeq` itself loads nothing heavy
# (the CLI's --help and `study --list` answer in ~0.1 s); a JAX imported earlier is switched now.
if "jax" in _sys.modules:
    _sys.modules["jax"].config.update("jax_enable_x64", True)
else:
    _os.environ["JAX_ENABLE_X64"] = "1"

from ._version import __version__  # noqa: E402,F401

# every public name is imported on first use: a GD-only script never loads diffrax, and
# nothing loads matplotlib or scipy until a figure or a SciPy-backed analysis is asked for
_LAZY = {
    "Outcome": "_outcomes",
    "Empirical": "data", "Gaussian": "data", "MonteCarlo": "data", "Uniform": "data",
    "gradient_descent": "dynamics.descent",
    "DescentSettings": "dynamics.settings", "FlowSettings": "dynamics.settings",
    "Trajectory": "dynamics.trajectory",
    **{name: "models" for name in ("ACTIVATIONS", "AbstractDEQ", "Activation", "LinearDEQ",
                                   "LinearTarget", "SingleIndexDEQ", "SingleIndexTarget",
                                   "get_activation", "MultiLinearDEQ", "MultiNeuronDEQ",
                                   "MultiLinearTarget", "TeacherTarget")},
    "Problem": "problem",
    "gradient_flow": "dynamics.flow",
    "RunConfig": "app.config", "load_config": "app.config",
    "enable_compilation_cache": "app.cache",
    "fit_rate": "analysis.rates", "RateFit": "analysis.rates",
    "compare_with_bound": "analysis.rates",
    "diagnose": "analysis.diagnostics",
    "check_theorems": "analysis.theory", "single_index_constants": "analysis.theory",
    "linear_constants": "analysis.theory", "rho_infimum": "analysis.theory",
    "provenance": "io", "write_run_json": "io",
    "modified_flow": "dynamics.modified", "sharpness": "analysis.sharpness",
    "step_size_map": "ensembles.stepsize",
}


def __getattr__(name):
    if name in _LAZY:
        # import cost: JAX, diffrax, scipy and the app layer load only when first used
        return getattr(_importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'flowdeq' has no attribute {name!r}")


__all__ = ["__version__", *_LAZY]


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
