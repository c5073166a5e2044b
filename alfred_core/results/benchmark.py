"""Benchmarks across searches: compare models (curves, normalised bars) and searches."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from alfred_core.errors import AlfredError
from alfred_core.results.data import (
    SearchData,
    experiment_curves,
    load_search,
    rank_experiments,
    read_json_object,
)
from alfred_core.results.figures import new_figure, save_figure, styled, write_sources
from alfred_core.results.summarize import SummaryOptions
from alfred_core.tree import Search

logger = logging.getLogger(__name__)

MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


def read_visuals(path: Path | str | None) -> dict:
    """Visuals: storage or alg name -> {label, color, marker}."""
    if path is None:
        return {}
    return read_json_object(path, "a JSON object of name -> {label, color, marker}")


def read_hlines(path: Path | str | None) -> dict:
    """Reference lines: task -> {label: y value}."""
    if path is None:
        return {}
    hlines = read_json_object(path, "a JSON object of task -> {label: number}")
    for task, lines in hlines.items():
        if not isinstance(lines, dict) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool)
            for v in lines.values()
        ):
            raise AlfredError(f"{path}: write {task!r} as {{label: number}}")
    return hlines


@dataclass
class Entry:
    """One search in a benchmark: its best experiment and how to draw it."""

    search: Search
    options: SummaryOptions
    experiment: int | None
    score: float
    experiment_scores: list[float]
    n_nan: int
    curve: object | None
    label: str
    color: object
    marker: str


def collect(
    searches: list[Search], options: SummaryOptions, visuals: dict
) -> list[Entry]:
    """Read each search once: its ranking and the curve of its best experiment."""
    import seaborn

    styles = [
        visuals.get(s.name) or visuals.get(s.info.alg_name) or {} for s in searches
    ]
    labels = [
        style.get("label") or search.info.alg_name or search.name
        for style, search in zip(styles, searches)
    ]
    distinct = list(dict.fromkeys(labels))
    palette = seaborn.color_palette("colorblind", max(len(distinct), 1))
    entries = []
    for search, style, label in zip(searches, styles, labels):
        index = distinct.index(label)
        data = load_search(search)
        resolved = options.resolved(data)
        ranking = rank_experiments(
            data, resolved.score, resolved.aggregate, resolved.maximize
        )
        finite = [s for s in ranking if not s.is_nan]
        best = finite[0] if finite else None
        curve = None
        if best is not None:
            only_best = SearchData(
                search, [r for r in data.runs if r.experiment == best.experiment]
            )
            curves = experiment_curves(
                only_best, resolved.x, resolved.y, resolved.error_bars
            )
            curve = curves[0] if curves else None
        entries.append(
            Entry(
                search,
                resolved,
                best.experiment if best else None,
                best.score if best else math.nan,
                [s.score for s in finite],
                len(ranking) - len(finite),
                curve,
                label,
                style.get("color") or palette[index],
                style.get("marker") or MARKERS[index % len(MARKERS)],
            )
        )
    return entries


def sources_of(entries: list[Entry], kind: str) -> dict:
    return {
        "kind": kind,
        "made": time.time(),
        "searches": [
            {
                "search": e.search.name,
                "path": str(e.search.path),
                "label": e.label,
                "task": e.search.info.task_name,
                "best_experiment": e.experiment,
                "score": e.score if math.isfinite(e.score) else None,
                "score_metric": e.options.score,
                "aggregate": e.options.aggregate,
                "x_metric": e.options.x,
                "y_metric": e.options.y,
                "error_bars": e.options.error_bars,
                "nan_experiments": e.n_nan,
            }
            for e in entries
        ],
    }


def compare_models(
    searches: list[Search],
    out_dir: Path,
    options: SummaryOptions,
    visuals: dict | None = None,
    hlines: dict | None = None,
) -> list[Path]:
    """Curves of each search's best experiment per task, and normalised bars."""
    entries = collect(searches, options, visuals or {})
    tasks: dict[str, list[Entry]] = {}
    for entry in entries:
        tasks.setdefault(entry.search.info.task_name, []).append(entry)
    written = []

    with styled():
        figure = new_figure(4.4 * len(tasks) + 0.4, 3.8)
        width = (1 - 0.02) / len(tasks)
        for index, (task, group) in enumerate(tasks.items()):
            ax = figure.add_axes(
                (0.02 + (index + 0.14) * width, 0.14, width * 0.82, 0.74)
            )
            for entry in group:
                if entry.curve is None:
                    continue
                curve = entry.curve
                every = max(1, curve.x.size // 8)
                ax.plot(
                    curve.x,
                    curve.mean,
                    color=entry.color,
                    marker=entry.marker,
                    markevery=every,
                    markersize=4,
                    linewidth=1.3,
                    label=f"{entry.label} (exp{entry.experiment}, "
                    f"{curve.n_seeds} seeds)",
                )
                ax.fill_between(
                    curve.x,
                    curve.low,
                    curve.high,
                    color=entry.color,
                    alpha=0.2,
                    linewidth=0,
                )
            for label, value in ((hlines or {}).get(task) or {}).items():
                ax.axhline(float(value), color="black", linestyle="--", linewidth=0.8)
                ax.annotate(
                    label,
                    (0.01, float(value)),
                    xycoords=("axes fraction", "data"),
                    fontsize=6,
                    va="bottom",
                )
            if ax.get_legend_handles_labels()[0]:
                ax.legend(loc="lower right", fontsize=6, frameon=True)
            ax.set_title(task, fontsize=9)
            ax.set_xlabel(group[0].options.x)
            if index == 0:
                ax.set_ylabel(group[0].options.y)
        path = out_dir / "compare_models_curves.png"
        written += save_figure(figure, path, pdf=True)
        written.append(
            write_sources(path, sources_of(entries, "compare-models curves"))
        )

        figure = new_figure(max(5.0, 1.6 * len(tasks) + 3.0), 3.8)
        ax = figure.add_axes((0.1, 0.16, 0.62, 0.72))
        seen = []
        bar = 0.8 / max(len(group) for group in tasks.values())
        for task_index, (task, group) in enumerate(tasks.items()):
            reference = group[0].score
            for rank, entry in enumerate(group):
                ratio = entry.score / reference if reference else math.nan
                label = entry.label if entry.label not in seen else None
                seen.append(entry.label)
                ax.bar(
                    task_index + (rank - (len(group) - 1) / 2) * bar,
                    ratio if math.isfinite(ratio) else 0,
                    width=bar * 0.9,
                    color=entry.color,
                    label=label,
                    edgecolor="black",
                    linewidth=0.4,
                )
        ax.axhline(1.0, color="black", linewidth=0.6)
        ax.set_xticks(range(len(tasks)))
        ax.set_xticklabels(list(tasks), fontsize=8)
        ax.set_ylabel("score / first search's score")
        ax.set_title(
            "best experiment per search, normalised to the first of each task",
            fontsize=8,
        )
        ax.legend(
            loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=6.5, frameon=False
        )
        path = out_dir / "compare_models_bars.png"
        written += save_figure(figure, path, pdf=True)
        written.append(write_sources(path, sources_of(entries, "compare-models bars")))
    return written


def compare_searches(
    searches: list[Search],
    out_dir: Path,
    options: SummaryOptions,
    visuals: dict | None = None,
) -> list[Path]:
    """Box plots of the experiment scores of each search."""
    entries = collect(searches, options, visuals or {})
    with styled():
        figure = new_figure(max(5.0, 1.2 * len(entries) + 2.0), 4.2)
        ax = figure.add_axes((0.12, 0.25, 0.84, 0.64))
        data = [np.array(e.experiment_scores) for e in entries]
        shown = [d if d.size else np.array([np.nan]) for d in data]
        boxes = ax.boxplot(shown, patch_artist=True, widths=0.6, showfliers=False)
        for patch, entry in zip(boxes["boxes"], entries):
            patch.set_facecolor(entry.color)
            patch.set_alpha(0.6)
        for index, (values, entry) in enumerate(zip(data, entries), start=1):
            jitter = np.linspace(-0.12, 0.12, values.size) if values.size > 1 else [0]
            ax.plot(
                index + np.asarray(jitter),
                values,
                entry.marker,
                color="black",
                markersize=2.5,
                alpha=0.7,
            )
        ax.set_xticks(range(1, len(entries) + 1))
        ax.set_xticklabels(
            [
                f"{e.label}\n{e.search.info.task_name}"
                + (f"\n{e.n_nan} NaN" if e.n_nan else "")
                for e in entries
            ],
            fontsize=7,
        )
        metric = entries[0].options if entries else options
        ax.set_ylabel(f"{metric.score} ({metric.aggregate})")
        ax.set_title("experiment scores per search", fontsize=9)
        path = out_dir / "compare_searches.png"
        written = save_figure(figure, path, pdf=True)
        written.append(write_sources(path, sources_of(entries, "compare-searches")))
    return written
