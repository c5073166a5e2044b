"""prepare: the tree of grid and random schedules, dry runs, additions, atomicity."""

import json
import multiprocessing
import os
from pathlib import Path

import pytest

from alfred_core import prepare as prepare_module
from alfred_core.prepare import execute_plan, plan_prepare
from alfred_core.tree import Root, Search
from conftest import alfred_inline, prepare_grid, write_grid


def test_grid_creates_one_storage_dir_per_alg_and_task(project, root):
    names = prepare_grid(
        project,
        root,
        {"lr": [0.1, 0.2], "units": [4, 8, 16]},
        algs=("ppo", "sac"),
        tasks=("cartpole",),
        seeds=(1, 2),
    )

    assert len(names) == 2
    assert names[0].endswith("_ppo_cartpole_grid_t") and names[1].endswith(
        "_sac_cartpole_grid_t"
    )
    ids = {name.split("_")[0] for name in names}
    assert len(ids) == 2

    search = Search(root / names[0])
    assert len(search.experiment_dirs()) == 6
    runs = search.runs()
    assert len(runs) == 12
    for run in runs:
        assert sorted(os.listdir(run.path)) == [
            "UNHATCHED",
            "config.json",
            "config_unique.json",
        ]

    config = json.loads(
        (root / names[0] / "experiment6" / "seed2" / "config.json").read_text()
    )
    assert config["lr"] == 0.2 and config["units"] == 16 and config["seed"] == 2
    assert (
        config["alg_name"] == "ppo" and config["desc"] == "t" and config["sleep"] == 0.0
    )
    unique = json.loads(
        (root / names[0] / "experiment6" / "seed2" / "config_unique.json").read_text()
    )
    assert unique == {
        "alg_name": "ppo",
        "task_name": "cartpole",
        "seed": 2,
        "lr": 0.2,
        "units": 16,
    }

    variations = json.loads((root / names[0] / "variations.json").read_text())
    assert variations == {"lr": [0.1, 0.2], "units": [4, 8, 16]}
    assert search.meta["project_dir"] == str(project.resolve())
    assert search.info.alg_name == "ppo" and search.info.search_type == "grid"

    listing = project / "schedules" / "list_searches_t.txt"
    assert listing.read_text().split() == names


def test_random_schedule_samples_per_alg_and_task_and_plots_them(project, root):
    (project / "schedules" / "random_schedule_x.py").write_text(
        "import random\nALG_NAMES=['a','b']\nTASK_NAMES=['t']\nSEEDS=[1]\n"
        "N_EXPERIMENTS=5\n"
        "def sample_experiment():\n    return {'lr': random.random(), 'units': 4}\n"
    )
    schedule = project / "schedules" / "random_schedule_x.py"
    assert (
        alfred_inline(
            "prepare", schedule, "--desc", "r", "--root", root, "--project", project
        )
        == 0
    )

    searches = Root(root).searches()
    assert len(searches) == 2
    samples = [
        json.loads((s.path / "sampled_values.json").read_text()) for s in searches
    ]
    assert all(len(sample) == 5 for sample in samples)
    assert samples[0] != samples[1]  # resampled per alg x task
    assert all((s.path / "sampled_values.png").stat().st_size > 1000 for s in searches)

    shared_root = root.parent / "shared"
    assert (
        alfred_inline(
            "prepare",
            schedule,
            "--desc",
            "r",
            "--root",
            shared_root,
            "--project",
            project,
            "--no-resample",
        )
        == 0
    )
    shared = [
        json.loads((s.path / "sampled_values.json").read_text())
        for s in Root(shared_root).searches()
    ]
    assert shared[0] == shared[1]


def test_dry_run_prints_counts_and_writes_nothing(project, root, capsys):
    schedule = write_grid(project, {"lr": [1, 2, 3]}, seeds=(1, 2, 3, 4))
    assert (
        alfred_inline(
            "prepare",
            schedule,
            "--desc",
            "d",
            "--root",
            root,
            "--project",
            project,
            "--dry-run",
        )
        == 0
    )

    out = capsys.readouterr().out
    assert "3 experiments x 4 seeds = 12 runs" in out and "nothing written" in out
    assert not root.exists()
    assert not (project / "schedules" / "list_searches_d.txt").exists()


def test_add_to_adds_new_experiments_and_new_seeds_only(project, root):
    [name] = prepare_grid(project, root, {"lr": [0.1, 0.2]}, seeds=(1, 2))
    (root / name / "experiment1" / "seed1" / "UNHATCHED").rename(
        root / name / "experiment1" / "seed1" / "COMPLETED"
    )

    schedule = write_grid(project, {"lr": [0.1, 0.2, 0.3]}, seeds=(1, 2, 3))
    assert (
        alfred_inline(
            "prepare",
            schedule,
            "--desc",
            "t",
            "--root",
            root,
            "--project",
            project,
            "--add-to",
            name,
        )
        == 0
    )

    search = Search(root / name)
    assert [p.name for p in search.experiment_dirs()] == [
        "experiment1",
        "experiment2",
        "experiment3",
    ]
    assert len(search.runs()) == 9
    assert (root / name / "experiment1" / "seed1" / "COMPLETED").exists()
    assert (
        json.loads((root / name / "experiment3" / "seed3" / "config.json").read_text())[
            "lr"
        ]
        == 0.3
    )
    assert json.loads((root / name / "variations.json").read_text())["lr"] == [
        0.1,
        0.2,
        0.3,
    ]
    assert search.meta["seeds"] == [1, 2, 3]


def test_an_error_half_way_leaves_no_half_built_search(project, root, monkeypatch):
    write_grid(project, {"lr": [0.1, 0.2, 0.3]}, algs=("a", "b"))
    plan = plan_prepare(
        project / "schedules" / "grid_schedule_test.py",
        "x",
        root=root,
        project_dir=project,
    )
    written = []
    original = prepare_module.write_run

    def failing_write_run(seed_dir, config, unique):
        if len(written) == 9:  # in the second storage dir
            raise OSError("disk full")
        written.append(seed_dir)
        original(seed_dir, config, unique)

    monkeypatch.setattr(prepare_module, "write_run", failing_write_run)
    with pytest.raises(OSError):
        execute_plan(plan)

    assert [p.name for p in root.iterdir() if not p.name.startswith(".")] == []
    assert os.listdir(root / ".alfred" / "staging") == []
    assert os.listdir(root / ".alfred" / "ids") == []


def _prepare_in_process(args):
    project, root, desc = args
    plan = plan_prepare(
        Path(project) / "schedules" / "grid_schedule_test.py",
        desc,
        root=root,
        project_dir=project,
    )
    return [s.name for s in execute_plan(plan)]


def test_concurrent_prepares_never_share_a_storage_id(project, root):
    write_grid(project, {"lr": [0.1]}, algs=("a", "b", "c"))
    root.mkdir()
    with multiprocessing.get_context("fork").Pool(4) as pool:
        results = pool.map(
            _prepare_in_process, [(str(project), str(root), f"d{i}") for i in range(8)]
        )

    names = [name for names in results for name in names]
    assert len(names) == 24
    ids = [name.split("_")[0] for name in names]
    assert len(set(ids)) == 24


def test_copy_makes_a_new_search_with_overrides(project, root, capsys):
    [name] = prepare_grid(project, root, {"lr": [0.1, 0.2]}, seeds=(1, 2))
    assert (
        alfred_inline(
            "copy", name, "--desc", "longer", "--set", "max_steps=50", "--root", root
        )
        == 0
    )

    copies = [s for s in Root(root).searches() if s.name != name]
    assert len(copies) == 1 and copies[0].name.endswith("_alg_task_grid_longer")
    assert copies[0].meta["copied_from"] == name
    config = json.loads(
        (copies[0].path / "experiment2" / "seed2" / "config.json").read_text()
    )
    assert (
        config["max_steps"] == 50 and config["lr"] == 0.2 and config["desc"] == "longer"
    )
    assert (copies[0].path / "experiment2" / "seed2" / "UNHATCHED").exists()

    assert (
        alfred_inline("copy", name, "--desc", "bad", "--set", "nope=1", "--root", root)
        == 2
    )
    assert "has no 'nope'" in capsys.readouterr().err
