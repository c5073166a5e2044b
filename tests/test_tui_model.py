"""The app's headless parts: event classes, log tail, counts, filters, watchers."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

from alfred_core.flags import State
from alfred_core.tree import Search
from alfred_tui.app import launch_command
from alfred_tui.model import (
    TAIL_BYTES,
    LogTail,
    RunRow,
    classify,
    scan_search,
)
from alfred_tui.screens.dialogs import LaunchRequest
from alfred_tui.screens.runs import matches
from alfred_tui.watcher import Poller, RootWatcher


def make_search(root: Path, runs: int = 4, flag: str = "UNHATCHED") -> Path:
    search = root / "Ab1_abc_ppo_cartpole_grid_x"
    for number in range(runs):
        seed_dir = search / f"experiment{number // 2 + 1}" / f"seed{number % 2 + 1}"
        seed_dir.mkdir(parents=True)
        (seed_dir / flag).write_text("")
    (search / "search.json").write_text(json.dumps({"alg_name": "ppo"}))
    return search


def test_classify_sorts_paths_by_what_they_change(tmp_path):
    root = tmp_path
    seed = f"{root}/S1/experiment1/seed1"
    changes = classify(
        root,
        {
            f"{root}/S2",
            f"{root}/S1/experiment3",
            f"{seed}/COMPLETED",
            f"{seed}/.OPENED.12.tmp",
            f"{seed}/logger.out",
            f"{seed}/recorders/x.jsonl",
            f"{root}/.alfred/launchers/a.json",
            f"{root}/.alfred/ids/3",
            "/elsewhere/x",
        },
    )
    assert changes.root
    assert changes.searches == {"S1"}
    assert changes.states == {seed}
    assert changes.activity == {seed}
    assert changes.launchers


def test_log_tail_reads_only_the_end_then_what_is_appended(tmp_path):
    log = tmp_path / "logger.out"
    log.write_text("".join(f"line {n}\n" for n in range(100_000)))
    tail = LogTail(log)
    lines, restarted = tail.read_new()
    assert not restarted
    assert lines[-1] == "line 99999"
    assert sum(len(line) + 1 for line in lines) <= TAIL_BYTES
    assert lines[0].startswith("line ") and int(lines[0].split()[1]) > 90_000

    with open(log, "a") as file:
        file.write("new one\nhalf")
    assert tail.read_new() == (["new one"], False)
    with open(log, "a") as file:
        file.write(" done\n")
    assert tail.read_new() == (["half done"], False)

    log.write_text("started over\n")
    assert tail.read_new() == (["started over"], True)


def test_search_state_counts_follow_changes(tmp_path):
    state = scan_search(Search(make_search(tmp_path, runs=4)))
    assert state.counts()[State.UNHATCHED] == 4
    path = next(iter(state.states))
    assert state.apply(path, State.RUNNING, 100.0)
    assert not state.apply(path, State.RUNNING, 101.0)
    assert state.apply(path, State.COMPLETED, 160.0)
    other = list(state.states)[1]
    state.apply(other, State.RUNNING, 150.0)
    assert state.counts()[State.COMPLETED] == 1 and state.counts()[State.UNHATCHED] == 2
    elapsed, eta = state.elapsed_and_eta(now=200.0)
    assert elapsed == 100.0
    assert eta == 3 * 100.0  # 3 left at one finished run per 100 s
    assert state.apply(other, None, None)
    assert sum(state.counts().values()) == 3


def test_filter_words_and_key_values():
    row = RunRow(
        path="/r/S/experiment3/seed2",
        experiment=3,
        seed=2,
        state=State.CRASH,
        params={"learning_rate": 0.1, "units": 32},
        host="node7",
        error="FloatingPointError: nan",
    )
    assert matches(row, "learning_rate=0.1 state=crash")
    assert matches(row, "node7 nan")
    assert matches(row, "exp=3 seed=2")
    assert not matches(row, "learning_rate=0.01")
    assert not matches(row, "state=done")
    assert not matches(row, "node8")


def test_launch_command_local_detached_and_slurm(tmp_path):
    local = launch_command(tmp_path, ["S1", "S2"], LaunchRequest(3, "0,1", "local"))
    assert local[1:] == [
        "-m",
        "alfred_core.cli",
        "launch",
        "S1",
        "S2",
        "--root",
        str(tmp_path),
        "-p",
        "3",
        "--detach",
        "--gpus",
        "0,1",
    ]
    slurm = launch_command(
        tmp_path, ["S1"], LaunchRequest(4, "", "slurm", "gpu", "1:00:00", "gpu:1")
    )
    assert "--detach" not in slurm and "--gpus" not in slurm
    assert slurm[slurm.index("--executor") + 1] == "slurm"
    assert slurm[slurm.index("--gres") + 1] == "gpu:1"
    assert slurm[slurm.index("-p") + 1] == "4"


class Reports:
    def __init__(self):
        self.paths: set[str] = set()
        self.event = threading.Event()

    def __call__(self, paths: set[str]) -> None:
        self.paths |= paths
        self.event.set()


def test_watcher_reports_a_flag_change_and_not_our_reads(tmp_path):
    search = make_search(tmp_path)
    reports = Reports()
    watcher = RootWatcher(tmp_path, reports)
    watcher.start()
    try:
        scan_search(Search(search))  # listing every directory is not a change
        assert not reports.event.wait(0.5), reports.paths
        seed = search / "experiment1" / "seed1"
        os.rename(seed / "UNHATCHED", seed / "OPENED")
        assert reports.event.wait(2)
        assert str(seed) in classify(tmp_path, reports.paths).states
    finally:
        watcher.stop()


def test_poller_finds_changes_and_backs_off_while_idle(tmp_path):
    search = make_search(tmp_path)
    reports = Reports()
    poller = Poller(tmp_path, reports, shortest=0.05, longest=0.4)
    thread = threading.Thread(target=poller.run, daemon=True)
    thread.start()
    try:
        time.sleep(0.5)
        assert poller.interval == 0.4  # nothing changed: waited longer each time
        seed = search / "experiment2" / "seed1"
        os.rename(seed / "UNHATCHED", seed / "KILLED")
        assert reports.event.wait(2)
        assert str(seed) in reports.paths
    finally:
        poller.stop()
        thread.join(2)
    assert not thread.is_alive()


def test_a_missing_root_is_one_clear_line_and_exit_2(tmp_path):
    import subprocess
    import sys

    missing = tmp_path / "nowhere"
    result = subprocess.run(
        [sys.executable, "-m", "alfred_tui", "--root", str(missing)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(missing) in lines[0] and "--root" in lines[0]
    assert not missing.exists()


def test_slow_listings_go_to_the_pool_with_the_same_result(tmp_path, monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    import alfred_tui.model as model

    search = Search(make_search(tmp_path, runs=60, flag="COMPLETED"))
    serial = scan_search(search)
    monkeypatch.setattr(model, "SLOW_LISTING", 0.0)
    with ThreadPoolExecutor(4) as pool:
        pooled = scan_search(search, pool=pool)
    assert pooled.states == serial.states
    assert pooled.counts() == serial.counts()
    assert pooled.first_time == serial.first_time
