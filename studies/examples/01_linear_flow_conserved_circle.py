# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # The paper's linear DEQ: its gradient flow keeps a circle
#
# The linear DEQ predicts $y = \theta_1 x + \theta_2 y$, i.e. $y = \theta_1 x/(1-\theta_2)$,
# singular on the line $\theta_2 = 1$.  On the population risk
# $R(\theta) = \mathbb{E}\,(y_\theta(X) - 2X)^2$, $X \sim \mathrm{Unif}[0, 1]$, Theorem 3.1 of
# the paper says the gradient flow $\theta' = -\nabla R(\theta)$ conserves
# $$w(\theta) = \|\theta_1\|^2 + (\theta_2 - 1)^2,$$
# so every path runs on a circle about the trivial point $(0, 1)$ and ends on the line of
# minimisers $(\alpha\xi, 1-\alpha)$ where that circle meets it (the corrected limit, errata E2).
#
# Open this file as a notebook (`jupytext --to notebook`, or VS Code / JupyterLab with
# jupytext) or run it as a script: `python studies/examples/01_linear_flow_conserved_circle.py`.

# %%
import matplotlib.pyplot as plt
import numpy as np

import flowdeq as fd
from flowdeq.plot import phase_portrait
from _setup import path, size

problem = fd.Problem(fd.LinearDEQ(1), fd.LinearTarget([2.0]), fd.Uniform(0, 1, dim=1, nodes=16))
starts = np.array([[0.3, 0.2], [-0.5, 1.4], [1.5, -0.5], [0.1, 0.5]])
flow = fd.gradient_flow(problem, starts, t1=size(20.0, 5.0), n_save=size(400, 60))
print(flow.outcome, flow.event_time)

# %% [markdown]
# Each member of the batch ran under one compilation and kept its own outcome.  The
# conserved quantity along each path, relative to its start:

# %%
w = lambda th: th[..., 0] ** 2 + (th[..., 1] - 1) ** 2  # noqa: E731
for k, member in enumerate(flow.members()):
    drift = np.max(np.abs(w(member.theta) / w(member.theta[0]) - 1))
    print(f"start {starts[k]}: max relative drift of w = {drift:.1e}")
    assert drift < 1e-7  # Thm 3.1 holds to the solver's tolerance

# %% [markdown]
# Where the circle through θ(0) meets the minimiser line: α = sign(1 − θ₂(0))·r₀/√(ξ² + 1)
# with r₀ = √w(θ(0)), the end point (αξ, 1 − α).

# %%
xi = 2.0
r0 = np.sqrt(w(starts))
alpha = np.sign(1 - starts[:, 1]) * r0 / np.sqrt(xi ** 2 + 1)
limit = np.stack([alpha * xi, 1 - alpha], axis=1)
print("flow end points:\n", flow.theta_final, "\npredicted limits:\n", limit)

# %%
fig, ax = phase_portrait(problem, (-2.5, 3.0), (-1.5, 2.5), size(41, 15), flows=flow)
ax.plot(limit[:, 0], limit[:, 1], "k+", ms=12, label="predicted limits")
ax.legend(fontsize=7)
fig.savefig(path("01_conserved_circles.png"), dpi=110)

# %% [markdown]
# The run as a labelled dataset (the `xarray` extra), which any netCDF tool opens:

# %%
ds = flow.to_xarray()
print(ds)
flow.to_netcdf(path("01_flow.nc"))
