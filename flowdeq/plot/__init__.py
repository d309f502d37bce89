"""Plotting (layer L3): the only flowdeq modules that import matplotlib.  None of them calls
``matplotlib.use``: the backend stays the user's (the CLI alone picks Agg)."""
from .diagnostics import report_figure, theory_figure
from .figures import (FigureWarning, draw_figure, figure_formats, quick_figure, save_fig,
                      set_figure_formats)
from .portraits import add_landmarks, add_trajectory, outcome_map_figure, phase_portrait
from .sweeps import closest_approach_histogram, crossing_map, write_analysis

__all__ = ["report_figure", "theory_figure", "quick_figure", "save_fig", "draw_figure",
           "figure_formats", "set_figure_formats",
           "FigureWarning", "add_landmarks", "add_trajectory", "outcome_map_figure",
           "phase_portrait", "closest_approach_histogram", "crossing_map", "write_analysis"]
