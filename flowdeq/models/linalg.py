r"""Batched small linear solves for the width-m models (batch axis last).

XLA on the CPU solves a batch of small systems with one LAPACK call per matrix: 1000
systems of size 8 took 1.0 ms (``jnp.linalg.solve``, one core), most of it per-call
overhead.  An LU without pivoting written row by row, each row operation vectorised over
the batch axis, took 0.10 ms for the same batch (docs/performance.md, entry 19).

No pivoting is safe for the matrices it is used on, J = I − K with ‖K‖₂ ≤ q < 1 (the
Jacobian I − diag(σ′)W of a contractive layer, L‖W‖₂ < 1): every leading block
I − K₁₁ has σ_min ≥ 1 − q, so each pivot uₖₖ = 1/(A_k⁻¹)ₖₖ satisfies |uₖₖ| ≥ 1 − q > 0.
Elsewhere (a Jacobian that is not of that form) use :func:`solve`'s ``pivot=True``.
"""
from __future__ import annotations

import jax.numpy as jnp

__all__ = ["solve", "UNROLL_MAX"]

# above this width the m-step elimination's trace grows past its benefit: LAPACK instead
UNROLL_MAX = 16


def _lu(A):
    """LU of A (m, m, n) without pivoting: (low, rows) with low[i][j] (n,) the multipliers
    of L (unit lower) and rows[i] (m, n) the rows of U (entries left of the diagonal are
    rounding-level leftovers, never read).  Whole rows as separate arrays, not slices of
    one array updated in place: each elimination step is one fused elementwise kernel
    (measured 4× faster than ``.at[].add`` updates of an (m, m, n) array, and 2.4× faster
    than masked updates of the whole array)."""
    m = A.shape[0]
    rows = [A[i] for i in range(m)]
    low = [[None] * m for _ in range(m)]
    for j in range(m - 1):
        for i in range(j + 1, m):
            low[i][j] = rows[i][j] / rows[j][j]
            rows[i] = rows[i] - low[i][j][None] * rows[j]
    return low, rows


def _substitute(lu, b):
    """Solve LU x = b for b (m, n): forward then back substitution."""
    low, rows = lu
    m = len(rows)
    y = [b[0]]
    for i in range(1, m):
        y.append(b[i] - sum(low[i][j] * y[j] for j in range(i)))
    x = [None] * m
    for i in range(m - 1, -1, -1):
        acc = y[i] - sum((rows[i][j] * x[j] for j in range(i + 1, m)), jnp.zeros_like(y[i]))
        x[i] = acc / rows[i][i]
    return jnp.stack(x)


def solve(J, rhs, pivot=False):
    """x (n, m) with Jᵢ xᵢ = rhsᵢ, for J given batch-last as (m, m, n) and rhs (n, m).

    ``pivot=False`` (J = I − K, ‖K‖₂ < 1: see the module docstring) eliminates without
    pivoting, vectorised over the batch, for m ≤ :data:`UNROLL_MAX`; otherwise LAPACK's
    pivoted LU per system."""
    m = J.shape[0]
    if pivot or m > UNROLL_MAX:
        return jnp.linalg.solve(jnp.moveaxis(J, -1, 0), rhs[..., None])[..., 0]
    return _substitute(_lu(J), rhs.T).T
