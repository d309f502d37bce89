"""Old path of :mod:`flowdeq.models.equilibrium`, kept so documented imports keep working."""
import sys

from .models import equilibrium as _module

sys.modules[__name__] = _module
