"""flowdeq: gradient-flow and gradient-descent dynamics of deep equilibrium models.

Importing flowdeq enables float64 in JAX (``jax_enable_x64``): the stiff flows and
the conservation checks need it.  The analysis layers (theory, diagnostics, rates,
portraits, sweeps, singularity analysis) and ``gradient_flow`` are re-exported lazily,
so ``import flowdeq`` pays for neither matplotlib nor diffrax until they are used.
"""
import importlib as _importlib

import jax as _jax

_jax.config.update("jax_enable_x64", True)

from .activations import ACTIVATIONS, Activation, get_activation  # noqa: E402
from .config import RunConfig, load_config  # noqa: E402
from .data import Empirical, Gaussian, MonteCarlo, Uniform  # noqa: E402
from .descent import gradient_descent  # noqa: E402
from .models import LinearDEQ, SingleIndexDEQ  # noqa: E402
from .problem import Problem  # noqa: E402
from .targets import LinearTarget, SingleIndexTarget  # noqa: E402
from .trajectory import Trajectory  # noqa: E402

__version__ = "0.1.0"

_LAZY = {
    "gradient_flow": "flow",  # diffrax costs 0.3 s of import; GD-only scripts skip it
    "enable_compilation_cache": "cache",
    "fit_rate": "rates", "RateFit": "rates", "compare_with_bound": "rates",
    "diagnose": "diagnostics",
    "check_theorems": "theory", "single_index_constants": "theory",
    "linear_constants": "theory", "rho_infimum": "theory",
}


def __getattr__(name):
    if name in _LAZY:
        return getattr(_importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'flowdeq' has no attribute {name!r}")


__all__ = [
    "ACTIVATIONS", "Activation", "get_activation", "RunConfig", "load_config",
    "Empirical", "Gaussian", "MonteCarlo", "Uniform", "gradient_descent", "gradient_flow",
    "LinearDEQ", "SingleIndexDEQ", "Problem", "LinearTarget", "SingleIndexTarget", "Trajectory",
    *_LAZY,
]
