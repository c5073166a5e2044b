"""The completion hook (once per search, failures recorded) and benchmark figures."""

import json
import multiprocessing
import os
import shutil

import pytest

from alfred_core import flags
from alfred_core.clean import drop_summaries
from alfred_core.results.synthetic import (
    grid_experiments,
    set_state,
    write_rows,
    write_search,
)
from alfred_core.results_hooks import DONE, FAILED, ONGOING, after_search_done
from alfred_core.tree import Search
from conftest import alfred_inline

VARIATIONS = {"lr": [0.1, 0.2], "units": [4, 8]}


def completed_search(root, name="Xx1_nogit_alg_task_grid_t", offset=0.0, rows=True):
    search = write_search(root, name, grid_experiments(VARIATIONS), [1, 2], VARIATIONS)
    for run in search.runs():
        if rows:
            top = run.experiment_num / 4 + offset + 0.01 * run.seed
            write_rows(run, [{"epoch": e, "accuracy": top * e / 9} for e in range(10)])
        set_state(run, flags.COMPLETED)
    return search


def test_hook_makes_plot_arrays_and_summary_once(tmp_path):
    search = completed_search(tmp_path)

    assert after_search_done(search) is True
    done = json.loads((search.path / DONE).read_text())
    assert "plots/plot_array_accuracy_vs_epoch.png" in done["files"]
    assert "summary/bestConfig.json" in done["files"]
    assert not (search.path / ONGOING).exists()
    assert after_search_done(search) is False

    drop_summaries(search)
    assert not any(search.path.glob("SUMMARY_*"))
    assert (
        not (search.path / "summary").exists() and not (search.path / "plots").exists()
    )


def test_hook_failure_is_recorded_not_raised(tmp_path):
    search = completed_search(tmp_path, rows=False)

    assert after_search_done(search) is False
    failed = json.loads((search.path / FAILED).read_text())
    assert "no run has recorded metrics" in failed["error"]
    assert not (search.path / ONGOING).exists()


def test_hook_leaves_a_live_holder_alone_and_takes_over_a_dead_one(tmp_path):
    search = completed_search(tmp_path)
    marker = search.path / ONGOING
    marker.write_text(json.dumps({"host": flags.HOST, "pid": os.getpid(), "time": 0}))
    assert after_search_done(search) is False

    marker.write_text(json.dumps({"host": flags.HOST, "pid": 2**22 + 11, "time": 0}))
    assert after_search_done(search) is True


def _hook_in_child(path, start, results):
    start.wait()
    results.put(after_search_done(Search(path)))


def test_two_launchers_seeing_completion_at_once_summarize_once(tmp_path):
    search = completed_search(tmp_path)
    context = multiprocessing.get_context("fork")
    start, results = context.Event(), context.Queue()
    children = [
        context.Process(target=_hook_in_child, args=(search.path, start, results))
        for _ in range(2)
    ]
    for child in children:
        child.start()
    start.set()
    outcomes = sorted(results.get(timeout=60) for _ in children)
    for child in children:
        child.join(timeout=60)

    assert outcomes == [False, True]
    assert (search.path / DONE).exists()


@pytest.fixture
def three_searches(tmp_path):
    root = tmp_path / "storage"
    names = [
        "Xx1_nogit_ppo_cartpole_grid_a",
        "Xx2_nogit_sac_cartpole_grid_a",
        "Xx3_nogit_ppo_pendulum_grid_a",
    ]
    for index, name in enumerate(names):
        completed_search(root, name, offset=0.1 * index)
    return root, names


def test_benchmark_figures_with_their_sources(three_searches, tmp_path):
    root, names = three_searches
    visuals = tmp_path / "visuals.json"
    visuals.write_text(
        json.dumps({"ppo": {"label": "PPO", "color": "red", "marker": "s"}})
    )
    hlines = tmp_path / "hlines.json"
    hlines.write_text(json.dumps({"cartpole": {"expert": 1.0}}))
    out = tmp_path / "bench"

    assert (
        alfred_inline(
            "benchmark",
            "compare-models",
            *names,
            "--root",
            root,
            "--visuals",
            visuals,
            "--hlines",
            hlines,
            "--out",
            out,
        )
        == 0
    )
    assert (
        alfred_inline(
            "benchmark",
            "compare-searches",
            *names,
            "--root",
            root,
            "--out",
            out,
            "--aggregate",
            "max",
        )
        == 0
    )
    made = sorted(path.name for path in out.iterdir())
    for stem in ("compare_models_curves", "compare_models_bars", "compare_searches"):
        assert {f"{stem}.png", f"{stem}.pdf", f"{stem}.sources.json"} <= set(made)

    sources = json.loads((out / "compare_models_bars.sources.json").read_text())
    entries = {entry["search"]: entry for entry in sources["searches"]}
    assert set(entries) == set(names)
    assert entries[names[0]]["label"] == "PPO" and entries[names[1]]["label"] == "sac"
    assert entries[names[0]]["best_experiment"] == 4
    assert entries[names[1]]["score"] == pytest.approx(1.0 + 0.1 + 0.015)  # 2 seeds
    boxes = json.loads((out / "compare_searches.sources.json").read_text())
    assert boxes["searches"][0]["aggregate"] == "max"


def test_benchmark_refuses_bad_files_and_writes_nothing(
    three_searches, tmp_path, capsys
):
    root, names = three_searches
    bad = tmp_path / "visuals.json"
    bad.write_text("{not json")
    out = tmp_path / "bench"

    assert (
        alfred_inline(
            "benchmark",
            "compare-models",
            *names,
            "--root",
            root,
            "--visuals",
            bad,
            "--out",
            out,
        )
        == 2
    )
    assert "visuals.json" in capsys.readouterr().err
    bad.write_text(json.dumps({"cartpole": {"expert": "high"}}))
    assert (
        alfred_inline(
            "benchmark",
            "compare-models",
            *names,
            "--root",
            root,
            "--hlines",
            bad,
            "--out",
            out,
        )
        == 2
    )
    assert not out.exists()


def test_hook_summarizes_again_after_runs_were_added(tmp_path):
    search = completed_search(tmp_path)
    assert after_search_done(search) is True

    added = search.path / "experiment1" / "seed3"
    shutil.copytree(search.path / "experiment1" / "seed1", added)
    assert after_search_done(search) is True
    assert json.loads((search.path / DONE).read_text())["runs"] == 9
