"""Shared by the examples: where figures go and how big to run (the test runs them small).

FLOWDEQ_EXAMPLES_SMALL=1  reduced sizes (what tests/test_examples.py sets)
FLOWDEQ_EXAMPLES_OUT=DIR  where figures and files are written (default results/examples)
"""
import os

SMALL = os.environ.get("FLOWDEQ_EXAMPLES_SMALL") == "1"
OUT = os.environ.get("FLOWDEQ_EXAMPLES_OUT", os.path.join("results", "examples"))
os.makedirs(OUT, exist_ok=True)


def size(full, small):
    """``full`` normally, ``small`` when the examples run as a test."""
    return small if SMALL else full


def path(name):
    return os.path.join(OUT, name)
