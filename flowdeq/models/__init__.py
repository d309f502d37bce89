"""Models: the :class:`AbstractDEQ` interface, the paper's two DEQs, activations,
equilibrium solvers and targets (layer L0: imports jax, equinox, numpy only)."""
from .activations import ACTIVATIONS, Activation, get_activation
from .base import AbstractDEQ, Arrays
from .paper import LinearDEQ, SingleIndexDEQ
from .targets import LinearTarget, SingleIndexTarget

__all__ = ["AbstractDEQ", "Arrays", "LinearDEQ", "SingleIndexDEQ", "ACTIVATIONS", "Activation",
           "get_activation", "LinearTarget", "SingleIndexTarget"]
