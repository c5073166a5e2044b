"""The FLAG protocol: exactly-once claims, owners, LOST detection, resets."""

import json
import multiprocessing
import os
import subprocess
import sys
import time

from alfred_core import flags
from alfred_core.flags import State
from alfred_core.tree import RunDir


def make_run(tmp_path, name="seed1", flag="UNHATCHED") -> RunDir:
    path = tmp_path / "s" / "experiment1" / name
    path.mkdir(parents=True)
    (path / "config.json").write_text("{}")
    (path / "config_unique.json").write_text("{}")
    if flag:
        (path / flag).touch()
    return RunDir(path)


def _race(path, barrier, results):
    barrier.wait()
    results.put(flags.claim(RunDir(path), flags.owner_record()))


def test_of_many_claimers_exactly_one_wins(tmp_path):
    for attempt in range(20):
        run = make_run(tmp_path, f"seed{attempt}")
        context = multiprocessing.get_context("fork")
        barrier, results = context.Barrier(6), context.Queue()
        processes = [
            context.Process(target=_race, args=(run.path, barrier, results))
            for _ in range(6)
        ]
        for process in processes:
            process.start()
        for process in processes:
            process.join()
        wins = [results.get() for _ in processes]
        assert wins.count(True) == 1
        assert flags.flag_of(os.listdir(run.path)) == flags.OPENED


def test_a_claimed_run_records_its_owner_and_is_running(tmp_path):
    run = make_run(tmp_path)
    assert flags.claim(run, flags.owner_record(worker=3))
    status = flags.run_status(run)
    assert status.state is State.RUNNING
    assert status.owner["pid"] == os.getpid() and status.owner["worker"] == 3
    assert status.owner["host"] == flags.HOST
    assert not flags.claim(run, flags.owner_record())


def test_a_dead_owner_on_this_host_is_lost_at_once(tmp_path):
    run = make_run(tmp_path, flag=None)
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    owner = {"host": flags.HOST, "pid": child.pid, "pid_started": time.time()}
    (run.path / "OPENED").write_text(json.dumps({"owner": owner}))
    assert flags.run_status(run).state is State.LOST


def test_a_reused_pid_is_not_mistaken_for_the_owner(tmp_path):
    run = make_run(tmp_path, flag=None)
    owner = {"host": flags.HOST, "pid": os.getpid(), "pid_started": 12345.0}
    (run.path / "OPENED").write_text(json.dumps({"owner": owner}))
    assert flags.run_status(run).state is State.LOST


def test_an_owner_on_another_host_is_judged_by_its_heartbeat(tmp_path):
    run = make_run(tmp_path, flag=None)
    owner = {"host": "node-17", "pid": 1, "pid_started": 0}
    (run.path / "OPENED").write_text(json.dumps({"owner": owner}))
    assert flags.run_status(run).state is State.RUNNING

    stale = time.time() - flags.HEARTBEAT_TIMEOUT - 1
    os.utime(run.path / "OPENED", (stale, stale))
    assert flags.run_status(run).state is State.LOST

    assert flags.heartbeat(run)
    assert flags.run_status(run).state is State.RUNNING


def test_a_later_flag_wins_when_two_stand_together(tmp_path):
    run = make_run(tmp_path, flag="OPENED")
    (run.path / "COMPLETED").write_text("{}")
    assert flags.run_status(run).state is State.COMPLETED


def test_finish_replaces_opened_and_keeps_the_owner(tmp_path):
    run = make_run(tmp_path)
    flags.claim(run, flags.owner_record())
    flags.finish(run, flags.CRASH, {"error": "boom"})
    status = flags.run_status(run)
    assert status.state is State.CRASH
    assert status.info["error"] == "boom" and status.owner["pid"] == os.getpid()
    assert not (run.path / "OPENED").exists()


def test_reset_keeps_only_the_two_config_files(tmp_path):
    run = make_run(tmp_path, flag="CRASH")
    (run.path / "logger.out").write_text("old log")
    (run.path / "recorders").mkdir()
    (run.path / "recorders" / "train_recorder.jsonl").write_text("{}\n")

    assert flags.reset(run, flags.CRASH)
    assert sorted(os.listdir(run.path)) == [
        "UNHATCHED",
        "config.json",
        "config_unique.json",
    ]
    assert not flags.reset(run, flags.CRASH)  # a second cleaner finds nothing to do


def test_kill_of_an_unstarted_run_wins_against_a_claim(tmp_path):
    run = make_run(tmp_path)
    assert flags.kill_unhatched(run, "me@here")
    assert not flags.claim(run, flags.owner_record())
    assert flags.run_status(run).state is State.KILLED
    assert flags.run_status(run).info["killed_by"] == "me@here"


def test_flags_of_the_old_tools_are_read(tmp_path):
    run = make_run(tmp_path, flag=None)
    (run.path / "CRASH").write_text("Tue Jan 1\nValueError: x\nTraceback...")
    status = flags.run_status(run)
    assert status.state is State.CRASH and "ValueError" in status.info["text"]
