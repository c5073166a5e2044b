"""Plot arrays: one PNG per metric pair and search, one small subplot per run."""

from __future__ import annotations

import logging
import math
import multiprocessing
import os
import textwrap
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from alfred_core.errors import AlfredError
from alfred_core.flags import State
from alfred_core.results.data import (
    RunData,
    SearchData,
    curve_of,
    format_value,
    load_search,
    metric_defaults,
)
from alfred_core.results.figures import STATE_COLORS, new_figure, safe_name, save_figure
from alfred_core.tree import Search, read_json

logger = logging.getLogger(__name__)

PLOTS_DIR = "plots"
CELL_WIDTH = 2.2  # inches per subplot
CELL_HEIGHT = 1.6
LEFT_MARGIN = 0.45
MARGIN_WIDTH = 0.6  # left and right
TOP_MARGIN = 0.5
MARGIN_HEIGHT = 0.8  # top and bottom
PARALLEL_FROM = 300  # runs: from here on, two processes draw the array
ARRAY_DPI = 80
TARGET_RATIO = 1.6  # columns / rows the layout aims for
NO_CURVE_WORDS = {
    State.UNHATCHED: "UNHATCHED",
    State.RUNNING: "RUNNING",
    State.LOST: "LOST",
    State.CRASH: "CRASHED",
    State.KILLED: "KILLED",
    State.NOFLAG: "NO FLAG",
}


@dataclass(frozen=True)
class PlotSpec:
    """A metric pair to draw, with optional axis limits."""

    x: str
    y: str
    xlim: tuple[float, float] | None = None
    ylim: tuple[float, float] | None = None

    @property
    def file_name(self) -> str:
        return f"plot_array_{safe_name(self.y)}_vs_{safe_name(self.x)}.png"


def parse_plot_spec(text: str) -> PlotSpec:
    """`x,y` or `x,y,xmin,xmax,ymin,ymax` (an empty limit stays automatic)."""
    parts = [part.strip() for part in text.split(",")]
    if len(parts) not in (2, 6) or not parts[0] or not parts[1]:
        raise AlfredError(
            f"--plot {text!r}: write x,y or x,y,xmin,xmax,ymin,ymax (e.g. epoch,eval_score)"
        )
    if len(parts) == 2:
        return PlotSpec(parts[0], parts[1])
    try:
        limits = [float(part) if part else None for part in parts[2:]]
    except ValueError:
        raise AlfredError(f"--plot {text!r}: the limits must be numbers") from None
    xlim = tuple(limits[:2]) if None not in limits[:2] else None
    ylim = tuple(limits[2:]) if None not in limits[2:] else None
    return PlotSpec(parts[0], parts[1], xlim, ylim)


@dataclass
class Layout:
    """Where each run goes: (row, column) in a grid of rows x columns."""

    rows: int
    columns: int
    cells: dict  # RunDir -> (row, column)


def grid_layout(data: SearchData) -> Layout | None:
    """Rows and columns by the grid's varied hyperparameters, seeds side by side."""
    try:
        variations = read_json(data.search.variations_path)
    except (OSError, ValueError):
        return None
    keys = [key for key, values in variations.items() if isinstance(values, list)]
    if not keys:
        return None
    seeds = sorted({run_data.seed for run_data in data.runs})
    sizes = [len(variations[key]) for key in keys]

    positions = {}
    for experiment in data.experiments():
        varied = data.varied(experiment)
        if set(varied) - set(keys):
            return None
        try:
            positions[experiment] = [
                _index_of(variations[key], varied[key]) if key in varied else 0
                for key in keys
            ]
        except ValueError:
            return None

    split = best_split(sizes, len(seeds))
    rows = math.prod(sizes[:split])
    columns = math.prod(sizes[split:]) * len(seeds)
    cells = {}
    for run_data in data.runs:
        index = positions[run_data.experiment]
        row = _mixed_radix(index[:split], sizes[:split])
        column = _mixed_radix(index[split:], sizes[split:]) * len(seeds)
        cells[run_data.run] = (row, column + seeds.index(run_data.seed))
    if len(set(cells.values())) != len(cells):
        return None  # two experiments share a cell: lay them out one by one
    return Layout(rows, columns, cells)


def _index_of(values: list, value) -> int:
    """Where a value stands among a key's variations (ValueError when absent)."""
    return values.index(value)


def _mixed_radix(digits: list[int], sizes: list[int]) -> int:
    number = 0
    for digit, size in zip(digits, sizes):
        number = number * size + digit
    return number


def best_split(sizes: list[int], n_seeds: int) -> int:
    """How many varied keys go to the rows, for a grid closest to wide."""

    def distance(split: int) -> float:
        rows = math.prod(sizes[:split])
        columns = math.prod(sizes[split:]) * n_seeds
        return abs(math.log(columns / rows / TARGET_RATIO))

    return min(range(len(sizes) + 1), key=distance)


def sequence_layout(data: SearchData) -> Layout:
    """Experiments one after the other, seeds side by side, wrapped into rows."""
    experiments = sorted(data.experiments())
    seeds = sorted({run_data.seed for run_data in data.runs}) or [0]
    n_seeds = len(seeds)

    def distance(per_row: int) -> float:
        rows = math.ceil(len(experiments) / per_row)
        return abs(math.log(per_row * n_seeds / rows / TARGET_RATIO))

    per_row = min(range(1, max(1, len(experiments)) + 1), key=distance)
    order = {experiment: index for index, experiment in enumerate(experiments)}
    cells = {}
    for run_data in data.runs:
        row, slot = divmod(order[run_data.experiment], per_row)
        cells[run_data.run] = (row, slot * n_seeds + seeds.index(run_data.seed))
    rows = max(1, math.ceil(len(experiments) / per_row))
    return Layout(rows, per_row * n_seeds, cells)


def seeds_layout(data: SearchData) -> Layout:
    """The seeds of a single experiment (a retrain), wrapped into rows."""
    count = len(data.runs)
    columns = max(1, min(count, round(math.sqrt(count * TARGET_RATIO))))
    cells = {
        run_data.run: divmod(index, columns)
        for index, run_data in enumerate(sorted(data.runs, key=lambda r: r.seed))
    }
    return Layout(math.ceil(count / columns), columns, cells)


def layout_of(data: SearchData) -> Layout:
    if len(data.experiments()) == 1:
        return seeds_layout(data)
    if data.search.info.search_type == "grid" or data.search.variations_path.exists():
        layout = grid_layout(data)
        if layout is not None:
            return layout
    return sequence_layout(data)


def figure_inches(layout: Layout) -> tuple[float, float]:
    return (
        layout.columns * CELL_WIDTH + MARGIN_WIDTH,
        layout.rows * CELL_HEIGHT + MARGIN_HEIGHT,
    )


def plot_array(data: SearchData, spec: PlotSpec, path: Path) -> Path:
    """Draw one plot array to `path`; returns the file written.

    Large arrays are drawn in two horizontal bands by two processes at once, then
    joined: the figure is the same, made in about half the time on two cores.
    """
    if len(data.runs) >= PARALLEL_FROM and can_fork():
        draw_in_bands(data, spec, path)
    else:
        save_figure(draw_plot_array(data, spec), path)
    return path


def prepare_array(data: SearchData, spec: PlotSpec):
    """The layout, each run's curve, and the limits shared by every subplot."""
    layout = layout_of(data)
    curves = {r.run: curve_of(r.tape, spec.x, spec.y) for r in data.runs}
    xlim = spec.xlim or _limits([xs for xs, _ in curves.values()], pad=0.0)
    ylim = spec.ylim or _limits(
        [ys for _, ys in curves.values()], pad=0.05, robust=True
    )
    return layout, curves, xlim, ylim


def draw_plot_array(
    data: SearchData, spec: PlotSpec, band: tuple[int, int] | None = None, prepared=None
):
    """The figure of one plot array (or of the rows `band` of it): one axes per run."""
    layout, curves, xlim, ylim = prepared or prepare_array(data, spec)
    width, height = figure_inches(layout)
    first, stop = band or (0, layout.rows)
    band_top = 0.0 if first == 0 else TOP_MARGIN + first * CELL_HEIGHT
    band_bottom = height if stop >= layout.rows else TOP_MARGIN + stop * CELL_HEIGHT
    band_height = band_bottom - band_top
    figure = new_figure(width, band_height, dpi=ARRAY_DPI)

    occupied = set(layout.cells.values())
    for run_data in data.runs:
        row, column = layout.cells[run_data.run]
        if not first <= row < stop:
            continue
        axes_bottom = TOP_MARGIN + (row + 0.86) * CELL_HEIGHT - band_top  # from the top
        ax = figure.add_axes(
            (
                (LEFT_MARGIN + (column + 0.12) * CELL_WIDTH) / width,
                1 - axes_bottom / band_height,
                0.84 * CELL_WIDTH / width,
                0.66 * CELL_HEIGHT / band_height,
            )
        )
        draw_cell(ax, data, run_data, curves[run_data.run], spec)
        ax.set_xlim(*xlim)
        ax.set_ylim(*ylim)
        # Axes are costly at hundreds of subplots: only the outer edges carry ticks.
        for axis, outer in (
            (ax.yaxis, column == 0),
            (ax.xaxis, (row + 1, column) not in occupied),
        ):
            if outer:
                axis.set_major_locator(MaxNLocator(3))
                axis.set_tick_params(labelsize=5, length=2, pad=1)
            else:
                axis.set_visible(False)

    if first == 0:
        counts = {}
        for run_data in data.runs:
            counts[run_data.state.value] = counts.get(run_data.state.value, 0) + 1
        summary = ", ".join(f"{n} {state}" for state, n in counts.items())
        figure.suptitle(
            f"{data.search.name}\n{spec.y} vs {spec.x}   ({summary})",
            fontsize=8,
            y=1 - 0.06 / band_height,
            va="top",
        )
    return figure


def can_fork() -> bool:
    """Forking is safe only from a process with one thread (not from the app)."""
    cores = os.cpu_count() or 1
    return cores > 1 and threading.active_count() == 1 and hasattr(os, "fork")


_BAND_JOB: tuple | None = None  # what forked band drawers inherit


def _draw_band(band: tuple[int, int]) -> np.ndarray:
    data, spec, prepared = _BAND_JOB
    figure = draw_plot_array(data, spec, band, prepared)
    figure.canvas.draw()
    return np.asarray(figure.canvas.buffer_rgba()).copy()


def draw_in_bands(data: SearchData, spec: PlotSpec, path: Path) -> None:
    global _BAND_JOB
    from PIL import Image

    prepared = prepare_array(data, spec)
    rows = prepared[0].rows
    bands = [(0, rows // 2), (rows // 2, rows)]
    _BAND_JOB = (data, spec, prepared)
    try:
        with multiprocessing.get_context("fork").Pool(len(bands)) as pool:
            pixels = np.concatenate(pool.map(_draw_band, bands), axis=0)
    finally:
        _BAND_JOB = None

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.png")
    Image.fromarray(pixels).save(tmp, dpi=(ARRAY_DPI, ARRAY_DPI))
    os.replace(tmp, path)


def draw_cell(ax, data: SearchData, run_data: RunData, curve, spec: PlotSpec) -> None:
    """One run: its curve, its varied values, and its state where it has no curve."""
    xs, ys = curve
    state = run_data.state
    color = STATE_COLORS.get(state.value, "#333333")
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.patch.set_edgecolor("#bbbbbb")  # one frame to draw instead of four spines
    ax.patch.set_linewidth(0.4)

    varied = data.varied(run_data.experiment)
    label = ", ".join(f"{k}={format_value(v)}" for k, v in varied.items())
    seed = run_data.seed
    label = f"{label} | s{seed}" if label else f"exp{run_data.experiment} s{seed}"
    lines = textwrap.wrap(label, 46)
    if len(lines) > 2:
        lines = [lines[0], lines[1][:43] + "..."]
    # A fixed y spares matplotlib from placing each title against its tick labels.
    ax.set_title("\n".join(lines), fontsize=5, pad=1.5, loc="left", y=1.0)

    if xs.size:
        ax.add_line(Line2D(xs, ys, linewidth=0.8, color=color))
        if state is not State.COMPLETED:
            word = NO_CURVE_WORDS.get(state, state.value)
            ax.text(
                0.98,
                0.04,
                word,
                transform=ax.transAxes,
                fontsize=5,
                color=color,
                ha="right",
                va="bottom",
                weight="bold",
            )
        return

    if run_data.tape and state not in (State.CRASH, State.KILLED):
        word = "ABSENT METRIC"
    elif state is State.COMPLETED:
        word = "ABSENT METRIC"
    else:
        word = NO_CURVE_WORDS.get(state, state.value)
    ax.text(
        0.5,
        0.5,
        word,
        transform=ax.transAxes,
        fontsize=7,
        color=color,
        ha="center",
        va="center",
        weight="bold",
    )


def _limits(arrays, pad: float, robust: bool = False) -> tuple[float, float]:
    """Limits shared by every subplot; robust ones drop the rarest 0.5% each side."""
    finite = [a[np.isfinite(a)] for a in arrays if a.size]
    finite = [a for a in finite if a.size]
    if not finite:
        return (0.0, 1.0)
    if robust:
        low, high = (
            float(v) for v in np.quantile(np.concatenate(finite), [0.005, 0.995])
        )
    else:
        low = float(min(a.min() for a in finite))
        high = float(max(a.max() for a in finite))
    if low == high:
        low, high = low - 0.5, high + 0.5
    margin = (high - low) * pad
    return (low - margin, high + margin)


def default_specs(search: Search | SearchData) -> list[PlotSpec]:
    defaults = metric_defaults(search)
    if not defaults["x_metric"] or not defaults["y_metric"]:
        return []
    return [PlotSpec(defaults["x_metric"], defaults["y_metric"])]


def make_plot_arrays(
    search: Search | SearchData, specs: list[PlotSpec] | None = None
) -> list[Path]:
    """One PNG per metric pair in `search/plots/`; each run's metrics are read once."""
    data = load_search(search)
    if not data.runs:
        raise AlfredError(f"{data.search.path}: has no runs to plot")
    specs = specs or default_specs(data)
    if not specs:
        raise AlfredError(
            f"{data.search.path}: no run has recorded metrics yet and no --plot x,y "
            "was given"
        )
    folder = data.search.path / PLOTS_DIR
    written = []
    for spec in specs:
        written.append(plot_array(data, spec, folder / spec.file_name))
        logger.info("wrote %s", written[-1])
    return written
