"""Run the `multi-neuron` study (see docs/studies.md).

    python studies/multi-neuron.py --out results/multi-neuron [--quick]
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from flowdeq.app.studies import script_main  # noqa: E402

if __name__ == "__main__":
    script_main("multi-neuron")
