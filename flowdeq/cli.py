"""Old path of :mod:`flowdeq.app.cli` (``python -m flowdeq.cli`` and documented imports)."""
import sys

from .app import cli as _module

if __name__ == "__main__":
    sys.exit(_module.main())
sys.modules[__name__] = _module
