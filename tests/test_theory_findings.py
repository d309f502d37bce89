"""flowdeq's findings beyond the paper (docs/findings.md), the random-problem audit at a
reduced count (the full one: studies/errata/audit.py), and `flowdeq theory` on configs."""
import json

import numpy as np
import pytest

from flowdeq import LinearDEQ, LinearTarget, Problem, SingleIndexDEQ, SingleIndexTarget, Uniform
from flowdeq.analysis.theory import lemma37_constants
from flowdeq.analysis.theory.findings import audit_linear, audit_single_index, gd_rate_slack
from flowdeq.analysis.theory.single_index import strip_decrease, strip_row


def test_F1_decrease_over_the_strip_sec42():
    """F1: −r′/r = 2(θ−θ*)ᵀ∇R/r > 0 on the whole contraction strip of the Sec. 4.2 set-up
    (the audit's minimum 3.8e-4 sits at the grid's corner θ = (8, 0.99/L))."""
    pr = Problem(SingleIndexDEQ("sigmoid", 1), SingleIndexTarget([2.0], "sigmoid"),
                 Uniform(0.0, 1.0, 1, nodes=24))
    T1, T2, v = strip_decrease(pr, (-8.0, 8.0), 41, 25)
    ok = np.isfinite(v)
    assert ok.sum() == 41 * 25 - 1 and np.all(v[ok] > 0)          # θ* itself excluded
    i = np.nanargmin(v)
    assert (T1.flat[i], round(T2.flat[i], 2)) == (8.0, 3.96)
    assert abs(v.flat[i] - 3.84e-4) < 0.01e-4
    # the check sees a sign change: with a misspecified target (σ(ξx) of another σ) θ* is not
    # the minimiser and −r′/r < 0 somewhere on the strip
    bad = Problem(SingleIndexDEQ("sigmoid", 1), SingleIndexTarget([2.0], "tanh"),
                  Uniform(0.0, 1.0, 1, nodes=24))
    c = {"theta_star": [2.0, 0.0], "monotone": True, "well_specified": False}
    row = strip_row(bad, c, n=31)
    assert row.met is False and row.verdict == "hypothesis fails"


def test_F3_corrected_thm36_rate_is_not_sharp():
    """F3: the bound is touched only at s = 1 (both sides ≈ R₀); the slowest step contracts
    ≥ 3.2× faster than its rate (proved under Lemma 3.7's step conditions)."""
    pr = Problem(LinearDEQ(1), LinearTarget([2.0]), Uniform(0.0, 0.1, 1, nodes=16))
    th0 = np.array([0.1, 0.05])
    eta = lemma37_constants(pr, th0)["eta0"]
    out = gd_rate_slack(pr, th0, eta, 400)
    assert out["at_step"] == 1 and out["max_ratio"] > 0.99
    assert out["step_slack"] >= 3.2


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 36, 61])
def test_audit_linear_reduced(seed):
    """No corrected form violated (d = 2: both sides of θ₂ = 1, |1 − θ₂(0)| = 0.023, 0.041,
    0.62, κ up to 981); the full 400 + 100 problems: studies/errata/audit.py."""
    res = audit_linear(seed)
    assert not res["violated"], res["violated"]
    verdicts = {(c[0], c[1], c[2][:6]): c[3] for c in res["checks"]}
    assert verdicts[("Thm 3.3", "corrected", "lim θ(")] == "holds"      # converged flows
    assert "violated" not in verdicts.values()


@pytest.mark.slow
def test_audit_single_index_reduced():
    res = audit_single_index(30)                # sigmoid, d = 1, U[0, 1], ‖θ₀ − θ*‖ = 0.39/L
    assert not res["violated"], res["violated"]
    assert res["lambda_star"] > 0


# ---------------------------------------------------------------------------- CLI
@pytest.mark.slow
def test_cli_theory_full_table(tmp_path):
    from flowdeq.cli import main
    assert main(["theory", "data/configs/sec41-linear-population.toml", "--out", str(tmp_path)]) == 0
    data = json.loads((tmp_path / "theory.json").read_text())
    got = {(e["theorem"], e["form"]): e["verdict"] for e in data}
    for key in [("Thm 3.1", "printed"), ("Lemma 3.2", "explicit"), ("Thm 3.3", "corrected"),
                ("Thm 3.4", "corrected"), ("Lyapunov", "printed"), ("Lemma 3.7", "proof step")]:
        assert got[key] == "holds", key
    assert got[("Thm 3.3", "printed")] == got[("Thm 3.4", "printed")] == "violated"
    assert got[("Thm 3.6", "corrected")] == "hypothesis fails"     # η = 0.01 ≫ η₀ = 2.59e-6
    eta0 = [e for e in data if e["theorem"] == "Lemma 3.7"][0]["constants"]["eta0"]
    assert abs(eta0 - 2.59e-6) < 0.01e-6
    for e in data:
        assert e["verdict"] in ("holds", "violated", "inconclusive", "hypothesis fails",
                                "not applicable")
        assert e["resolution"] or e["run"] == "constants"
    md = (tmp_path / "theory.md").read_text()
    assert md.startswith("# Theorem checks") and "| Lemma 3.7 |" in md
    assert (tmp_path / "theory.png").stat().st_size > 10_000
    # `flowdeq show` re-draws the table's figure from theory.json and the saved curves
    assert main(["show", str(tmp_path)]) == 0
    assert (tmp_path / "redrawn" / "theory.png").stat().st_size > 10_000


@pytest.mark.slow
def test_cli_theory_skips_politely(tmp_path):
    """A config without [flow] t1 or for another model gets one-line 'not applicable' rows."""
    from flowdeq.cli import main
    assert main(["theory", "data/configs/sweep-linear-gd.toml", "--out", str(tmp_path)]) == 0
    data = json.loads((tmp_path / "theory.json").read_text())
    na = [e for e in data if e["verdict"] == "not applicable"]
    assert [e["theorem"] for e in na] == ["flow statements"] and "[flow] t1" in na[0]["reason"]
    assert {e["theorem"] for e in data} >= {"Lemma 3.5", "Lemma 3.7", "Thm 3.6"}
