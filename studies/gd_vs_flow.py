"""Run the `gd-vs-flow` study (see docs/studies.md and docs/gd-vs-flow.md).

    python studies/gd_vs_flow.py --out results/gd-vs-flow [--quick]
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from flowdeq.app.studies import script_main  # noqa: E402

if __name__ == "__main__":
    script_main("gd-vs-flow")
