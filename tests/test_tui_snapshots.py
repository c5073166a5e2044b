"""Snapshots of every view of `alfred-tui` at 80x24 and 120x36, on fixed data.

The root is written by hand with fixed times and no live run; the app gets a fixed
clock and does not watch the file system. Update with `pytest --snapshot-update`.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from alfred_tui.app import AlfredApp

ROOT = Path("/tmp/alfred-tui-snapshot-root")
NOW = 1_700_010_000.0
SIZES = [(80, 24), (120, 36)]
SEARCHES = {
    "Ab1_1a2b3c4_ppo_cartpole_grid_lr": ("ppo", "cartpole"),
    "Ab2_1a2b3c4_dqn_pong_grid_lr": ("dqn", "pong"),
}
TRACEBACK = (
    'Traceback (most recent call last):\n  File "main.py", line 42, in main\n'
    "    loss.backward()\nFloatingPointError: loss is nan at epoch 7\n"
)


def write_run(
    seed_dir: Path, experiment: int, seed: int, flag: str, alg: str, task: str
):
    seed_dir.mkdir(parents=True)
    lr = [0.1, 0.01, 0.001][(experiment - 1) % 3]
    units = [32, 64][(experiment - 1) // 3]
    unique = {
        "alg_name": alg,
        "task_name": task,
        "seed": seed,
        "lr": lr,
        "units": units,
    }
    (seed_dir / "config_unique.json").write_text(json.dumps(unique))
    (seed_dir / "config.json").write_text(
        json.dumps({**unique, "epochs": 20, "desc": "lr"}, indent=1)
    )
    started = NOW - 3000 + 100 * experiment + 10 * seed
    owner = {"host": "node7", "pid": 4242, "worker": seed % 2, "gpu": seed % 2}
    info = {"owner": owner, "started": started}
    if flag in ("COMPLETED", "CRASH", "KILLED"):
        info.update(ended=started + 60 + experiment, duration=60.0 + experiment)
    if flag == "CRASH":
        info.update(
            error="FloatingPointError: loss is nan at epoch 7", traceback=TRACEBACK
        )
    if flag == "KILLED":
        info.update(killed_by="alice@login1")
    (seed_dir / flag).write_text("" if flag == "UNHATCHED" else json.dumps(info))
    if flag != "UNHATCHED":
        mtime = info.get("ended", started + 30)
        os.utime(seed_dir / flag, (mtime, mtime))
        epochs = 7 if flag == "CRASH" else 20
        recorders = seed_dir / "recorders"
        recorders.mkdir()
        with open(recorders / "train_recorder.jsonl", "w") as stream:
            for epoch in range(1, epochs + 1):
                score = (1 - 0.9**epoch) * (0.6 + 0.1 * experiment % 0.4) + 0.01 * seed
                stream.write(
                    json.dumps(
                        {
                            "epoch": epoch,
                            "return": round(score * 200, 3),
                            "loss": round(1 / epoch, 4),
                        }
                    )
                    + "\n"
                )
        with open(seed_dir / "logger.out", "w") as log:
            for epoch in range(1, epochs + 1):
                log.write(
                    f"2023-11-15 01:00:{epoch:02d} INFO epoch {epoch}: return "
                    f"{epoch * 9.5:.1f}\n"
                )
            if flag == "CRASH":
                log.write(TRACEBACK)


def make_root() -> Path:
    """Two searches of 6 experiments x 2 seeds in every state but RUNNING."""
    if ROOT.exists():
        shutil.rmtree(ROOT)
    ROOT.mkdir(parents=True)
    flags_cycle = [
        "COMPLETED",
        "COMPLETED",
        "COMPLETED",
        "CRASH",
        "UNHATCHED",
        "KILLED",
        "COMPLETED",
        "OPENED",
        "COMPLETED",
        "UNHATCHED",
        "COMPLETED",
        "COMPLETED",
    ]
    for index, (name, (alg, task)) in enumerate(SEARCHES.items()):
        search_dir = ROOT / name
        search_dir.mkdir()
        meta = {
            "format": 1,
            "id": name.split("_")[0],
            "git_hashes": "1a2b3c4",
            "alg_name": alg,
            "task_name": task,
            "search_type": "grid",
            "desc": "lr",
            "project_dir": str(ROOT / "project"),
            "varied_keys": ["lr", "units"],
        }
        (search_dir / "search.json").write_text(json.dumps(meta))
        for number in range(12):
            experiment, seed = number // 2 + 1, number % 2 + 1
            flag = flags_cycle[(number + 5 * index) % len(flags_cycle)]
            write_run(
                search_dir / f"experiment{experiment}" / f"seed{seed}",
                experiment,
                seed,
                flag,
                alg,
                task,
            )
    project = ROOT / "project"
    project.mkdir()
    (project / "main.py").write_text(
        "def get_main_args(overwritten_cmd_line=None):\n    pass\n\n"
        "def main(config, dir_tree, logger, pbar):\n    pass\n\n"
        "def set_up_alfred():\n    return {'x_metric': 'epoch', 'y_metric': 'return', "
        "'score_metric': 'return', 'aggregate': 'last'}\n"
    )
    (project / "schedules").mkdir()
    (project / "schedules" / "grid_schedule_lr.py").write_text("VARIATIONS = {}\n")
    (project / "schedules" / "random_schedule_wide.py").write_text(
        "N_EXPERIMENTS = 8\n"
    )
    return ROOT


@pytest.fixture(autouse=True)
def fixed_environment(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    make_root()
    yield
    time.tzset()


def new_app() -> AlfredApp:
    app = AlfredApp(ROOT, project_dir=ROOT / "project", watch=False, clock=lambda: NOW)
    app.slurm_available = False
    return app


async def settle(pilot) -> None:
    app = pilot.app
    for _ in range(200):
        if app.scan_complete:
            break
        await pilot.pause(0.02)
    await app.workers.wait_for_complete()
    await pilot.pause(0.05)
    await app.workers.wait_for_complete()
    await pilot.pause(0.05)


def opened(*keys: str):
    """A run_before that waits for the data, presses keys, and waits again."""

    async def run_before(pilot) -> None:
        await settle(pilot)
        for key in keys:
            await pilot.press(key)
            await settle(pilot)

    return run_before


VIEWS = {
    "searches": (),
    "runs": ("enter",),
    "runs_filtered": ("enter", "5"),
    "detail_log": ("enter", "down", "enter"),
    "detail_crash": ("enter", "down", "down", "down", "enter"),
    "detail_config": ("enter", "enter", "3"),
    "curves_run": ("enter", "enter", "g"),
    "curves_best": ("g",),
    "help": ("question_mark",),
    "kill_dialog": ("enter", "x"),
    "launch_dialog": ("l",),
    "launch_dialog_slurm": ("l",),
    "prepare_dialog": ("p",),
    "retrain_dialog": ("r",),
}


@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
@pytest.mark.parametrize("view", list(VIEWS))
def test_view(snap_compare, view, size):
    app = new_app()
    app.slurm_available = view.endswith("_slurm")
    assert snap_compare(app, terminal_size=size, run_before=opened(*VIEWS[view]))
