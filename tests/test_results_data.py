"""The numbers behind the figures: scores, bands, rankings, metrics and defaults."""

import math

import numpy as np
import pytest

from alfred_core import flags
from alfred_core.errors import AlfredError
from alfred_core.results import data
from alfred_core.results.synthetic import set_state, write_rows, write_search


def rows(values, x="step", y="score"):
    return [{x: index, y: value} for index, value in enumerate(values)]


@pytest.mark.parametrize(
    "aggregate, expected",
    [
        ("min", 1.0),
        ("max", 9.0),
        ("mean", 4.9),
        ("last", 2.0),
        ("mean_last_20pct", 2.5),  # the last 2 of 10 values
    ],
)
def test_scores_under_each_aggregation(aggregate, expected):
    values = np.array([4, 9, 5, 1, 7, 6, 8, 4, 3, 2], dtype=float)
    assert data.aggregate_values(values, aggregate) == pytest.approx(expected)


def test_mean_last_20pct_keeps_at_least_one_value_and_empty_is_nan():
    assert data.aggregate_values(np.array([1.0, 2.0, 7.0]), "mean_last_20pct") == 7.0
    assert math.isnan(data.aggregate_values(np.array([]), "mean"))
    with pytest.raises(AlfredError):
        data.check_aggregate("median")


def test_curve_skips_none_and_absent_metrics_give_no_curve():
    tape = {"step": [0, 1, 2, None], "score": [1.0, None, 3.0, 4.0]}
    xs, ys = data.curve_of(tape, "step", "score")
    assert xs.tolist() == [0, 2] and ys.tolist() == [1.0, 3.0]
    assert data.curve_of(tape, "step", "absent")[0].size == 0


def make_search(tmp_path, curves, states=None, seeds=(1, 2)):
    """A grid of one key `lr` with one experiment per entry of `curves`."""
    experiments = [{"lr": value} for value in range(1, len(curves) + 1)]
    search = write_search(
        tmp_path,
        "Xx1_nogit_alg_task_grid_t",
        experiments,
        list(seeds),
        {"lr": [e["lr"] for e in experiments]},
    )
    for run in search.runs():
        seed_curves = curves[run.experiment_num - 1]
        values = seed_curves[seeds.index(run.seed)]
        if values is not None:
            write_rows(run, rows(values))
        state = (states or {}).get((run.experiment_num, run.seed), flags.COMPLETED)
        set_state(run, state)
    return search


def test_identical_seeds_have_a_band_of_zero_width(tmp_path):
    identical, mirrored = [[0.1, 0.5, 0.9]] * 2, [[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]]
    search = make_search(tmp_path, [identical, mirrored])
    curves = data.experiment_curves(search, "step", "score", "ci95")

    same, different = curves
    assert same.n_seeds == 2 and np.array_equal(same.low, same.high)
    assert np.allclose(same.mean, [0.1, 0.5, 0.9]) and np.array_equal(
        same.low, same.mean
    )
    assert np.allclose(different.mean, [2.0, 2.0, 2.0])
    assert different.low.tolist() == [1.0, 2.0, 1.0]  # two seeds: resamples reach both
    assert different.high.tolist() == [3.0, 2.0, 3.0]
    assert same.label == "lr=1" and different.experiment == 2


def test_stderr_and_quantile_bands(tmp_path):
    search = make_search(tmp_path, [[[0.0, 0.0], [2.0, 4.0]]])
    (curve,) = data.experiment_curves(search, "step", "score", "stderr")
    assert np.allclose(curve.mean, [1.0, 2.0])
    assert np.allclose(curve.high - curve.mean, [1.0, 2.0])  # std/sqrt(2) with ddof=1
    (curve,) = data.experiment_curves(search, "step", "score", "quantile10")
    assert np.allclose(curve.low, [0.2, 0.4]) and np.allclose(curve.high, [1.8, 3.6])
    (curve,) = data.experiment_curves(search, "step", "score", "none")
    assert np.array_equal(curve.low, curve.mean)


def test_seeds_of_unequal_length_are_averaged_where_they_reach(tmp_path):
    search = make_search(
        tmp_path, [[[1.0, 1.0, 1.0, 1.0], [3.0, 3.0]]], states={(1, 2): flags.OPENED}
    )
    (curve,) = data.experiment_curves(search, "step", "score", "ci95")

    assert curve.x.tolist() == [0, 1, 2, 3]
    assert curve.mean.tolist() == [2.0, 2.0, 1.0, 1.0]
    assert np.all(curve.low[2:] == 1.0) and np.all(curve.high[2:] == 1.0)
    assert np.all(curve.low[:2] < 2.0)


def test_ranking_puts_nan_scores_last_and_says_why(tmp_path):
    curves = [
        [[0.1, 0.2], [0.1, 0.4]],  # exp1: 0.3
        [[0.5, 0.9], [0.5, 0.7]],  # exp2: 0.8, the best
        [[0.5, float("nan")], [0.5, 0.9]],  # exp3: NaN value
        [[0.9, 0.9], [0.9, 0.9]],  # exp4: crashed seed
        [[0.2, 0.6], None],  # exp5: seed 2 not started: 0.6
    ]
    search = make_search(
        tmp_path, curves, states={(4, 2): flags.CRASH, (5, 2): flags.UNHATCHED}
    )
    ranking = data.rank_experiments(search, "score", "last")

    assert [s.experiment for s in ranking] == [2, 5, 1, 3, 4]
    assert ranking[0].score == pytest.approx(0.8)
    assert ranking[0].config_unique["lr"] == 2
    assert ranking[1].pending == [2] and ranking[1].seed_scores == {1: 0.6}
    assert math.isnan(ranking[3].score) and "NaN" in ranking[3].reason
    assert math.isnan(ranking[4].score) and "crashed" in ranking[4].reason

    lowest_first = data.rank_experiments(search, "score", "last", maximize=False)
    assert [s.experiment for s in lowest_first][:3] == [1, 5, 2]


def test_completed_run_without_the_metric_scores_nan(tmp_path):
    search = make_search(tmp_path, [[[0.1], [0.2]]])
    (score,) = data.rank_experiments(search, "other_metric", "last")
    assert math.isnan(score.score)


def test_recorded_metrics_and_defaults_from_the_runs(tmp_path):
    search = make_search(tmp_path, [[[0.1], None]], states={(1, 2): flags.UNHATCHED})
    assert data.recorded_metrics(search.runs()) == ["step", "score"]

    defaults = data.metric_defaults(search)
    assert defaults["x_metric"] == "step" and defaults["y_metric"] == "score"
    assert defaults["score_metric"] == "score" and defaults["aggregate"] == "last"
    assert defaults["maximize"] is True
    assert data.infer_maximize("eval_loss") is False


def test_defaults_come_from_the_project_first(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "main.py").write_text(
        "def set_up_alfred():\n"
        "    return {'x_metric': 'epoch', 'y_metric': 'loss', 'aggregate': 'min',\n"
        "            'budget_key': 'max_epochs', 'root': 'elsewhere'}\n"
    )
    experiments = [{"lr": 1}]
    search = write_search(
        tmp_path / "root",
        "Xx1_nogit_alg_task_grid_t",
        experiments,
        [1],
        {"lr": [1]},
        project_dir=project,
    )
    defaults = data.metric_defaults(search)

    assert defaults["x_metric"] == "epoch" and defaults["y_metric"] == "loss"
    assert defaults["score_metric"] == "loss" and defaults["maximize"] is False
    assert defaults["aggregate"] == "min" and defaults["budget_key"] == "max_epochs"
    assert "root" not in defaults
