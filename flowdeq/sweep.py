"""Old path of :mod:`flowdeq.ensembles.sweep` (the CLI verb is :mod:`flowdeq.app.commands`)."""
from .app.commands import cli_sweep, starts_from_table  # noqa: F401
from .ensembles.sweep import *  # noqa: F401,F403
from .ensembles.sweep import FORMAT, SWEEP_DEFAULTS, run_chunk  # noqa: F401
