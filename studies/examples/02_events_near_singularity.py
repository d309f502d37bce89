# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Events near θ₂ = 1: how close do the flow and GD come to ill-posedness?
#
# The linear DEQ is ill-posed on θ₂ = 1.  flowdeq integrates the flow with one event
# function (the first of: margin |1 − θ₂| ≤ ε, ‖∇R‖ small, divergence, NaN) located by
# bisection, so the time it reports is certified to ~1e-13 relative.  A flow cannot cross
# the line (Lemma 3.2: it would need infinite time), but GD with a large step can jump it
# (outcome `crossed`).

# %%
import matplotlib.pyplot as plt
import numpy as np

import flowdeq as fd
from _setup import path, size

problem = fd.Problem(fd.LinearDEQ(1), fd.LinearTarget([2.0]), fd.Uniform(0, 1, dim=1, nodes=16))
# starts just below the singular line, heading towards it
starts = np.array([[0.05, 0.9], [0.1, 0.95], [0.02, 0.99], [0.5, 0.8]])
flow = fd.gradient_flow(problem, starts, t1=size(10.0, 3.0), singular_eps=1e-3,
                        n_save=size(400, 60))
for k in range(len(starts)):
    print(f"θ(0) = {starts[k]}: {flow.outcome[k]:10s} at t = {flow.event_time[k]:.6g}")

# %% [markdown]
# The closest approach to θ₂ = 1 along each path (`problem.margin` is the model's distance
# to ill-posedness; here |1 − θ₂|):

# %%
margin = np.where(flow.valid, np.abs(1 - flow.theta[..., 1]), np.inf)
print("closest approach per start:", margin.min(axis=1))

# %% [markdown]
# GD from the same starts, with a small and a large step: the large one jumps the line.

# %%
gd = fd.gradient_descent(problem, starts, [0.01, 0.8], size(300, 60))
table = gd.to_xarray()
print(table[["outcome", "event_step"]])
crossed = gd.outcome == "crossed"
print(f"{crossed.sum()} of {len(gd)} GD runs crossed θ₂ = 1")

# %%
fig, ax = plt.subplots(figsize=(6, 4), constrained_layout=True)
for m in flow.members():
    ax.plot(m.t, np.abs(1 - m.theta[:, 1]), label=f"flow from {np.round(m.theta[0], 2)}")
ax.set_yscale("log")
ax.set_xlabel("time t")
ax.set_ylabel("margin |1 − θ₂|")
ax.axhline(1e-3, color="k", ls=":", label="ε (the ill_posed event)")
ax.legend(fontsize=7)
fig.savefig(path("02_margin.png"), dpi=110)
