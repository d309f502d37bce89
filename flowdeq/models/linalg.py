r"""Batched small linear solves for the width-m models (batch axis last).

XLA on the CPU solves a batch of small systems with one LAPACK call per matrix: 1000
systems of size 8 took 1.2 ms (``jnp.linalg.solve``), most of it per-call overhead.  An LU
without pivoting written as m vectorised elimination steps over the batch axis took
0.24 ms for the same batch (docs/performance.md, "multi-neuron").

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
    """In-place LU of A (m, m, n) without pivoting: L below the diagonal (unit), U on and
    above it."""
    m = A.shape[0]
    for j in range(m - 1):
        low = A[j + 1:, j] / A[j, j]
        A = A.at[j + 1:, j + 1:].add(-low[:, None, :] * A[j, j + 1:][None])
        A = A.at[j + 1:, j].set(low)
    return A


def _substitute(LU, b):
    """Solve LU x = b for b (m, n): forward then back substitution, one row at a time."""
    m = LU.shape[0]
    y = b
    for i in range(1, m):
        y = y.at[i].add(-jnp.sum(LU[i, :i] * y[:i], axis=0))
    x = y
    for i in range(m - 1, -1, -1):
        acc = x[i] - jnp.sum(LU[i, i + 1:] * x[i + 1:], axis=0) if i < m - 1 else x[i]
        x = x.at[i].set(acc / LU[i, i])
    return x


def solve(J, rhs, pivot=False):
    """x (n, m) with Jᵢ xᵢ = rhsᵢ, for J given batch-last as (m, m, n) and rhs (n, m).

    ``pivot=False`` (J = I − K, ‖K‖₂ < 1: see the module docstring) eliminates without
    pivoting, vectorised over the batch, for m ≤ :data:`UNROLL_MAX`; otherwise LAPACK's
    pivoted LU per system."""
    m = J.shape[0]
    if pivot or m > UNROLL_MAX:
        return jnp.linalg.solve(jnp.moveaxis(J, -1, 0), rhs[..., None])[..., 0]
    return _substitute(_lu(J), rhs.T).T
