"""Reproduce Sec. 4 (Figures 1–5) with the gradient flow beside GD.

    python studies/paper.py --out results/paper [--quick]
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from flowdeq.app.studies import script_main  # noqa: E402

if __name__ == "__main__":
    script_main("paper")
