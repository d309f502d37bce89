"""Models: the :class:`AbstractDEQ` interface, the paper's two DEQs, activations,
equilibrium solvers and targets (layer L0: imports jax, equinox, numpy only)."""
from .activations import ACTIVATIONS, Activation, get_activation
from .base import AbstractDEQ, Arrays
from .multi import MultiLinearDEQ, MultiNeuronDEQ
from .paper import LinearDEQ, SingleIndexDEQ
from .targets import LinearTarget, MultiLinearTarget, SingleIndexTarget, TeacherTarget

__all__ = ["AbstractDEQ", "Arrays", "LinearDEQ", "SingleIndexDEQ", "MultiLinearDEQ",
           "MultiNeuronDEQ", "ACTIVATIONS", "Activation", "get_activation", "LinearTarget",
           "SingleIndexTarget", "MultiLinearTarget", "TeacherTarget"]
