"""Reproduce Sec. 4 (Figures 1–5) with the gradient flow beside GD.

    python studies/paper.py --out results/paper [--quick]
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from flowdeq.studies import cli_study  # noqa: E402

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default="results/paper")
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    cli_study("paper", a.out, quick=a.quick)
