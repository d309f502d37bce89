"""Old path of :mod:`flowdeq.ensembles.executors`, kept so documented imports keep working."""
import sys

from .ensembles import executors as _module

sys.modules[__name__] = _module
