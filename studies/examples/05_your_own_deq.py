# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Adding your own DEQ
#
# A DEQ is one class: name the parameter pytree, write the layer g_θ(x, z) for one sample,
# and the margin to ill-posedness.  The equilibrium z* = g_θ(x, z*) is then a batched Newton
# solve differentiated by the implicit-function theorem, and the flow with events, GD,
# diagnostics, portraits on a 2-D slice and sweeps all work.  Here:
# y = tanh(a·x + b·y) + c, well-posed while |b| < 1 (tanh is 1-Lipschitz).

# %%
import equinox as eqx
import jax.numpy as jnp
import numpy as np

import flowdeq as fd
from flowdeq.analysis.geometry import Chart
from flowdeq.plot import phase_portrait
from _setup import path, size


class TanhBiasDEQ(fd.AbstractDEQ):
    """y = tanh(a·x + b·y) + c, well-posed while |b| < 1."""
    dim: int = eqx.field(static=True, default=1)
    width: int = eqx.field(static=True, default=1)

    def param_template(self):
        return {"a": (), "b": (), "c": ()}

    def layer(self, params, x, z):
        return jnp.tanh(params["a"] * x + params["b"] * z) + params["c"]

    def margin(self, params):
        return 1.0 - jnp.abs(params["b"])


problem = fd.Problem(TanhBiasDEQ(), fd.SingleIndexTarget([2.0], "tanh"), fd.Uniform(0, 1, 1))
flow = fd.gradient_flow(problem, [0.5, 0.3, 0.0], t1=size(30.0, 12.0), singular_eps=0.55)
print(flow.outcome, flow.event_time, flow.params(-1))

# %% [markdown]
# The flat θ is the sorted parameter names (a, b, c); `flow.params(k)` reads the pytree.
# GD and the diagnostics need nothing more:

# %%
gd = fd.gradient_descent(problem, [0.5, 0.3, 0.0], 0.2, size(400, 80))
report = fd.diagnose(gd, problem)
print(gd.outcome, gd.theta_final)
print(report)

# %% [markdown]
# A phase portrait on the slice c = 0 (a, b free); the ill-posed set |b| ≥ 1 is shaded.

# %%
chart = Chart(origin=np.zeros(3), u=np.eye(3)[0], v=np.eye(3)[1], labels=("a", "b"))
fig, ax = phase_portrait(problem, (-1.0, 3.0), (-1.4, 1.4), size(25, 9), flows=flow, chart=chart)
fig.savefig(path("05_portrait.png"), dpi=110)
