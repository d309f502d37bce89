"""Old path of :mod:`flowdeq.app.cache`, kept so documented imports keep working."""
import sys

from .app import cache as _module

sys.modules[__name__] = _module
