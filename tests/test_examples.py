"""The runnable examples (studies/examples/*.py, jupytext percent format) run headless at
reduced size (FLOWDEQ_EXAMPLES_SMALL=1), each asserting what it demonstrates, and write
their figures and files."""
import glob
import os
import runpy
import sys

import matplotlib.pyplot as plt
import pytest

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "studies", "examples")
SCRIPTS = sorted(os.path.basename(p) for p in glob.glob(os.path.join(EXAMPLES, "[0-9]*.py")))


def test_there_are_four_to_six_examples_in_percent_format():
    assert 4 <= len(SCRIPTS) <= 6
    for name in SCRIPTS:
        text = open(os.path.join(EXAMPLES, name), encoding="utf-8").read()
        assert "format_name: percent" in text and "# %% [markdown]" in text, name


@pytest.mark.slow
@pytest.mark.parametrize("name", SCRIPTS)
def test_example_runs_headless(name, tmp_path, monkeypatch):
    monkeypatch.setenv("FLOWDEQ_EXAMPLES_SMALL", "1")
    monkeypatch.setenv("FLOWDEQ_EXAMPLES_OUT", str(tmp_path))
    monkeypatch.syspath_prepend(EXAMPLES)
    monkeypatch.delitem(sys.modules, "_setup", raising=False)  # re-read the environment
    try:
        runpy.run_path(os.path.join(EXAMPLES, name), run_name="__main__")
    finally:
        plt.close("all")
    assert any(f.endswith(".png") for f in os.listdir(tmp_path)), os.listdir(tmp_path)
