import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402

import flowdeq  # noqa: E402,F401
from flowdeq import (Gaussian, LinearDEQ, LinearTarget, Problem, SingleIndexDEQ,  # noqa: E402
                     SingleIndexTarget, Uniform)
from flowdeq.descent import gradient_descent  # noqa: E402
from flowdeq.portraits import (field_on_grid, lift, outcome_map_figure, phase_portrait,  # noqa: E402
                               project)


@pytest.fixture(scope="module")
def linear():
    return Problem(LinearDEQ(1), LinearTarget([2.0]), Uniform(0.0, 1.0, 1, nodes=8))


def _gids(ax):
    return {a.get_gid() for a in list(ax.lines) + list(ax.images) if a.get_gid()}


def test_linear_portrait_has_every_element(linear):
    gd = gradient_descent(linear, np.array([[0.3, 0.2], [0.1, 1.3]]), [0.05, 2.5], 40)
    fig, ax = phase_portrait(linear, (-2, 3), (-1, 2.5), n=21, descents=gd)
    g = _gids(ax)
    assert {"singular_line", "minimiser_manifold", "trivial_point", "conserved_circle"} <= g
    assert "event_crossed" in g  # η = 2.5 jumps θ₂ = 1 from one of the starts
    assert any(isinstance(c, LineCollection) for c in ax.collections)  # streamlines
    sing = [l for l in ax.lines if l.get_gid() == "singular_line"][0]
    np.testing.assert_allclose(sing.get_ydata(), 1.0)
    mini = [l for l in ax.lines if l.get_gid() == "minimiser_manifold"][0]
    x, y = mini.get_xydata().T
    np.testing.assert_allclose(y, 1 - x / 2.0)  # (αξ, 1−α), ξ = 2
    circ = [l for l in ax.lines if l.get_gid() == "conserved_circle"]
    radii = sorted(float(np.median(np.hypot(c.get_xdata(), c.get_ydata() - 1))) for c in circ)
    expect = sorted(np.hypot([0.3, 0.1], [0.2 - 1, 1.3 - 1]))
    np.testing.assert_allclose(radii, expect, rtol=1e-12)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "gradient descent" in labels and "event: crossed" in labels
    assert ax.get_xlabel() == "θ₁" and ax.get_ylabel() == "θ₂"


def test_field_matches_closed_form_and_masks_the_singular_line(linear):
    S, T2, U, V = field_on_grid(linear, (-1, 1), (0, 2), n=5)  # θ₂ row 1.0 is singular
    assert np.all(np.isnan(U[2])) and np.all(np.isnan(V[2]))
    Sig = float(np.asarray(linear.sigma)[0, 0])
    u = 1 - T2
    phi = S / u
    g = Sig * (phi - 2.0)
    ok = ~np.isnan(U)
    np.testing.assert_allclose(U[ok], (-2 * g / u)[ok], rtol=1e-12)
    np.testing.assert_allclose(V[ok], (-2 * phi * g / u)[ok], rtol=1e-12)


def test_single_index_portrait_and_projection():
    P = Problem(SingleIndexDEQ("sigmoid", 1), SingleIndexTarget([2.0], "sigmoid"),
                Uniform(0.0, 1.0, 1, nodes=12))
    fig, ax = phase_portrait(P, (-1, 3), (-4.5, 4.5), n=15)
    g = _gids(ax)
    assert {"contraction_boundary", "target"} <= g and "singular_line" not in g
    ys = sorted(float(l.get_ydata()[0]) for l in ax.lines if l.get_gid() == "contraction_boundary")
    np.testing.assert_allclose(ys, [-4.0, 4.0])  # L = 1/4 for the sigmoid
    tgt = [l for l in ax.lines if l.get_gid() == "target"][0]
    np.testing.assert_allclose(tgt.get_xydata()[0], [2.0, 0.0])
    _, T2, U, _ = field_on_grid(P, (-1, 3), (-4.5, 4.5), n=7)
    assert np.all(np.isnan(U[np.abs(T2) >= 4.0]))  # ill-posed outside the strip is masked


def test_d2_slice_projection():
    P = Problem(LinearDEQ(2), LinearTarget([3.0, 4.0]), Gaussian([0, 0], [[1, 0], [0, 1]], nodes=4))
    th = lift(P, np.array([1.0, -2.0]), np.array([0.5, 0.1]))
    np.testing.assert_allclose(th[0], [0.6, 0.8, 0.5])
    s, t2 = project(P, th)
    np.testing.assert_allclose(s, [1.0, -2.0])
    fig, ax = phase_portrait(P, (-6, 6), (-1, 2), n=11)
    assert ax.get_xlabel() == "θ₁ᵀξ/‖ξ‖"
    mini = [l for l in ax.lines if l.get_gid() == "minimiser_manifold"][0]
    x, y = mini.get_xydata().T
    np.testing.assert_allclose(y, 1 - x / 5.0)


def test_outcome_map_figure():
    xs, ys = np.arange(3.0), np.arange(2.0)
    oc = np.array([["converged", "ill_posed", "converged"], ["diverged", "converged", "converged"]])
    fig, ax = outcome_map_figure(xs, ys, oc, np.ones((2, 3)))
    assert any(im.get_gid() == "outcome_map" for im in ax.images)
    labels = {t.get_text() for t in ax.get_legend().get_texts()}
    assert {"converged", "ill_posed", "diverged"} <= labels
    with pytest.raises(ValueError, match="outcome"):
        outcome_map_figure(xs, ys, oc.T)
    with pytest.raises(ValueError, match="xlim"):
        field_on_grid(Problem(LinearDEQ(1), LinearTarget([1.0]), Uniform(0, 1, 1, nodes=4)),
                      (1, 0), (0, 1))
