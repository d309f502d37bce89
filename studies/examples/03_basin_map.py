# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # A basin map: where does GD on the sigmoid DEQ end up?
#
# Single-index DEQ y = σ(θ₁x + θ₂y), target f(x) = σ(2x), X ~ Unif[0, 1]; the model is
# well-posed while L|θ₂| < 1 (L = 1/4 for the sigmoid).  A resumable sweep runs GD from a
# grid of starts θ₀ on the (θ₁, θ₂) plane, in fixed-size chunks written to disk as they
# finish; `load_sweep(dir).to_xarray()` gives the outcome as a gridded Dataset.

# %%
import shutil

import matplotlib.pyplot as plt
import numpy as np

import flowdeq as fd
from flowdeq.ensembles.starts import axis
from flowdeq.ensembles.sweep import grid_starts, load_sweep, run_sweep
from flowdeq.plot import outcome_map_figure
from _setup import path, size

problem = fd.Problem(fd.SingleIndexDEQ("sigmoid", 1), fd.SingleIndexTarget([2.0], "sigmoid"),
                     fd.Uniform(0, 1, 1, nodes=16))
n = size(25, 6)
theta1, theta2 = (-4.0, 6.0, n), (-3.6, 3.6, n)
starts = grid_starts(problem, theta1, theta2)
out = path("03_sweep")
shutil.rmtree(out, ignore_errors=True)  # a fresh sweep each time the example runs
run_sweep(problem, starts, out, kind="descent", step_sizes=[0.5],
          settings={"steps": size(2000, 200), "converged_tol": 1e-9}, chunk_size=size(125, 18),
          grid=(axis("theta1", theta1), axis("theta2", theta2)))

# %% [markdown]
# The Dataset is labelled by the grid: select a start by its coordinates.

# %%
ds = load_sweep(out).to_xarray()
print(ds)
dist = np.hypot(ds.theta_final.sel(param="theta1[0]") - 2.0, ds.theta_final.sel(param="theta2"))
reached = (dist < 0.05).sel(step_size=0.5)
print(f"fraction of starts that reach (2, 0): {float(reached.mean()):.2f}")

# %%
label = np.where(reached, "reached", ds.outcome.sel(step_size=0.5))
fig, ax = outcome_map_figure(ds.theta1.values, ds.theta2.values, label,
                             ds.event_step.sel(step_size=0.5).values.astype(float),
                             title="GD (η = 0.5) from each start", time_label="event step")
ax.plot([2], [0], "k*", ms=12)
fig.savefig(path("03_basin_map.png"), dpi=110)

# %% [markdown]
# `load_sweep(out).to_netcdf("sweep.nc")` (or `flowdeq export DIR --netcdf`) writes the same
# Dataset for any netCDF reader; `xarray.open_dataset("sweep.nc")` gives it back exactly.
