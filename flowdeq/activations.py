"""Old path of :mod:`flowdeq.models.activations`, kept so documented imports keep working."""
import sys

from .models import activations as _module

sys.modules[__name__] = _module
