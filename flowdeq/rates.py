"""Old path of :mod:`flowdeq.analysis.rates`, kept so documented imports keep working."""
import sys

from .analysis import rates as _module

sys.modules[__name__] = _module
