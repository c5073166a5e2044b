"""Shared figure helpers: seaborn styling on matplotlib's Agg canvas, atomic saving."""

from __future__ import annotations

import contextlib
import json
import os
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

DPI = 90
STATE_COLORS = {
    "COMPLETED": "#1f77b4",
    "RUNNING": "#2ca02c",
    "LOST": "#9467bd",
    "CRASH": "#d62728",
    "KILLED": "#ff7f0e",
    "UNHATCHED": "#7f7f7f",
    "NOFLAG": "#7f7f7f",
}


@contextlib.contextmanager
def styled(font_scale: float = 1.0):
    """seaborn's whitegrid style for the figures made inside; globals untouched."""
    import seaborn

    with seaborn.axes_style("whitegrid"), seaborn.plotting_context("paper", font_scale):
        yield


def new_figure(width: float, height: float, dpi: int = DPI) -> Figure:
    figure = Figure(figsize=(width, height), dpi=dpi)
    FigureCanvasAgg(figure)
    return figure


def save_figure(figure: Figure, path: Path, pdf: bool = False) -> list[Path]:
    """Write the PNG (and the PDF) beside a temporary name, then rename into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for target in [path] + ([path.with_suffix(".pdf")] if pdf else []):
        tmp = target.with_name(f".{target.stem}.{os.getpid()}.tmp{target.suffix}")
        figure.savefig(tmp, dpi=figure.dpi)
        os.replace(tmp, target)
        written.append(target)
    return written


def write_sources(path: Path, sources: dict) -> Path:
    """The JSON beside a figure that says what it was made from."""
    target = path.with_name(path.stem + ".sources.json")
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    with open(tmp, "w") as file:
        json.dump(sources, file, indent=1, default=str)
        file.write("\n")
    os.replace(tmp, target)
    return target


def safe_name(text: str) -> str:
    """A metric name made safe for a file name."""
    return re.sub(r"[^A-Za-z0-9_.+-]+", "_", text) or "metric"
