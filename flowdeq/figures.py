"""Old path of :mod:`flowdeq.plot.figures`, kept so documented imports keep working."""
import sys

from .plot import figures as _module

sys.modules[__name__] = _module
