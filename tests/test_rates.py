"""Rate fitter: recovers known rates of synthetic exponentials (noise + transient) to 1 %."""
import numpy as np
import pytest

from flowdeq.rates import compare_with_bound, fit_rate


@pytest.mark.parametrize("k", [0.05, 0.8, 3.0, 40.0])
@pytest.mark.parametrize("noise", [0.0, 1e-3, 1e-2])
def test_fit_recovers_rate_with_transient_and_noise(k, noise):
    rng = np.random.default_rng(int(k * 100) + int(noise * 1e4))
    t = np.linspace(0.0, 25.0 / k, 401)
    q = 3.0 * np.exp(-k * t) * (1 + noise * rng.standard_normal(t.size))
    q += 10.0 * np.exp(-5 * k * t)                        # fast transient mode, larger at t=0
    q += 1e-13 * rng.random(t.size)                       # round-off floor
    fit = fit_rate(t, q)
    assert fit.ok
    assert abs(fit.rate / k - 1) < 0.01
    assert fit.ci[0] <= fit.rate <= fit.ci[1]
    assert fit.window[0] > 0                               # the transient was cut away


def test_fit_detects_transient_window():
    t = np.linspace(0, 20, 401)
    q = np.exp(-t) + 50 * np.exp(-4 * t)
    fit = fit_rate(t, q)
    assert abs(fit.rate - 1) < 1e-3
    whole = np.polyfit(t, np.log(q), 1)[0]                # naive fit over everything is biased
    assert abs(-whole - 1) > 0.01


def test_gd_contraction_factor():
    rng = np.random.default_rng(7)
    s = np.arange(3000)
    q = 0.995 ** s * (1 + 1e-3 * rng.standard_normal(s.size)) + 0.3 * 0.97 ** s
    fit = fit_rate(s, q)
    assert abs(fit.factor - 0.995) < 1e-4
    lo, hi = fit.factor_ci
    assert lo <= 0.995 <= hi or abs(fit.factor - 0.995) < 2e-5


def test_noise_floor_is_excluded():
    t = np.linspace(0, 60, 601)
    q = np.exp(-2 * t) + 1e-20                            # decays into a floor at t ≈ 23
    fit = fit_rate(t, q, floor=1e-18)
    assert abs(fit.rate - 2) < 0.02
    assert fit.window[1] < 25


def test_compare_with_bound():
    t = np.linspace(0, 5, 51)
    q = np.exp(-2 * t)
    ok = compare_with_bound(t, q, np.exp(-t), bound_rate=1.0)
    assert ok["holds"] and ok["max_ratio"] < 1 and abs(ok["rate_ratio"] - 2) < 1e-3
    bad = compare_with_bound(t, q, np.exp(-3 * t))
    assert not bad["holds"] and bad["max_ratio"] > 1


def test_bound_underflowing_to_subnormal_gives_inf_ratio_without_warning():
    """A printed bound can decay to a subnormal 1e-319 while q is 1e-5 (seen on a Thm 3.4
    printed form): the bound fails there, and q/b overflows to inf quietly."""
    import warnings
    t = np.array([0.0, 1.0, 2.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = compare_with_bound(t, np.array([1.0, 1e-3, 2.4e-5]), np.array([1.0, 1e-3, 1e-319]))
    assert not out["holds"] and out["max_ratio"] == np.inf and out["argmax_t"] == 2.0


def test_bad_input():
    with pytest.raises(ValueError, match="t has shape"):
        fit_rate(np.arange(5), np.ones(6))
    with pytest.raises(ValueError, match="noise floor"):
        fit_rate(np.arange(5.0), np.exp(-np.arange(5.0)))
