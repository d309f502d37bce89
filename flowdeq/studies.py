"""Old path of :mod:`flowdeq.app.studies`, kept so documented imports keep working."""
import sys

from .app import studies as _module

sys.modules[__name__] = _module
