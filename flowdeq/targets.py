"""Old path of :mod:`flowdeq.models.targets`, kept so documented imports keep working."""
import sys

from .models import targets as _module

sys.modules[__name__] = _module
