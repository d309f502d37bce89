"""Old path of :mod:`flowdeq.analysis.diagnostics`, kept so documented imports keep working."""
import sys

from .analysis import diagnostics as _module

sys.modules[__name__] = _module
