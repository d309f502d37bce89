"""flowdeq: gradient-flow and gradient-descent dynamics of deep equilibrium models.

A ``Problem`` (any :class:`~flowdeq.models.AbstractDEQ` + a target + a data rule) goes in,
a ``Trajectory`` comes out, and everything else reads trajectories.  The layers
(``../shared/DESIGN.md``, checked by tests/test_layers.py)::

    models/ data problem  →  dynamics/  →  analysis/ → ensembles/  →  plot/  →  app/

Importing flowdeq enables float64 in JAX (``jax_enable_x64``): the stiff flows and the
conservation checks need it.  The analysis layers, plotting and ``gradient_flow`` are
re-exported lazily, so ``import flowdeq`` pays for neither matplotlib nor diffrax until
they are used.
"""
import importlib as _importlib

import jax as _jax

_jax.config.update("jax_enable_x64", True)

from ._outcomes import Outcome  # noqa: E402
from .data import Empirical, Gaussian, MonteCarlo, Uniform  # noqa: E402
from .dynamics.descent import gradient_descent  # noqa: E402
from .dynamics.settings import DescentSettings, FlowSettings  # noqa: E402
from .dynamics.trajectory import Trajectory  # noqa: E402
from .models import (ACTIVATIONS, AbstractDEQ, Activation, LinearDEQ, LinearTarget,  # noqa: E402
                     SingleIndexDEQ, SingleIndexTarget, get_activation)
from .models import MultiLinearDEQ, MultiLinearTarget, MultiNeuronDEQ, TeacherTarget  # noqa: E402
from .problem import Problem  # noqa: E402

from ._version import __version__  # noqa: E402,F401

_LAZY = {
    "gradient_flow": "dynamics.flow",  # diffrax costs 0.3 s of import; GD-only scripts skip it
    "RunConfig": "app.config", "load_config": "app.config",
    "enable_compilation_cache": "app.cache",
    "fit_rate": "analysis.rates", "RateFit": "analysis.rates",
    "compare_with_bound": "analysis.rates",
    "diagnose": "analysis.diagnostics",
    "check_theorems": "analysis.theory", "single_index_constants": "analysis.theory",
    "linear_constants": "analysis.theory", "rho_infimum": "analysis.theory",
}


def __getattr__(name):
    if name in _LAZY:
        # import cost: diffrax, scipy and the app layer load only when first used
        return getattr(_importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'flowdeq' has no attribute {name!r}")


__all__ = [
    "ACTIVATIONS", "Activation", "get_activation", "AbstractDEQ", "Outcome",
    "Empirical", "Gaussian", "MonteCarlo", "Uniform", "gradient_descent", "gradient_flow",
    "FlowSettings", "DescentSettings",
    "LinearDEQ", "SingleIndexDEQ", "Problem", "LinearTarget", "SingleIndexTarget", "Trajectory",
    "MultiLinearDEQ", "MultiNeuronDEQ", "MultiLinearTarget", "TeacherTarget",
    *_LAZY,
]
