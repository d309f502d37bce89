"""flowdeq: gradient-flow and gradient-descent dynamics of deep equilibrium models.

Importing flowdeq enables float64 in JAX (``jax_enable_x64``): the stiff flows and
the conservation checks need it.
"""
import jax as _jax

_jax.config.update("jax_enable_x64", True)

from .activations import ACTIVATIONS, Activation, get_activation  # noqa: E402
from .data import Empirical, Gaussian, MonteCarlo, Uniform  # noqa: E402
from .models import LinearDEQ, SingleIndexDEQ  # noqa: E402
from .problem import Problem  # noqa: E402
from .targets import LinearTarget, SingleIndexTarget  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "ACTIVATIONS", "Activation", "get_activation",
    "Empirical", "Gaussian", "MonteCarlo", "Uniform",
    "LinearDEQ", "SingleIndexDEQ", "Problem", "LinearTarget", "SingleIndexTarget",
]
