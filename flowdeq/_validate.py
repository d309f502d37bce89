"""Argument checks shared by the flow and the GD map: a bad number is a ValueError that
names the argument and says what to give instead."""
from __future__ import annotations

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
