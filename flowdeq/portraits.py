"""Old path: portraits now live in :mod:`flowdeq.plot.portraits`, the chart geometry in
:mod:`flowdeq.analysis.geometry` and the CLI verb in :mod:`flowdeq.app.commands`."""
from .analysis.geometry import Chart, field_on_grid, lift, project  # noqa: F401
from .app.commands import cli_portrait  # noqa: F401
from .plot.portraits import *  # noqa: F401,F403
from .plot.portraits import OUTCOME_MARKERS, add_landmarks, direction  # noqa: F401
