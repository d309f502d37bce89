"""Old path of :mod:`flowdeq.dynamics.flow`, kept so documented imports keep working."""
import sys

from .dynamics import flow as _module

sys.modules[__name__] = _module
