"""launch: runs run in isolated children, end in the right flag, log in their dir."""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from alfred_core.flags import read_flag_info
from alfred_core.recorder import read_tape
from conftest import (
    alfred,
    counts,
    launcher_process,
    prepare_grid,
    status,
    wait_until,
)


def flags_by_behaviour(root):
    found = {}
    for seed_dir in root.glob("*/experiment*/seed*"):
        config = json.loads((seed_dir / "config.json").read_text())
        flag = [
            n
            for n in ("COMPLETED", "CRASH", "KILLED", "OPENED", "UNHATCHED")
            if (seed_dir / n).exists()
        ]
        found.setdefault(config["behaviour"], []).append((flag, seed_dir))
    return found


def test_crashes_of_every_kind_end_their_run_only(project, root):
    prepare_grid(
        project, root, {"behaviour": ["ok", "raise", "exit3", "segfault"]}, seeds=(1, 2)
    )

    alfred("launch", "--root", root, "-p", "1")

    found = flags_by_behaviour(root)
    assert all(flag == ["COMPLETED"] for flag, _ in found["ok"])
    reasons = {}
    for behaviour in ("raise", "exit3", "segfault"):
        for flag, seed_dir in found[behaviour]:
            assert flag == ["CRASH"]
            reasons[behaviour] = read_flag_info(seed_dir / "CRASH")
    assert reasons["raise"]["error"].startswith(
        "ValueError: this configuration is broken"
    )
    assert "Traceback" in reasons["raise"]["traceback"]
    assert "main.py" in reasons["raise"]["traceback"]
    assert reasons["exit3"]["exit_code"] == 3
    assert reasons["segfault"]["signal"] == "SIGSEGV"
    assert "SIGSEGV" in reasons["segfault"]["error"]


def test_each_run_logs_stdout_stderr_and_logger_to_its_dir(project, root):
    prepare_grid(project, root, {"lr": [0.5]}, seeds=(7,))
    alfred("launch", "--root", root)

    [seed_dir] = root.glob("*/experiment1/seed7")
    log = (seed_dir / "logger.out").read_text()
    assert "hello from stdout 7" in log
    assert "hello from the logger" in log
    assert "hello from fd 2" in log
    tape = read_tape(seed_dir)
    assert tape["step"] == [0, 1, 2, 3, 4] and tape["score"][-1] == 2.0
    completed = read_flag_info(seed_dir / "COMPLETED")
    assert completed["owner"]["pid"] and completed["duration"] >= 0


def test_a_corrupt_config_crashes_only_its_own_run(project, root):
    [name] = prepare_grid(project, root, {"lr": [0.1, 0.2, 0.3]}, seeds=(1,))
    (root / name / "experiment2" / "seed1" / "config.json").write_text("{not json")

    alfred("launch", "--root", root)

    assert counts(root)[name]["COMPLETED"] == 2
    crash = read_flag_info(root / name / "experiment2" / "seed1" / "CRASH")
    assert "config.json: not valid JSON" in crash["error"]


def test_one_seed_of_every_experiment_first(project, root):
    count_file = root.parent / "order.txt"
    prepare_grid(
        project,
        root,
        {"lr": [0.1, 0.2, 0.3], "count_file": [str(count_file)]},
        seeds=(1, 2, 3),
    )
    alfred("launch", "--root", root, "-p", "1")

    order = [Path(line).name for line in count_file.read_text().split()]
    assert order == ["seed1"] * 3 + ["seed2"] * 3 + ["seed3"] * 3


def test_max_runs_and_gpus(project, root):
    [name] = prepare_grid(
        project, root, {"behaviour": ["cuda"], "lr": [1, 2, 3, 4]}, seeds=(1,)
    )
    alfred("launch", "--root", root, "-p", "2", "--max-runs", "1", "--gpus", "0,1")

    assert counts(root)[name]["COMPLETED"] == 2
    assert counts(root)[name]["UNHATCHED"] == 2
    devices = sorted(p.read_text() for p in root.glob("*/*/*/cuda.txt"))
    assert devices == ["0", "1"]


def test_git_hash_check_refuses_code_at_another_commit(project, root):
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    git = ["git", "-C", str(project), "-c", "user.name=T", "-c", "user.email=t@t"]
    subprocess.run(git + ["add", "main.py"], check=True)
    subprocess.run(git + ["commit", "-qm", "one"], check=True)
    [name] = prepare_grid(project, root, {"lr": [1]}, seeds=(1,))
    (project / "extra.txt").write_text("x")
    subprocess.run(git + ["add", "extra.txt"], check=True)
    subprocess.run(git + ["commit", "-qm", "two"], check=True)

    result = alfred("launch", "--root", root, check=False)
    assert result.returncode == 2 and "--no-check-hash" in result.stderr
    assert counts(root)[name]["UNHATCHED"] == 1

    alfred("launch", "--root", root, "--no-check-hash")
    assert counts(root)[name]["COMPLETED"] == 1


def test_the_launcher_exits_within_a_second_of_its_last_run(project, root):
    prepare_grid(project, root, {"sleep": [1.0]}, seeds=(1, 2))
    launcher = launcher_process(root, "-p", "2")
    while launcher.poll() is None:
        time.sleep(0.01)
    exited = time.time()

    last_end = max(read_flag_info(p)["ended"] for p in root.glob("*/*/*/COMPLETED"))
    assert exited - last_end < 1.0, exited - last_end


def test_ctrl_c_leaves_no_run_opened(project, root):
    [name] = prepare_grid(project, root, {"sleep": [30.0], "lr": [1, 2, 3]}, seeds=(1,))
    launcher = launcher_process(root, "-p", "2", start_new_session=True)
    wait_until(lambda: counts(root)[name]["RUNNING"] == 2)

    os.killpg(launcher.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
    assert launcher.wait(timeout=15) == 128 + signal.SIGINT

    assert counts(root)[name]["UNHATCHED"] == 3
    assert not list(root.glob("*/*/*/OPENED"))
    for seed_dir in root.glob("*/*/seed1"):
        assert sorted(os.listdir(seed_dir)) == [
            "UNHATCHED",
            "config.json",
            "config_unique.json",
        ]


def test_detached_launch_outlives_its_terminal_and_shows_in_status(project, root):
    [name] = prepare_grid(project, root, {"sleep": [1.5]}, seeds=(1, 2))
    result = alfred("launch", "--root", root, "-p", "1", "--detach")
    assert "detached" in result.stdout

    wait_until(lambda: status(root)["launchers"])
    [launcher] = status(root)["launchers"]
    assert launcher["searches"] == [name] and launcher["workers"] == 1
    assert Path(launcher["log"]).exists()

    wait_until(lambda: counts(root)[name]["COMPLETED"] == 2, timeout=30)
    wait_until(lambda: not status(root)["launchers"])


def test_clean_interrupted_and_from_file(project, root):
    names = prepare_grid(project, root, {"lr": [1, 2]}, seeds=(1,), algs=("a", "b"))
    lost = root / names[0] / "experiment1" / "seed1"
    (lost / "UNHATCHED").rename(lost / "OPENED")
    (lost / "OPENED").write_text('{"owner": {"host": "elsewhere", "pid": 1}}\n')
    os.utime(lost / "OPENED", (0, 0))  # its heartbeat stopped long ago
    (lost / "logger.out").write_text("half a run")
    listing = project / "schedules" / "list_searches_t.txt"
    assert listing.read_text().split() == names

    result = alfred(
        "launch", "--from-file", listing, "--root", root, "--clean-interrupted"
    )

    assert "1 LOST" in result.stdout
    assert all(c["COMPLETED"] == 2 for c in counts(root).values())
    assert "half a run" not in (lost / "logger.out").read_text()


def test_the_demo_project_runs_end_to_end(tmp_path):
    folder = tmp_path / "demo"
    result = alfred("demo", folder)
    assert "prepared" in result.stdout
    found = counts(folder / "storage")
    assert len(found) == 4 and all(c["UNHATCHED"] == 18 for c in found.values())

    name = next(n for n in found if "_sgd_sine_" in n)
    alfred(
        "copy",
        name,
        "--desc",
        "short",
        "--set",
        "max_epochs=3",
        "--root",
        folder / "storage",
        cwd=folder,
    )
    short = next(n for n in counts(folder / "storage") if n.endswith("_short"))
    alfred("launch", short, "-p", "2", "--root", folder / "storage", cwd=folder)

    after = counts(folder / "storage")[short]
    assert (
        after["COMPLETED"] == 12 and after["CRASH"] == 6
    )  # lr=1.0 diverges on purpose
    crash = read_flag_info(next((folder / "storage" / short).glob("*/*/CRASH")))
    assert "diverged" in crash["error"]
    tape = read_tape(next((folder / "storage" / short).glob("*/*/COMPLETED")).parent)
    assert tape["epoch"] == [1, 2, 3] and len(tape["eval_score"]) == 3


def test_a_completed_search_gets_its_summary_without_holding_the_launcher(
    project, root
):
    [name] = prepare_grid(project, root, {"lr": [0.1, 0.2]}, seeds=(1, 2))
    started = time.monotonic()
    alfred("launch", "--root", root, "-p", "2", env={"ALFRED_AUTO_SUMMARY": "1"})
    assert time.monotonic() - started < 4

    wait_until(
        lambda: (
            (root / name / "SUMMARY_COMPLETED").exists()
            or (root / name / "SUMMARY_FAILED").exists()
        ),
        timeout=60,
    )
    assert (root / name / "SUMMARY_COMPLETED").exists()
    assert list((root / name / "summary").iterdir())


def test_runs_end_right_without_pidfds(project, root, monkeypatch):
    """Kernels older than Linux 5.3 (common on clusters) have no pidfd_open."""
    from alfred_core import worker
    from alfred_core.tree import Root

    [name] = prepare_grid(project, root, {"behaviour": ["ok", "exit3"]}, seeds=(1,))
    monkeypatch.delattr(worker.os, "pidfd_open")
    done = worker.Worker(Root(root), [name]).serve()

    assert done == 2
    assert counts(root)[name]["COMPLETED"] == 1
    crash = read_flag_info(root / name / "experiment2" / "seed1" / "CRASH")
    assert crash["exit_code"] == 3
