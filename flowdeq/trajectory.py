"""Old path of :mod:`flowdeq.dynamics.trajectory`, kept so documented imports keep working."""
import sys

from .dynamics import trajectory as _module

sys.modules[__name__] = _module
