"""Plot arrays: one subplot per run, laid out by the grid, every state drawn."""

import json
import time

import matplotlib.image
import pytest

from alfred_core import flags
from alfred_core.errors import AlfredError
from alfred_core.results.data import load_search
from alfred_core.results.plot_arrays import (
    ARRAY_DPI,
    CELL_HEIGHT,
    CELL_WIDTH,
    MARGIN_HEIGHT,
    MARGIN_WIDTH,
    PlotSpec,
    draw_in_bands,
    draw_plot_array,
    make_plot_arrays,
    parse_plot_spec,
)
from alfred_core.results.figures import save_figure
from alfred_core.results.synthetic import (
    grid_experiments,
    set_state,
    write_rows,
    write_search,
)
from alfred_core.tree import Search
from conftest import alfred_inline

CURVE = [{"step": step, "score": step * 0.1} for step in range(20)]
OTHER_METRIC = [{"step": step, "loss": 1.0} for step in range(20)]


def expected_pixels(rows: int, columns: int) -> tuple[int, int]:
    return (
        round((columns * CELL_WIDTH + MARGIN_WIDTH) * ARRAY_DPI),
        round((rows * CELL_HEIGHT + MARGIN_HEIGHT) * ARRAY_DPI),
    )


def texts_of(figure) -> set[str]:
    return {text.get_text() for ax in figure.axes for text in ax.texts}


@pytest.fixture
def every_state(tmp_path) -> Search:
    """lr x units = 3 x 2 experiments, 2 seeds: 12 runs in every state there is."""
    variations = {"lr": [0.1, 0.2, 0.3], "units": [4, 8]}
    search = write_search(
        tmp_path,
        "Xx1_nogit_alg_task_grid_t",
        grid_experiments(variations),
        [1, 2],
        variations,
    )
    runs = search.runs()
    dead_owner = {"owner": {"host": flags.HOST, "pid": 2**22 + 7}, "started": 0.0}
    plan = [
        (flags.COMPLETED, CURVE),
        (flags.COMPLETED, CURVE),
        (flags.COMPLETED, OTHER_METRIC),
        (flags.UNHATCHED, None),
        (flags.OPENED, None),
        (flags.OPENED, CURVE[:5]),
        (flags.CRASH, None),
        (flags.CRASH, CURVE[:3]),
        (flags.KILLED, None),
        (flags.OPENED, None),
        (flags.COMPLETED, CURVE),
        (flags.COMPLETED, CURVE),
    ]
    for index, (run, (flag, rows)) in enumerate(zip(runs, plan)):
        if rows is not None:
            write_rows(run, rows)
        set_state(run, flag, dead_owner if index == 9 else None)
    return search


def test_every_state_is_drawn_in_a_subplot_of_its_own(every_state):
    data = load_search(every_state)
    figure = draw_plot_array(data, PlotSpec("step", "score"))

    assert len(figure.axes) == 12
    words = {"UNHATCHED", "RUNNING", "CRASHED", "KILLED", "ABSENT METRIC", "LOST"}
    assert words <= texts_of(figure)
    titles = [ax.get_title(loc="left") for ax in figure.axes]
    assert "lr=0.1, units=4 | s1" in titles and "lr=0.3, units=8 | s2" in titles
    assert sum(bool(ax.lines) for ax in figure.axes) == 6  # 4 full curves, 2 partial


def test_png_has_the_size_of_the_grid_layout(every_state):
    (path,) = make_plot_arrays(every_state, [PlotSpec("step", "score")])

    assert path == every_state.path / "plots" / "plot_array_score_vs_step.png"
    height, width = matplotlib.image.imread(path).shape[:2]
    # 3 lr values as rows; 2 units x 2 seeds as columns
    assert (width, height) == expected_pixels(3, 4)


def test_the_grid_puts_each_run_at_its_hyperparameters(every_state):
    figure = draw_plot_array(load_search(every_state), PlotSpec("step", "score"))
    by_title = {ax.get_title(loc="left"): ax.get_position() for ax in figure.axes}

    first, right = by_title["lr=0.1, units=4 | s1"], by_title["lr=0.1, units=4 | s2"]
    below = by_title["lr=0.2, units=4 | s1"]
    assert right.x0 > first.x0 and right.y0 == pytest.approx(first.y0)
    assert below.y0 < first.y0 and below.x0 == pytest.approx(first.x0)


def test_two_hundred_subplots_of_a_random_search(tmp_path):
    experiments = [
        {"lr": round(0.001 * n, 4), "units": 4 * (n % 5 + 1)} for n in range(1, 101)
    ]
    search = write_search(
        tmp_path,
        "Xx1_nogit_alg_task_random_t",
        experiments,
        [1, 2],
        search_type="random",
    )
    for run in search.runs():
        write_rows(run, CURVE)
        set_state(run, flags.COMPLETED)

    started = time.monotonic()
    figure = draw_plot_array(load_search(search), PlotSpec("step", "score"))
    path = tmp_path / "array.png"
    save_figure(figure, path)
    elapsed = time.monotonic() - started

    assert len(figure.axes) == 200
    columns = max(round(ax.get_position().x0, 4) for ax in figure.axes)
    assert columns > 0.5  # several experiments per row, not one tall column
    rows = len({round(ax.get_position().y0, 4) for ax in figure.axes})
    cols = len({round(ax.get_position().x0, 4) for ax in figure.axes})
    assert rows * cols >= 200 and 1 <= cols / rows <= 4
    height, width = matplotlib.image.imread(path).shape[:2]
    assert (width, height) == expected_pixels(rows, cols)
    assert elapsed < 30


def test_plot_specs_with_limits_and_bad_ones():
    assert parse_plot_spec("epoch,loss") == PlotSpec("epoch", "loss")
    spec = parse_plot_spec("epoch,loss,0,10,,")
    assert spec.xlim == (0.0, 10.0) and spec.ylim is None
    for bad in ("epoch", "epoch,loss,1", "epoch,loss,a,b,c,d", ",loss"):
        with pytest.raises(AlfredError):
            parse_plot_spec(bad)


def test_cli_plot_arrays_draws_the_limits_and_refuses_bad_input(every_state, capsys):
    root = every_state.root
    assert (
        alfred_inline(
            "plot-arrays",
            every_state.name,
            "--root",
            root,
            "--plot",
            "step,score,0,5,0,1",
            "--plot",
            "step,loss",
        )
        == 0
    )
    written = sorted(p.name for p in (every_state.path / "plots").iterdir())
    assert written == ["plot_array_loss_vs_step.png", "plot_array_score_vs_step.png"]

    assert alfred_inline("plot-arrays", "Xx9_missing", "--root", root) == 2
    assert (
        alfred_inline("plot-arrays", every_state.name, "--root", root, "--plot", "step")
        == 2
    )
    assert "x,y" in capsys.readouterr().err
    meta = json.loads((every_state.path / "search.json").read_text())
    assert meta["search_type"] == "grid"


def test_the_seeds_of_a_retrain_wrap_into_rows(tmp_path):
    search = write_search(
        tmp_path,
        "Xx2_nogit_alg_task_grid_t_retrainBestXx1",
        [{"lr": 0.1}],
        list(range(4, 14)),
        {"lr": [0.1]},
    )
    for run in search.runs():
        write_rows(run, CURVE)
        set_state(run, flags.COMPLETED)

    (path,) = make_plot_arrays(search, [PlotSpec("step", "score")])
    height, width = matplotlib.image.imread(path).shape[:2]
    assert (width, height) == expected_pixels(3, 4)


def test_drawing_in_two_bands_gives_the_same_picture(every_state, tmp_path):
    data = load_search(every_state)
    spec = PlotSpec("step", "score")
    whole, banded = tmp_path / "whole.png", tmp_path / "banded.png"
    save_figure(draw_plot_array(data, spec), whole)
    draw_in_bands(data, spec, banded)

    expected, found = matplotlib.image.imread(whole), matplotlib.image.imread(banded)
    assert found.shape == expected.shape
    assert abs(found - expected).mean() < 0.002
