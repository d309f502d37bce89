"""torchdeq (a third-party DEQ library, PyTorch) as an independent reference for the width-m
DEQ's risk and implicit gradient.  Needs the optional ``reference`` extra
(``pip install -c constraints.txt -e ".[reference]"``); skipped cleanly without it.

torchdeq runs in float64 with implicit differentiation (``ift=True``) and Anderson solves
forward and backward to an absolute residual of 1e-12; its defaults (``ift=False``: a
one-step "phantom" gradient, ``f_tol=1e-3``) are not a reference (docs/multi-neuron.md).
"""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
torchdeq = pytest.importorskip("torchdeq")

import flowdeq as fd  # noqa: E402

TIGHT = dict(ift=True, f_solver="anderson", b_solver="anderson", f_tol=1e-12, b_tol=1e-12,
             f_max_iter=400, b_max_iter=400)


def torchdeq_risk_and_grad(problem, theta, **config):
    """R and ∇R (flat, flowdeq's order) of a MultiNeuronDEQ problem computed by torchdeq."""
    model = problem.model
    p = {k: torch.tensor(np.asarray(v), dtype=torch.float64, requires_grad=True)
         for k, v in model.unravel(np.asarray(theta)).items()}
    X, w, f = (torch.tensor(np.asarray(a), dtype=torch.float64)
               for a in (problem.X, problem.w, problem.f))
    sigma = {"tanh": torch.tanh, "sigmoid": torch.sigmoid}[model.activation.name]
    deq = torchdeq.get_deq(**config)
    deq.train()
    drive = X @ p["U"].T
    z = deq(lambda z: sigma(z @ p["W"].T + drive), torch.zeros(len(w), model.width,
                                                               dtype=torch.float64))[0][-1]
    yhat = z if model.output == "state" else z @ p["v"]
    err = (yhat - f.reshape(yhat.shape)) ** 2
    risk = w @ (err if err.ndim == 1 else err.sum(1))
    risk.backward()
    grad = np.concatenate([p[k].grad.numpy().ravel() for k in sorted(p)])
    return risk.item(), grad


@pytest.mark.parametrize("activation,output", [("tanh", "state"), ("sigmoid", "readout")])
def test_risk_and_gradient_agree_with_torchdeq(activation, output):
    rng = np.random.default_rng(5)
    model = fd.MultiNeuronDEQ(activation, 2, 3, bias=True, output=output)
    if output == "state":
        target = fd.MultiLinearTarget([[1.0, -0.5], [0.3, 0.8], [0.0, 1.0]])
    else:
        target = fd.SingleIndexTarget([1.0, -0.5], activation)
    problem = fd.Problem(model, target, fd.Gaussian([0.3, -0.2], [[1.0, 0.3], [0.3, 0.5]],
                                                    nodes=4))
    params = {k: rng.standard_normal(v) for k, v in model.param_template().items()}
    # L‖W‖₂ = 0.7: inside the contraction region, but strong feedback
    params["W"] *= 0.7 / (model.lipschitz * np.linalg.norm(params["W"], 2))
    theta = np.asarray(model.ravel(params))
    r, g = (np.asarray(a) for a in problem.risk_and_grad(theta))
    r_t, g_t = torchdeq_risk_and_grad(problem, theta, **TIGHT)
    assert float(r) == pytest.approx(r_t, rel=1e-11)
    np.testing.assert_allclose(g, g_t, rtol=1e-9, atol=1e-11 * np.max(np.abs(g)))
