"""Run the `activations` study (see docs/studies.md).

    python studies/paper.py --out results/activations [--quick]
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from flowdeq.studies import cli_study  # noqa: E402

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default="results/activations")
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    cli_study("activations", a.out, quick=a.quick)
