"""Quick figures for a single run: risk against time (log axis) and the θ path."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .trajectory import Trajectory  # noqa: E402

__all__ = ["quick_figure"]


def quick_figure(traj: Trajectory, title: str | None = None):
    """Two panels: R against t (or step) on a log axis, and θ₂ against θ₁[0].

    Returns ``(fig, axes)``; never shows.  For a batch, every member is drawn.
    """
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    members = list(traj.members())
    xlabel = "time t" if traj.kind == "flow" else "step s"
    for m in members:
        r = np.where(m.risk > 0, m.risk, np.nan)
        a1.semilogy(m.t, r, lw=1.2, color="#0072B2", alpha=1.0 if len(members) == 1 else 0.4)
        a2.plot(m.theta[:, 0], m.theta[:, -1], lw=1.2, color="#0072B2",
                alpha=1.0 if len(members) == 1 else 0.4)
        a2.plot(m.theta[0, 0], m.theta[0, -1], "o", color="#009E73", ms=4)
        a2.plot(m.theta[-1, 0], m.theta[-1, -1], "s", color="#D55E00", ms=4)
    a1.set_xlabel(xlabel)
    a1.set_ylabel("risk R(θ)")
    a1.set_title("risk")
    a1.grid(True, which="both", alpha=0.3)
    if traj.settings.get("problem", {}).get("model", {}).get("kind") == "linear":
        a2.axhline(1.0, color="k", ls="--", lw=1, label="singular line θ₂ = 1")
        a2.legend(loc="best", fontsize=8)
    a2.set_xlabel("θ₁[0]")
    a2.set_ylabel("θ₂")
    a2.set_title("parameter path (start ●, end ■)")
    a2.grid(True, alpha=0.3)
    outcome = traj.outcome if isinstance(traj.outcome, str) else traj.outcome_counts()
    fig.suptitle(title or f"{traj.kind}: outcome {outcome}")
    return fig, (a1, a2)
