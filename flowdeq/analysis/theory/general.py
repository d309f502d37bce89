r"""Statements that hold for any DEQ: the flow's Lyapunov property and Lemma 3.5.

* **Lyapunov** (used in the proofs of Lemma 3.2, Thm 3.3): along θ′ = −∇R,
  dR/dt = −‖∇R‖² ≤ 0, so R is non-increasing — checked along the whole solution (every
  step end, and 65 re-integrated points in the steps where the screen rises most).
* **Lemma 3.5** (descent lemma; Nesterov Thm 2.1.5): if ∇R is L-Lipschitz and 0 < η ≤ 1/L,
  R(θ_{s+1}) ≤ R(θ_s) − (η/2)‖∇R(θ_s)‖², checked at every GD step.  L is the
  hypothesis' constant: given (e.g. L_Θ of Lemma 3.7) or, for any model, the largest
  ‖∇²R‖₂ sampled at the iterates and step midpoints — a lower estimate of the Lipschitz
  constant on the path, so ``η·L > 1`` refutes the hypothesis while ``η·L ≤ 1`` supports it.
"""
from __future__ import annotations

import equinox as eqx
import jax
import numpy as np

from ..continuous import risk_and_grad_at
from ._common import GD_BAND, value_check
from ._verdict import Check, decide
from .linear import as_descent_path, as_flow_path

__all__ = ["lyapunov", "lemma35", "path_lipschitz"]

MONOTONE_TOL = 1e-9      # a rise of R above 1e-9·(R₀ − min R) is not rounding ...
ROUNDING_R = 1e-13       # ... nor above 1e-13·|R| (the risk is a quadrature sum, known to ~n·ε)


def lyapunov(problem, traj, *, start="config") -> Check:
    """R(θ(t)) non-increasing along the whole flow: (largest rise − 1e-13·max|R|)/(R₀ − min R)
    ≤ 1e-9."""
    path = as_flow_path(problem, traj)
    R = lambda t, th: risk_and_grad_at(problem, th)[0]
    ext = path.max_rise(R)
    scale = max(float(path.risk[0] - np.nanmin(path.risk)), abs(float(path.risk[0])) * 1e-12,
                1e-300)
    floor = ROUNDING_R * float(np.nanmax(np.abs(path.risk)))
    value = max(ext.value - floor, 0.0) / scale
    return value_check(None, theorem="Lyapunov", form="printed",
                       quantity="R(θ(t)) non-increasing (dR/dt = −‖∇R‖²)", value=value,
                       tol=MONOTONE_TOL, hyp={"flow_defined": bool(np.isfinite(path.risk[0]))},
                       constants={"largest_rise": ext.value}, errata="Lemma 3.2, Thm 3.3 proofs",
                       at=ext.t, n_points=ext.n_points, resolution=ext.resolution, start=start,
                       theta0=path.theta[0], kind="flow", complete=True,
                       what="largest rise/(R₀ − min R) over 1e-9")


@eqx.filter_jit
def _hessians(problem, pts):
    return jax.vmap(jax.hessian(problem.risk))(pts)


def path_lipschitz(problem, theta, max_points: int = 256) -> float:
    """max ‖∇²R‖₂ at up to ``max_points`` iterates and step midpoints (evenly subsampled)."""
    th = np.asarray(theta, float)
    mids = 0.5 * (th[1:] + th[:-1]) if len(th) > 1 else th[:0]
    pts = np.concatenate([th, mids])
    if len(pts) > max_points:
        pts = pts[np.unique(np.linspace(0, len(pts) - 1, max_points).astype(int))]
    n = -(-len(pts) // 64) * 64  # one compiled shape per 64 points
    padded = np.concatenate([pts, np.repeat(pts[-1:], n - len(pts), axis=0)])
    H = np.concatenate([np.asarray(_hessians(problem, padded[i:i + 64]))
                        for i in range(0, n, 64)])[:len(pts)]
    H = H[np.all(np.isfinite(H), axis=(1, 2))]
    return float(np.max(np.linalg.norm(H, ord=2, axis=(1, 2)))) if len(H) else np.nan


def lemma35(problem, traj, step_size=None, *, L=None, L_name="L (sampled on the path)",
            start="config") -> Check:
    r"""Lemma 3.5 at every GD step: R(s+1) ≤ R(s) − (η/2)‖∇R(θ_s)‖².  The worst value is
    1 + max_s excess_s/(R₀ − min R), each excess less the rounding floor 1e-13·|R_s| of the
    risks compared, so ≤ 1 means the inequality held at every step."""
    path = as_descent_path(problem, traj, step_size)
    eta = path.eta
    if L is None:
        L = path_lipschitz(problem, path.theta)
    R, g = path.risk, path.grad_norm
    # an excess below the rounding floor of the two risks compared is not a violation (with
    # a tiny η, R₀ − min R can itself be near rounding)
    excess = R[1:] - (R[:-1] - 0.5 * eta * g[:-1] ** 2) if len(R) > 1 else np.array([])
    if excess.size:
        excess = excess - ROUNDING_R * np.maximum(np.abs(R[1:]), np.abs(R[:-1]))
    scale = max(float(R[0] - np.nanmin(R)), abs(float(R[0])) * 1e-12, 1e-300)
    ok = np.isfinite(excess)
    worst = 1.0 + float(np.max(excess[ok])) / scale if ok.any() else None
    i = int(np.argmax(np.where(ok, excess, -np.inf))) + 1 if ok.any() else 0
    hyp = {"grad_Lipschitz": bool(np.isfinite(L)), "eta_le_1_over_L": bool(eta * L <= 1)
           if np.isfinite(L) else None}
    v, r, met = decide(hyp, worst, band=GD_BAND, n_points=int(ok.sum()), complete=True,
                       min_points=1, what="1 + max excess/(R₀ − min R)")
    return Check("Lemma 3.5", "printed", "R(θ_{s+1}) ≤ R(θ_s) − (η/2)‖∇R(θ_s)‖²", hyp, v, r, met,
                 worst, float(i), f"every step ({int(ok.sum())}); {L_name} = {L:.4g}", None,
                 None, {"L": L, "eta": eta, "eta_L": eta * L}, "verified", start,
                 list(map(float, path.theta[0])), kind="descent")
