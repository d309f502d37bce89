"""Old path of :mod:`flowdeq.dynamics.descent`, kept so documented imports keep working."""
import sys

from .dynamics import descent as _module

sys.modules[__name__] = _module
