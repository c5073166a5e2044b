"""Every figure of one search: its plot arrays and its summary."""

from __future__ import annotations

import logging
from pathlib import Path

from alfred_core.results.data import load_search
from alfred_core.results.plot_arrays import make_plot_arrays
from alfred_core.results.summarize import summarize
from alfred_core.tree import Search

logger = logging.getLogger(__name__)


def export_figures(search: Search) -> list[Path]:
    """Make the plot arrays and the summary of a search; the files written."""
    data = load_search(search)
    written = make_plot_arrays(data)
    written.extend(summarize(data).files)
    return written
