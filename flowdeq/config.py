"""Old path of :mod:`flowdeq.app.config`, kept so documented imports keep working."""
import sys

from .app import config as _module

sys.modules[__name__] = _module
