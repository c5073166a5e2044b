"""Faults: many launchers at once, a launcher killed hard, kills, and file handles."""

import collections
import os
import resource
import signal
import time

from alfred_core.flags import read_flag_info
from alfred_core.tree import Root
from conftest import (
    alfred,
    counts,
    launcher_process,
    prepare_grid,
    status,
    wait_until,
)


def test_three_launchers_of_two_workers_execute_every_run_exactly_once(project, root):
    count_file = root.parent / "executions.txt"
    [name] = prepare_grid(
        project,
        root,
        {"lr": list(range(100)), "count_file": [str(count_file)]},
        seeds=(1, 2, 3, 4, 5, 6),
    )
    launchers = [launcher_process(root, "-p", "2") for _ in range(3)]
    for launcher in launchers:
        assert launcher.wait(timeout=240) == 0, launcher.stderr.read()

    executions = collections.Counter(count_file.read_text().split())
    assert len(executions) == 600
    assert set(executions.values()) == {1}
    assert counts(root)[name]["COMPLETED"] == 600
    owners = {read_flag_info(p)["owner"]["pid"] for p in root.glob("*/*/*/COMPLETED")}
    assert len(owners) == 6  # every worker of every launcher took part


def test_a_launcher_killed_hard_leaves_its_runs_lost_and_clean_requeues_them(
    project, root
):
    [name] = prepare_grid(
        project, root, {"sleep": [60.0], "lr": [1, 2, 3, 4, 5]}, seeds=(1,)
    )
    (root / name / "experiment5" / "seed1" / "UNHATCHED").rename(
        root / name / "experiment5" / "seed1" / "COMPLETED"
    )
    launcher = launcher_process(root, "-p", "2")
    wait_until(lambda: counts(root)[name]["RUNNING"] == 2)
    running = sorted(
        r["path"] for r in status(root, name)["runs"] if r["state"] == "RUNNING"
    )
    run_pids = [
        r["owner"]["run_pid"]
        for r in status(root, name)["runs"]
        if r["state"] == "RUNNING"
    ]

    os.kill(launcher.pid, signal.SIGKILL)
    launcher.wait()

    wait_until(lambda: counts(root)[name]["LOST"] == 2)
    lost = sorted(r["path"] for r in status(root, name)["runs"] if r["state"] == "LOST")
    assert lost == running
    wait_until(
        lambda: not any(pid_alive(pid) for pid in run_pids)
    )  # died with the node

    result = alfred("clean", name, "--root", root)
    assert "2 LOST" in result.stdout
    after = counts(root)[name]
    assert after["UNHATCHED"] == 4 and after["LOST"] == 0 and after["COMPLETED"] == 1
    for path in lost:
        assert sorted(os.listdir(path)) == [
            "UNHATCHED",
            "config.json",
            "config_unique.json",
        ]


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split(")")[-1].split()[0] != "Z"


def test_clean_never_touches_completed_or_live_runs(project, root):
    [name] = prepare_grid(
        project, root, {"sleep": [60.0], "behaviour": ["ok", "raise"]}, seeds=(1,)
    )
    (root / name / "experiment2" / "seed1" / "UNHATCHED").rename(
        root / name / "experiment2" / "seed1" / "COMPLETED"
    )
    launcher = launcher_process(root, "-p", "1")
    try:
        wait_until(lambda: counts(root)[name]["RUNNING"] == 1)
        result = alfred("clean", name, "--root", root, "--crashes")
        assert (
            "nothing to clean" in result.stdout
            and "1 running runs left alone" in result.stdout
        )
        assert (
            counts(root)[name]["RUNNING"] == 1 and counts(root)[name]["COMPLETED"] == 1
        )
    finally:
        launcher.send_signal(signal.SIGTERM)
        launcher.wait(timeout=20)


def test_kill_a_run_an_experiment_and_a_search(project, root):
    [name] = prepare_grid(
        project, root, {"sleep": [60.0], "lr": [1, 2, 3]}, seeds=(1, 2)
    )
    launcher = launcher_process(root, "-p", "2", "--grace", "1")
    try:
        wait_until(lambda: counts(root)[name]["RUNNING"] == 2)
        runs = status(root, name)["runs"]
        [first, second] = [r for r in runs if r["state"] == "RUNNING"]
        assert {first["experiment"], second["experiment"]} == {1, 2}

        started = time.monotonic()
        alfred("kill", first["path"], "--root", root)
        assert time.monotonic() - started < 5
        killed = read_flag_info(
            root / name / f"experiment{first['experiment']}" / "seed1" / "KILLED"
        )
        assert "@" in killed["killed_by"]
        assert not pid_alive(first["owner"]["run_pid"])

        experiment3 = root / name / "experiment3"
        result = alfred("kill", experiment3, "--root", root)
        assert "running runs killed" in result.stdout
        assert all((experiment3 / s / "KILLED").exists() for s in ("seed1", "seed2"))

        alfred("kill", name, "--root", root)
        assert launcher.wait(timeout=20) == 0
        final = counts(root)[name]
        assert (
            final["KILLED"] == 6 and final["UNHATCHED"] == 0 and final["RUNNING"] == 0
        )
    finally:
        if launcher.poll() is None:
            launcher.kill()

    states = {r["state"] for r in status(root, name)["runs"]}
    assert states == {"KILLED"}
    requeued = alfred("clean", name, "--root", root, "--crashes")
    assert "6 KILLED" in requeued.stdout
    assert counts(root)[name]["UNHATCHED"] == 6


def test_one_worker_runs_3000_runs_with_256_file_handles(project, root):
    [name] = prepare_grid(project, root, {"lr": list(range(1500))}, seeds=(1, 2))

    def limit_files():
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))

    launcher = launcher_process(root, "-p", "1", preexec_fn=limit_files)
    assert launcher.wait(timeout=600) == 0, launcher.stderr.read()[-2000:]
    assert counts(root)[name]["COMPLETED"] == 3000
    assert len(Root(root).search(name).runs()) == 3000


def test_a_dead_worker_is_reported_in_one_line_and_its_run_shows_lost(project, root):
    [name] = prepare_grid(project, root, {"sleep": [60.0]}, seeds=(1,))
    launcher = launcher_process(root, "-p", "1")
    wait_until(lambda: counts(root)[name]["RUNNING"] == 1)
    [run] = status(root, name)["runs"]

    os.kill(run["owner"]["pid"], signal.SIGKILL)

    assert launcher.wait(timeout=20) == 1
    errors = [line for line in launcher.stderr.read().splitlines() if "ERROR" in line]
    assert (
        len(errors) == 1
        and "died of SIGKILL" in errors[0]
        and "alfred clean" in errors[0]
    )
    assert counts(root)[name]["LOST"] == 1
