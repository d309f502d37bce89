"""Old path: the numbers now live in :mod:`flowdeq.ensembles.singularity`, the figures and
files in :mod:`flowdeq.plot.sweeps`; both are re-exported here."""
from .ensembles.singularity import *  # noqa: F401,F403
from .ensembles.singularity import analyze_sweep, crossing_step_sizes  # noqa: F401
from .plot.sweeps import closest_approach_histogram, crossing_map, write_analysis  # noqa: F401
