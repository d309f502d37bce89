"""Argument checks shared by the flow and the GD map: a bad number is a ValueError that
names the argument and says what to give instead."""
from __future__ import annotations

import jax
import numpy as np


def positive(name, value) -> float:
    v = float(value)
    if not np.isfinite(v) or v <= 0:
        raise ValueError(f"{name} is {value!r}: give a positive finite number.")
    return v


def nonneg(name, value) -> float:
    v = float(value)
    if not np.isfinite(v) or v < 0:
        raise ValueError(f"{name} is {value!r}: give a finite number ≥ 0.")
    return v


def device(x):
    """Host numbers → a float64 JAX array without a compilation: ``jnp.asarray`` and
    ``jnp.array`` of host data compile a small conversion program per new shape
    (10–50 ms each, ~0.1 s of every process start); ``device_put`` of a NumPy array
    does not."""
    return jax.device_put(np.asarray(x, dtype=np.float64))
