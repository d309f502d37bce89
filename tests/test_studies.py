import json
import os

import pytest

from flowdeq.studies import STUDIES, cli_list, cli_study


def test_list_names_every_study(capsys):
    names = cli_list()
    assert set(names) == set(STUDIES)
    assert "paper" in capsys.readouterr().out


def test_unknown_study_is_a_value_error(tmp_path):
    with pytest.raises(ValueError, match="unknown"):
        cli_study("nope", str(tmp_path))


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(STUDIES))
def test_study_quick_end_to_end(name, tmp_path, monkeypatch):
    # PNG always; PDF only on request (`--pdf`): the paper study is run asking for it
    pdf = name == "paper"
    if pdf:
        monkeypatch.setenv("FLOWDEQ_FIGURE_FORMATS", "png,pdf")
    else:
        monkeypatch.delenv("FLOWDEQ_FIGURE_FORMATS", raising=False)
    out = str(tmp_path / name)
    cli_study(name, out, quick=True)
    files = os.listdir(out)
    assert "summary.md" in files and "summary.json" in files
    assert any(f.endswith(".png") for f in files)
    assert any(f.endswith(".pdf") for f in files) == pdf
    with open(os.path.join(out, "summary.json")) as fh:
        s = json.load(fh)
    if name == "paper":
        # Thm 3.1: the flow keeps ‖θ − (0,1)‖; corrected Thm 3.3 (E2) limit is reached
        for d in s["linear"]:
            assert d["flow_r_max_rel_drift"] < 1e-8
            assert d["flow_dist_to_corrected_limit"] < 1e-6
            assert d["gd_r_monotone_nondecreasing"]
        assert s["sigmoid"]["gd_dist_monotone"]     # Thm 3.9
    if name == "gd-vs-flow":
        # GD − modified-flow error orders 1, 2, 3 (0.9 decades of η in --quick)
        slopes = s["error_orders"]["linear"]["slopes"]
        for order in ("0", "1", "2"):
            assert abs(slopes[order] - (int(order) + 1)) < 0.2
        # converged GD never ends linearly unstable; the edge is never below the prediction
        assert s["maps"]["linear"]["converged_max_eta_lambda_over_2"] < 1.0
        assert min(r for r in s["maps"]["linear"]["edge_over_pred"] if r is not None) >= 0.9
    if name == "rank-deficient":
        assert s["max_null_component_drift"] < 1e-10
        assert s["all_stay_on_their_side"]
