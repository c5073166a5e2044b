"""The numbers behind every figure, without drawing: curves, bands, scores, rankings.

Each run's metrics are read once per call (or once per `load_search`, which callers that
need several figures pass instead of the search). Nothing is cached on disk.
"""

from __future__ import annotations

import ast
import json
import logging
import math
import warnings
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from alfred_core.errors import AlfredError
from alfred_core.flags import State, run_status
from alfred_core.recorder import read_tape, stream_path
from alfred_core.results import AGGREGATES, ERROR_BARS
from alfred_core.tree import RunDir, Search, read_json

logger = logging.getLogger(__name__)

RESERVED = ("alg_name", "task_name", "seed", "desc")
SETTINGS_FILE = "alfred_settings.json"
BUILTIN_DEFAULTS = {
    "x_metric": None,
    "y_metric": None,
    "score_metric": None,
    "aggregate": "last",
    "budget_key": None,
    "error_bars": "ci95",
    "maximize": None,
}
X_CANDIDATES = ("epoch", "epochs", "step", "steps", "episode", "episodes", "iteration")
LOWER_IS_BETTER = ("loss", "error", "err", "regret", "cost", "mse", "mae", "perplexity")
PENDING = (State.UNHATCHED, State.RUNNING, State.LOST, State.NOFLAG)
FAILED = (State.CRASH, State.KILLED)
BOOTSTRAP_RESAMPLES = 1000
MAX_GRID_POINTS = 1000


def check_aggregate(aggregate: str) -> str:
    if aggregate not in AGGREGATES:
        raise AlfredError(
            f"--aggregate {aggregate!r}: use one of {', '.join(AGGREGATES)}"
        )
    return aggregate


def check_error_bars(error_bars: str) -> str:
    if error_bars not in ERROR_BARS:
        raise AlfredError(
            f"--error-bars {error_bars!r}: use one of {', '.join(ERROR_BARS)}"
        )
    return error_bars


def infer_maximize(metric: str) -> bool:
    """Higher is better unless the metric's name says loss, error, cost..."""
    name = metric.lower()
    return not any(word in name for word in LOWER_IS_BETTER)


# --- one run -------------------------------------------------------------------------


def column(tape: dict, metric: str) -> np.ndarray:
    """A metric's values as floats, None as NaN."""
    values = tape.get(metric) or []
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def recorded_values(tape: dict, metric: str) -> np.ndarray:
    """The values a run recorded for a metric, None skipped (NaN kept)."""
    values = [v for v in tape.get(metric) or () if v is not None and _is_number(v)]
    return np.array(values, dtype=float)


def curve_of(tape: dict, x: str, y: str) -> tuple[np.ndarray, np.ndarray]:
    """The (x, y) points where both are numbers (None and NaN skipped); empty when a
    metric is absent."""
    if y not in tape or x not in tape:
        return np.empty(0), np.empty(0)
    xs, ys = _floats(tape[x]), _floats(tape[y])
    size = min(xs.size, ys.size)
    xs, ys = xs[:size], ys[:size]
    kept = np.isfinite(xs) & ~np.isnan(ys)
    if kept.all():
        return xs, ys
    return xs[kept], ys[kept]


def _floats(values: list) -> np.ndarray:
    """Values as floats, NaN where a value is None or not a number."""
    try:
        floats = np.asarray(values, dtype=float)
        if floats.ndim == 1:
            return floats
    except (TypeError, ValueError):
        pass
    return np.array([v if _is_number(v) else np.nan for v in values], dtype=float)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def run_curve(run: RunDir, x: str, y: str) -> tuple[np.ndarray, np.ndarray]:
    """One run's curve of `y` against `x`, read from its metrics stream or pickle."""
    return curve_of(read_tape(run.path), x, y)


def aggregate_values(values: np.ndarray, aggregate: str) -> float:
    """One score from a run's values; NaN when there are none or a NaN is involved."""
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        return math.nan
    if aggregate == "min":
        return float(np.min(values))
    if aggregate == "max":
        return float(np.max(values))
    if aggregate == "mean":
        return float(np.mean(values))
    if aggregate == "last":
        return float(values[-1])
    if aggregate == "mean_last_20pct":
        tail = max(1, math.ceil(0.2 * values.size))
        return float(np.mean(values[-tail:]))
    raise AlfredError(f"--aggregate {aggregate!r}: use one of {', '.join(AGGREGATES)}")


# --- a search's runs, read once ------------------------------------------------------


@dataclass
class RunData:
    """One run with its state and its tape."""

    run: RunDir
    state: State
    tape: dict
    seed: int = field(init=False)
    experiment: int = field(init=False)

    def __post_init__(self):
        self.seed = self.run.seed
        self.experiment = self.run.experiment_num


@dataclass
class SearchData:
    """A search's runs, states and tapes, read once and shared by several figures."""

    search: Search
    runs: list[RunData]
    config_uniques: dict[int, dict] = field(default_factory=dict)
    _grouped: dict | None = field(default=None, repr=False)

    def experiments(self) -> dict[int, list[RunData]]:
        """The runs grouped by experiment number (computed once)."""
        if self._grouped is None:
            self._grouped = {}
            for data in self.runs:
                self._grouped.setdefault(data.experiment, []).append(data)
        return self._grouped

    def config_unique(self, experiment: int) -> dict:
        """The experiment's config_unique.json (its first readable seed's)."""
        if experiment not in self.config_uniques:
            found = {}
            for data in self.experiments().get(experiment, []):
                try:
                    found = data.run.read_config_unique()
                    break
                except (OSError, ValueError):
                    continue
            self.config_uniques[experiment] = found
        return self.config_uniques[experiment]

    def varied(self, experiment: int) -> dict:
        """The experiment's varying hyperparameters (alg, task and seed left out)."""
        unique = self.config_unique(experiment)
        return {k: v for k, v in unique.items() if k not in RESERVED}

    def label(self, experiment: int) -> str:
        varied = self.varied(experiment)
        if not varied:
            return f"experiment{experiment}"
        return ", ".join(
            f"{key}={format_value(value)}" for key, value in varied.items()
        )


def format_value(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def load_search(search: Search | SearchData) -> SearchData:
    """Every run's state and tape, each run read once."""
    if isinstance(search, SearchData):
        return search
    runs = []
    for run in search.runs():
        state = run_status(run).state
        tape = read_tape(run.path) if state is not State.UNHATCHED else {}
        runs.append(RunData(run, state, tape))
    return SearchData(search, runs)


# --- scores and ranking --------------------------------------------------------------


@dataclass
class ExperimentScore:
    """An experiment's score (mean over its seeds) with each seed's score."""

    experiment: int
    score: float
    config_unique: dict
    label: str
    seed_scores: dict[int, float]
    seed_states: dict[int, str]
    pending: list[int]
    reason: str = ""

    @property
    def is_nan(self) -> bool:
        return math.isnan(self.score)


def seed_score(data: RunData, metric: str, aggregate: str) -> float | None:
    """A run's score; None for a run that has not recorded anything yet."""
    values = recorded_values(data.tape, metric)
    if data.state in FAILED:
        return math.nan
    if values.size == 0:
        return None if data.state in PENDING else math.nan
    return aggregate_values(values, aggregate)


def score_experiments(
    search: Search | SearchData, score_metric: str, aggregate: str
) -> list[ExperimentScore]:
    """Each experiment's score, by experiment number.

    A crashed or killed seed, a completed seed without the metric, or a NaN value in
    the aggregated window makes the experiment's score NaN (reported, never ranked).
    Seeds that have recorded nothing yet are left out and listed as pending.
    """
    check_aggregate(aggregate)
    data = load_search(search)
    scores = []
    for experiment, runs in sorted(data.experiments().items()):
        seed_scores, states, pending = {}, {}, []
        for run_data in runs:
            states[run_data.seed] = run_data.state.value
            value = seed_score(run_data, score_metric, aggregate)
            if value is None:
                pending.append(run_data.seed)
            else:
                seed_scores[run_data.seed] = value
        score, reason = experiment_score(seed_scores, states)
        scores.append(
            ExperimentScore(
                experiment,
                score,
                data.config_unique(experiment),
                data.label(experiment),
                seed_scores,
                states,
                pending,
                reason,
            )
        )
    return scores


def experiment_score(seed_scores: dict[int, float], states: dict[int, str]):
    if not seed_scores:
        return math.nan, "no seed has recorded the metric yet"
    bad = [seed for seed, value in seed_scores.items() if math.isnan(value)]
    if bad:
        ended = (State.CRASH.value, State.KILLED.value)
        failed = [seed for seed in bad if states.get(seed) in ended]
        if failed:
            return math.nan, f"seed {', '.join(map(str, failed))} crashed or was killed"
        return math.nan, "seed " + ", ".join(map(str, bad)) + " has a NaN or no value"
    return float(np.mean(list(seed_scores.values()))), ""


def rank_experiments(
    search: Search | SearchData,
    score_metric: str,
    aggregate: str,
    maximize: bool | None = None,
) -> list[ExperimentScore]:
    """Experiments best first; those with a NaN score come last, by number."""
    if maximize is None:
        maximize = infer_maximize(score_metric)
    scores = score_experiments(search, score_metric, aggregate)
    finite = [s for s in scores if not s.is_nan]
    finite.sort(key=lambda s: (-s.score if maximize else s.score, s.experiment))
    return finite + [s for s in scores if s.is_nan]


# --- learning curves per experiment --------------------------------------------------


@dataclass
class ExperimentCurve:
    """An experiment's mean curve over its seeds, with a band (low, high)."""

    experiment: int
    label: str
    x: np.ndarray
    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray
    n_seeds: int


def experiment_curves(
    search: Search | SearchData, x: str, y: str, error_bars: str = "ci95"
) -> list[ExperimentCurve]:
    """Mean curve and band of each experiment that has data, by experiment number.

    Seeds of unequal length are averaged where they overlap (each point over the seeds
    that reached it); None values are skipped; NaN values are left out of the mean.
    """
    check_error_bars(error_bars)
    data = load_search(search)
    curves = []
    for experiment, runs in sorted(data.experiments().items()):
        seed_curves = [curve_of(run_data.tape, x, y) for run_data in runs]
        seed_curves = [(xs, ys) for xs, ys in seed_curves if xs.size]
        if not seed_curves:
            continue
        grid, matrix = align(seed_curves)
        mean, low, high = band(matrix, error_bars)
        curves.append(
            ExperimentCurve(
                experiment,
                data.label(experiment),
                grid,
                mean,
                low,
                high,
                len(seed_curves),
            )
        )
    return curves


def align(seed_curves: list[tuple[np.ndarray, np.ndarray]]):
    """A common x grid and a seeds x points matrix, NaN where a seed has no value."""
    first = seed_curves[0][0]
    same_x = all(
        xs.shape == first.shape and np.array_equal(xs, first) for xs, _ in seed_curves
    )
    if same_x:
        return first, np.vstack([ys for _, ys in seed_curves])

    grid = np.unique(np.concatenate([xs for xs, _ in seed_curves]))
    if grid.size > MAX_GRID_POINTS:
        grid = np.linspace(grid[0], grid[-1], MAX_GRID_POINTS // 2)
    matrix = np.full((len(seed_curves), grid.size), np.nan)
    for row, (xs, ys) in enumerate(seed_curves):
        finite = np.isfinite(ys)
        if not finite.any():
            continue
        xs, ys = xs[finite], ys[finite]
        order = np.argsort(xs, kind="stable")
        xs, ys = xs[order], ys[order]
        inside = (grid >= xs[0]) & (grid <= xs[-1])
        matrix[row, inside] = np.interp(grid[inside], xs, ys)
    return grid, matrix


def band(matrix: np.ndarray, error_bars: str):
    """Mean over seeds (rows) at each point, with the band the error bars ask for."""
    valid = np.isfinite(matrix)
    counts = valid.sum(axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)
        mean = np.nanmean(matrix, axis=0)
        if error_bars == "none":
            return mean, mean.copy(), mean.copy()
        if error_bars == "stderr":
            std = np.nanstd(matrix, axis=0, ddof=1)
            sem = np.where(counts > 1, std / np.sqrt(np.maximum(counts, 1)), 0.0)
            return mean, mean - sem, mean + sem
        if error_bars == "quantile10":
            return (
                mean,
                np.nanquantile(matrix, 0.1, axis=0),
                np.nanquantile(matrix, 0.9, axis=0),
            )
    return (mean, *bootstrap_band(matrix, valid, mean))


def bootstrap_band(matrix: np.ndarray, valid: np.ndarray, mean: np.ndarray):
    """95% percentile-bootstrap interval of the mean, per point, with scipy.

    Points are grouped by which seeds reached them, so each group is one vectorized
    bootstrap over complete columns.
    """
    from scipy.stats import bootstrap

    low, high = mean.copy(), mean.copy()
    groups: dict[bytes, list[int]] = {}
    for index in range(matrix.shape[1]):
        groups.setdefault(valid[:, index].tobytes(), []).append(index)

    for key, columns in groups.items():
        rows = np.frombuffer(key, dtype=bool)
        if rows.sum() < 2:
            continue
        sample = matrix[np.ix_(rows, columns)]
        spread = np.ptp(sample, axis=0)
        if not spread.any():
            continue  # identical seeds: the interval is the mean itself
        result = bootstrap(
            (sample,),
            np.mean,
            axis=0,
            vectorized=True,
            method="percentile",
            n_resamples=BOOTSTRAP_RESAMPLES,
            confidence_level=0.95,
            rng=np.random.default_rng(0),
        )
        interval = result.confidence_interval
        low[columns] = np.where(spread > 0, interval.low, mean[columns])
        high[columns] = np.where(spread > 0, interval.high, mean[columns])
    return low, high


# --- metric names and defaults -------------------------------------------------------


def recorded_metrics(runs) -> list[str]:
    """Metric names recorded by any of the runs, in the order first seen."""
    names: dict[str, None] = {}
    for run in runs:
        if isinstance(run, RunData):
            names.update(dict.fromkeys(run.tape))
            continue
        names.update(dict.fromkeys(first_row_metrics(run)))
    return list(names)


def first_row_metrics(run: RunDir) -> list[str]:
    """Metric names of a run, from the first line of its stream (or its pickle)."""
    path = stream_path(run.path)
    try:
        with open(path, "rb") as file:
            line = file.readline()
        if line.endswith(b"\n"):
            row = json.loads(line)
            if isinstance(row, dict):
                return list(row)
    except FileNotFoundError:
        pass
    except ValueError:
        logger.warning("%s: its first line is unreadable", path)
    if path.with_name("train_recorder.pkl").exists():
        return list(read_tape(run.path))
    return []


def project_settings(project_dir: Path | None) -> dict:
    """What the project's `set_up_alfred()` returns, then its alfred_settings.json."""
    if project_dir is None:
        return {}
    return dict(_project_settings(str(project_dir)))


@lru_cache(maxsize=32)
def _project_settings(project_dir: str) -> tuple:
    folder = Path(project_dir)
    settings = settings_from_main(folder / "main.py")
    extra = folder / SETTINGS_FILE
    if extra.is_file():
        settings.update(read_json_object(extra, "a JSON object of settings"))
    return tuple(settings.items())


def read_json_object(path: Path | str, what: str) -> dict:
    """A JSON file holding an object, or an AlfredError that names the file."""
    path = Path(path).expanduser()
    try:
        loaded = read_json(path)
    except OSError as error:
        raise AlfredError(f"{path}: cannot read it ({error.strerror})") from None
    except ValueError as error:
        raise AlfredError(f"{path}: is not valid JSON ({error})") from None
    if not isinstance(loaded, dict):
        raise AlfredError(f"{path}: write {what}")
    return loaded


def settings_from_main(main_file: Path) -> dict:
    """`set_up_alfred()`'s dict: read from source when a literal, else called."""
    try:
        tree = ast.parse(main_file.read_text(), filename=str(main_file))
    except (OSError, SyntaxError):
        return {}
    function = next(
        (
            node
            for node in tree.body
            if isinstance(node, ast.FunctionDef) and node.name == "set_up_alfred"
        ),
        None,
    )
    if function is None:
        return {}
    returns = [node for node in ast.walk(function) if isinstance(node, ast.Return)]
    if len(returns) == 1 and returns[0].value is not None:
        try:
            value = ast.literal_eval(returns[0].value)
            return dict(value) if isinstance(value, dict) else {}
        except ValueError:
            pass

    from alfred_core.project import load_project

    try:
        return dict(load_project(main_file.parent).settings)
    except AlfredError as error:
        logger.warning(
            "%s: set_up_alfred() unusable (%s); built-in defaults", main_file, error
        )
        return {}


def metric_defaults(search: Search | SearchData) -> dict:
    """x_metric, y_metric, score_metric, aggregate, budget_key, error_bars, maximize.

    The project's settings first, then built-in defaults: x is the first recorded
    metric named like epoch/step/episode (else the first recorded), y the first other
    one, the score metric is y, and higher is better unless its name says otherwise.
    """
    search_obj = search.search if isinstance(search, SearchData) else search
    defaults = dict(BUILTIN_DEFAULTS)
    settings = project_settings(search_obj.project_dir)
    defaults.update({k: v for k, v in settings.items() if k in BUILTIN_DEFAULTS})

    if not (defaults["x_metric"] and defaults["y_metric"] and defaults["score_metric"]):
        runs = search.runs if isinstance(search, SearchData) else search_obj.runs()
        names = recorded_metrics(_first_with_metrics(runs))
        x = defaults["x_metric"] or next(
            (n for n in X_CANDIDATES if n in names), names[0] if names else None
        )
        others = [n for n in names if n != x]
        defaults["x_metric"] = x
        defaults["y_metric"] = defaults["y_metric"] or (others[0] if others else None)
        defaults["score_metric"] = defaults["score_metric"] or defaults["y_metric"]
    if defaults["maximize"] is None and defaults["score_metric"]:
        defaults["maximize"] = infer_maximize(defaults["score_metric"])
    return defaults


def _first_with_metrics(runs) -> list:
    for run in runs:
        if recorded_metrics([run]):
            return [run]
    return []
