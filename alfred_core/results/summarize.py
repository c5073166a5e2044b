"""Summarize a search: learning curves, sorted scores, per-seed scores, best config."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from alfred_core.errors import AlfredError
from alfred_core.results.data import (
    PENDING,
    ExperimentScore,
    SearchData,
    check_aggregate,
    check_error_bars,
    experiment_curves,
    infer_maximize,
    load_search,
    metric_defaults,
    project_settings,
    rank_experiments,
)
from alfred_core.results.figures import new_figure, safe_name, save_figure, styled
from alfred_core.tree import Search, write_json_atomic

logger = logging.getLogger(__name__)

LABELLED = 10
BEST_CONFIG = "bestConfig.json"
BEST_INFO = "bestConfig_info.json"


@dataclass
class SummaryOptions:
    """The metrics a summary uses; unset ones come from the project, then built-ins."""

    x: str | None = None
    y: str | None = None
    score: str | None = None
    aggregate: str | None = None
    error_bars: str | None = None
    maximize: bool | None = None

    def resolved(self, data: SearchData) -> "SummaryOptions":
        defaults = metric_defaults(data)
        project_score = project_settings(data.search.project_dir).get("score_metric")
        y = self.y or defaults["y_metric"]
        options = SummaryOptions(
            x=self.x or defaults["x_metric"],
            y=y,
            score=self.score or project_score or y,
            aggregate=self.aggregate or defaults["aggregate"],
            error_bars=self.error_bars or defaults["error_bars"],
            maximize=self.maximize,
        )
        if not options.x or not options.y:
            raise AlfredError(
                f"{data.search.path}: no run has recorded metrics yet; pass --x and --y "
                "or wait for runs to record"
            )
        if options.maximize is None:
            same = options.score == defaults["score_metric"]
            options.maximize = (
                defaults["maximize"] if same else infer_maximize(options.score)
            )
        check_aggregate(options.aggregate)
        check_error_bars(options.error_bars)
        return options


@dataclass
class Summary:
    """What a summary found and wrote."""

    search: Search
    options: SummaryOptions
    ranking: list[ExperimentScore]
    files: list[Path] = field(default_factory=list)
    complete: bool = True

    @property
    def best(self) -> ExperimentScore | None:
        if self.ranking and not self.ranking[0].is_nan:
            return self.ranking[0]
        return None

    def describe(self) -> str:
        lines = [f"{self.search.name}: {self.options.score} ({self.options.aggregate})"]
        if not self.complete:
            lines.append("  some runs are not finished: this summary is partial")
        if self.best is None:
            lines.append("  no experiment has a score yet")
        else:
            best = self.best
            lines.append(
                f"  best: experiment{best.experiment} ({best.label}) "
                f"score {best.score:.4g} over {len(best.seed_scores)} seeds"
            )
        nan = [s for s in self.ranking if s.is_nan]
        if nan:
            lines.append(
                f"  not ranked ({len(nan)} with a NaN score): "
                + "; ".join(f"experiment{s.experiment}: {s.reason}" for s in nan[:5])
                + ("; ..." if len(nan) > 5 else "")
            )
        lines.append(f"  wrote {len(self.files)} files in {self.search.summary_dir}")
        return "\n".join(lines)


def summarize(search: Search | SearchData, options: SummaryOptions | None = None):
    """Write the summary of one search to its `summary/` folder."""
    data = load_search(search)
    if not data.runs:
        raise AlfredError(f"{data.search.path}: has no runs to summarize")
    options = (options or SummaryOptions()).resolved(data)
    ranking = rank_experiments(data, options.score, options.aggregate, options.maximize)
    complete = not any(run_data.state in PENDING for run_data in data.runs)
    summary = Summary(data.search, options, ranking, complete=complete)

    folder = data.search.summary_dir
    folder.mkdir(parents=True, exist_ok=True)
    summary.files.append(plot_learning_curves(data, options, ranking, folder))
    summary.files.append(plot_performance(data, options, ranking, folder))
    summary.files.append(write_scores(data, options, ranking, complete, folder))
    summary.files.extend(write_best_config(data, options, summary.best, folder))
    logger.info("summarized %s", data.search.name)
    return summary


def plot_learning_curves(
    data: SearchData, options: SummaryOptions, ranking, folder: Path
):
    """Mean curve of every experiment with its band; the 10 best labelled."""
    import seaborn

    best = [s.experiment for s in ranking if not s.is_nan][:LABELLED]
    curves = {
        c.experiment: c for c in experiment_curves(data, options.x, options.y, "none")
    }
    best = [number for number in best if number in curves]
    # Bands only for the curves drawn with one: the bootstrap is the costly part.
    best_runs = SearchData(
        data.search, [r for r in data.runs if r.experiment in best], data.config_uniques
    )
    curves.update(
        (c.experiment, c)
        for c in experiment_curves(best_runs, options.x, options.y, options.error_bars)
    )
    palette = seaborn.color_palette("tab10", LABELLED)
    path = (
        folder / f"learning_curves_{safe_name(options.y)}_vs_{safe_name(options.x)}.png"
    )

    with styled():
        figure = new_figure(9.5, 5.2)
        ax = figure.add_axes((0.08, 0.11, 0.56, 0.8))
        for number, curve in curves.items():
            if number in best:
                continue
            ax.plot(curve.x, curve.mean, color="#9a9a9a", linewidth=0.6, alpha=0.6)
        for rank, number in reversed(list(enumerate(best))):
            curve = curves[number]
            color = palette[rank]
            score = next(s.score for s in ranking if s.experiment == number)
            ax.plot(
                curve.x,
                curve.mean,
                color=color,
                linewidth=1.4,
                label=f"{rank + 1}. exp{number}: {curve.label} ({score:.3g})",
            )
            if options.error_bars != "none":
                ax.fill_between(
                    curve.x, curve.low, curve.high, color=color, alpha=0.18, linewidth=0
                )
        handles, labels = ax.get_legend_handles_labels()
        if handles:
            ax.legend(
                handles[::-1],
                labels[::-1],
                loc="upper left",
                bbox_to_anchor=(1.02, 1.0),
                fontsize=6.5,
                frameon=False,
                title=f"best {len(best)} by {options.score} ({options.aggregate})",
                title_fontsize=7,
            )
        if not curves:
            ax.text(
                0.5,
                0.5,
                f"no run has recorded {options.y} against {options.x}",
                transform=ax.transAxes,
                ha="center",
            )
        ax.set_xlabel(options.x)
        ax.set_ylabel(options.y)
        band = {
            "ci95": "95% bootstrap CI",
            "stderr": "standard error",
            "quantile10": "10-90% quantiles",
            "none": "no band",
        }[options.error_bars]
        ax.set_title(f"{data.search.name}\nmean over seeds, {band}", fontsize=8)
        save_figure(figure, path)
    return path


def plot_performance(data: SearchData, options: SummaryOptions, ranking, folder: Path):
    """Experiments sorted by score (best on top), each seed's score as a dot."""
    path = folder / f"performance_{safe_name(options.score)}_{options.aggregate}.png"
    ranked = [s for s in ranking if not s.is_nan]
    unranked = [s for s in ranking if s.is_nan]
    height = 1.4 + 0.2 * max(len(ranked), 1) + (0.4 if unranked else 0)

    with styled():
        figure = new_figure(8.5, height)
        bottom = (0.5 + (0.4 if unranked else 0)) / height
        ax = figure.add_axes((0.42, bottom, 0.54, 1 - bottom - 0.55 / height))
        positions = np.arange(len(ranked))[::-1]
        scores = np.array([s.score for s in ranked])
        seeds = [
            [v for v in s.seed_scores.values() if math.isfinite(v)] for s in ranked
        ]
        values = (
            np.concatenate([scores, *map(np.array, seeds)]) if ranked else np.zeros(1)
        )
        margin = 0.05 * (np.ptp(values) or abs(values[0]) or 1.0)
        base = values.min() - margin
        ax.barh(positions, scores - base, left=base, color="#4c72b0", height=0.7)
        dots_x = [value for seed_values in seeds for value in seed_values]
        dots_y = [p for p, seed_values in zip(positions, seeds) for _ in seed_values]
        ax.plot(dots_x, dots_y, "o", color="black", markersize=2)
        ax.set_yticks(positions)
        ax.set_yticklabels(
            [f"exp{s.experiment}: {s.label}" for s in ranked], fontsize=6
        )
        ax.set_xlim(base, values.max() + margin)
        ax.set_xlabel(f"{options.score} ({options.aggregate}), mean over seeds")
        direction = "higher" if options.maximize else "lower"
        ax.set_title(f"{data.search.name}\n{direction} is better", fontsize=8)
        if unranked:
            names = ", ".join(f"exp{s.experiment}" for s in unranked[:12])
            more = f" and {len(unranked) - 12} more" if len(unranked) > 12 else ""
            figure.text(
                0.02,
                0.1 / height,
                f"NaN score, not ranked: {names}{more}",
                fontsize=6,
                color="#b22222",
            )
        save_figure(figure, path)
    return path


def _number(value: float):
    return value if math.isfinite(value) else None


def write_scores(
    data: SearchData, options: SummaryOptions, ranking, complete: bool, folder: Path
) -> Path:
    """Per-seed scores of every experiment as JSON (NaN written as null)."""
    counts: dict[str, int] = {}
    for run_data in data.runs:
        counts[run_data.state.value] = counts.get(run_data.state.value, 0) + 1
    document = {
        "search": data.search.name,
        "made": time.time(),
        "score_metric": options.score,
        "aggregate": options.aggregate,
        "maximize": options.maximize,
        "x_metric": options.x,
        "y_metric": options.y,
        "complete": complete,
        "counts": counts,
        "best_experiment": next((s.experiment for s in ranking if not s.is_nan), None),
        "nan_experiments": [s.experiment for s in ranking if s.is_nan],
        "ranking": [
            {
                "rank": index + 1 if not entry.is_nan else None,
                "experiment": entry.experiment,
                "score": _number(entry.score),
                "label": entry.label,
                "config_unique": entry.config_unique,
                "seed_scores": {
                    str(k): _number(v) for k, v in entry.seed_scores.items()
                },
                "seed_states": {str(k): v for k, v in entry.seed_states.items()},
                "pending_seeds": entry.pending,
                "reason": entry.reason,
            }
            for index, entry in enumerate(ranking)
        ],
    }
    path = folder / f"scores_{safe_name(options.score)}_{options.aggregate}.json"
    write_json_atomic(path, document)
    return path


def write_best_config(
    data: SearchData,
    options: SummaryOptions,
    best: ExperimentScore | None,
    folder: Path,
) -> list[Path]:
    """bestConfig.json (the best experiment's config, without seed) and its record."""
    stale = [folder / BEST_CONFIG, folder / BEST_INFO]
    if best is None:
        for path in stale:
            path.unlink(missing_ok=True)
        return []
    runs = [r for r in data.runs if r.experiment == best.experiment]
    config = {}
    for run_data in runs:
        try:
            config = run_data.run.read_config()
            break
        except (OSError, ValueError):
            continue
    config.pop("seed", None)
    info = {
        "search": data.search.name,
        "experiment": best.experiment,
        "experiment_dir": f"experiment{best.experiment}",
        "score": best.score,
        "score_metric": options.score,
        "aggregate": options.aggregate,
        "maximize": options.maximize,
        "seeds": sorted(best.seed_scores),
        "varied": {
            k: v
            for k, v in best.config_unique.items()
            if k not in ("alg_name", "task_name", "seed")
        },
    }
    write_json_atomic(folder / BEST_CONFIG, config)
    write_json_atomic(folder / BEST_INFO, info)
    return stale
