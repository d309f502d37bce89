"""Old path of :mod:`flowdeq.analysis.theory` (figure: :mod:`flowdeq.plot.diagnostics`,
CLI verb: :mod:`flowdeq.app.commands`)."""
from .analysis.theory import *  # noqa: F401,F403
from .analysis.theory import _fmt, thm33, thm34, thm36, thm38, thm39  # noqa: F401
from .app.commands import cli_theory  # noqa: F401
from .plot.diagnostics import theory_figure  # noqa: F401
