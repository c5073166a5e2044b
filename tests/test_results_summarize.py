"""Summaries and retrain-best on a search whose best experiment is known."""

import json

import pytest

from alfred_core import flags
from alfred_core.errors import AlfredError
from alfred_core.results.retrain import create_retrain_best
from alfred_core.results.summarize import SummaryOptions, summarize
from alfred_core.results.synthetic import set_state, write_rows, write_search
from alfred_core.tree import Root, Search
from conftest import alfred_inline, prepare_grid

VARIATIONS = {"lr": [0.1, 0.2, 0.3], "units": [4, 8]}
BEST = {"lr": 0.2, "units": 8}  # experiment4


def quality(varied: dict) -> float:
    """1.0 for the best configuration, lower the further from it."""
    return 1.0 - abs(varied["lr"] - 0.2) - abs(varied["units"] - 8) / 100


@pytest.fixture
def known(project, root) -> Search:
    """6 experiments x 3 seeds; experiment 6's second seed crashed."""
    (name,) = prepare_grid(project, root, VARIATIONS, seeds=(1, 2, 3))
    search = Search(root / name)
    for run in search.runs():
        varied = run.read_config_unique()
        top = quality(varied) + 0.001 * run.seed
        write_rows(
            run,
            [
                {"step": s, "score": top * (s + 1) / 10, "loss": 1 - top}
                for s in range(10)
            ],
        )
        crashed = run.experiment_num == 6 and run.seed == 2
        set_state(run, flags.CRASH if crashed else flags.COMPLETED)
    return search


def test_summary_finds_the_best_experiment_and_reports_nan(known):
    summary = summarize(known)

    assert summary.options.x == "step" and summary.options.y == "score"
    assert summary.best.experiment == 4
    assert summary.best.score == pytest.approx(1.002)
    folder = known.summary_dir
    names = sorted(path.name for path in folder.iterdir())
    assert names == [
        "bestConfig.json",
        "bestConfig_info.json",
        "learning_curves_score_vs_step.png",
        "performance_score_last.png",
        "scores_score_last.json",
    ]

    best = json.loads((folder / "bestConfig.json").read_text())
    assert best["lr"] == 0.2 and best["units"] == 8 and "seed" not in best
    scores = json.loads((folder / "scores_score_last.json").read_text())
    assert scores["best_experiment"] == 4 and scores["nan_experiments"] == [6]
    last = scores["ranking"][-1]
    assert last["experiment"] == 6 and last["score"] is None and last["rank"] is None
    assert last["seed_scores"]["2"] is None and last["seed_states"]["2"] == "CRASH"
    assert scores["ranking"][0]["seed_scores"] == {"1": 1.001, "2": 1.002, "3": 1.003}
    assert "experiment6" in summary.describe()


def test_summary_options_change_the_ranking(known):
    summary = summarize(known, SummaryOptions(score="loss", aggregate="mean"))
    assert summary.options.maximize is False
    assert summary.best.experiment == 4
    assert (known.summary_dir / "scores_loss_mean.json").exists()

    with pytest.raises(AlfredError):
        summarize(known, SummaryOptions(aggregate="median"))


def test_summary_of_a_search_still_running(known):
    runs = known.runs()
    set_state(runs[0], flags.OPENED)
    stream = runs[0].recorders_dir / "train_recorder.jsonl"
    stream.write_text('{"step": 0, "score": 0.5}\n')
    set_state(runs[1], flags.UNHATCHED)
    (runs[1].recorders_dir / "train_recorder.jsonl").unlink()

    summary = summarize(known)
    assert not summary.complete and "partial" in summary.describe()
    scores = json.loads((known.summary_dir / "scores_score_last.json").read_text())
    first = next(entry for entry in scores["ranking"] if entry["experiment"] == 1)
    assert first["pending_seeds"] == [2] and first["seed_scores"]["1"] == 0.5


def test_retrain_best_has_the_best_config_new_seeds_and_a_longer_budget(known, project):
    root = Root(known.root)
    retrain = create_retrain_best(
        root, known, seeds=4, time_factor=2.5, budget_keys=["max_steps"]
    )

    assert retrain.name.endswith(f"_alg_task_grid_t_retrainBest{known.info.id}")
    assert retrain.meta["retrain_of"] == known.name
    runs = retrain.runs()
    assert [run.seed for run in runs] == [4, 5, 6, 7]
    assert {run.experiment_num for run in runs} == {1}
    for run in runs:
        config = run.read_config()
        assert config["lr"] == 0.2 and config["units"] == 8
        assert config["max_steps"] == 12  # 5 x 2.5, rounded, still an integer
        assert run.read_config_unique() == {
            "alg_name": "alg",
            "task_name": "task",
            "seed": run.seed,
            **BEST,
        }
        assert flags.run_status(run).state is flags.State.UNHATCHED
    assert json.loads((retrain.path / "variations.json").read_text()) == {
        "lr": [0.2],
        "units": [8],
    }
    listing = project / "schedules" / "list_retrains_t.txt"
    assert listing.read_text().split() == [retrain.name]
    assert (
        known.summary_dir / "bestConfig_info.json"
    ).exists()  # summarized on the way

    with pytest.raises(AlfredError, match=retrain.name):
        create_retrain_best(root, known, budget_keys=["max_steps"])


def test_retrain_from_a_mapping(known):
    root = Root(known.root)
    retrain = create_retrain_best(
        root, known, seeds=2, time_factor=1, mapping={known.name: "experiment2"}
    )
    config = retrain.runs()[0].read_config()
    assert (config["lr"], config["units"], config["max_steps"]) == (0.1, 8, 5)
    assert not known.summary_dir.exists()


def test_retrain_refuses_what_it_cannot_do(known):
    root = Root(known.root)
    with pytest.raises(AlfredError, match="budget"):
        create_retrain_best(root, known)  # the test project names no budget_key
    with pytest.raises(AlfredError, match="nope"):
        create_retrain_best(root, known, budget_keys=["nope"])
    with pytest.raises(AlfredError, match="mapping"):
        create_retrain_best(root, known, time_factor=1, mapping={"other": 1})
    with pytest.raises(AlfredError, match="units2"):
        create_retrain_best(
            root, known, time_factor=1, mapping={known.name: {"units2": 3}}
        )
    assert [s.name for s in root.searches()] == [known.name]


def test_cli_summarize_and_retrain_best(known, capsys, tmp_path):
    root = known.root
    assert (
        alfred_inline(
            "summarize",
            known.name,
            "--root",
            root,
            "--aggregate",
            "max",
            "--error-bars",
            "stderr",
        )
        == 0
    )
    assert "best: experiment4" in capsys.readouterr().out

    bad_mapping = tmp_path / "mapping.json"
    bad_mapping.write_text("[1, 2]")
    assert (
        alfred_inline(
            "retrain-best", known.name, "--root", root, "--mapping", bad_mapping
        )
        == 2
    )
    assert "mapping.json" in capsys.readouterr().err
    assert alfred_inline("summarize", "--root", root) == 2
    assert len(Root(root).searches()) == 1

    assert (
        alfred_inline(
            "retrain-best",
            known.name,
            "--root",
            root,
            "--seeds",
            "3",
            "--budget-key",
            "max_steps",
        )
        == 0
    )
    assert "max_steps 5 -> 10" in capsys.readouterr().out
    assert (
        alfred_inline(
            "retrain-best", known.name, "--root", root, "--budget-key", "max_steps"
        )
        == 2
    )
    assert "already has a retrain" in capsys.readouterr().err
    assert len(Root(root).searches()) == 2


def test_retrain_of_a_random_search(tmp_path):
    experiments = [{"lr": 0.5, "units": 4}, {"lr": 0.25, "units": 16}]
    search = write_search(
        tmp_path,
        "Xx1_nogit_alg_task_random_r",
        experiments,
        [1, 2],
        search_type="random",
        base_config={"max_steps": 7},
    )
    for run in search.runs():
        top = 1.0 if run.experiment_num == 2 else 0.5
        write_rows(run, [{"step": s, "score": top * s} for s in range(4)])
        set_state(run, flags.COMPLETED)

    retrain = create_retrain_best(
        Root(tmp_path), search, seeds=3, time_factor=3, budget_keys=["max_steps"]
    )
    assert retrain.info.search_type == "random"
    assert json.loads((retrain.path / "sampled_values.json").read_text()) == {
        "experiment1": {"lr": 0.25, "units": 16}
    }
    assert [r.read_config()["max_steps"] for r in retrain.runs()] == [21, 21, 21]
