"""Old path of :mod:`flowdeq.app.jobs`, kept so documented imports keep working."""
import sys

from .app import jobs as _module

sys.modules[__name__] = _module
