"""The Slurm executor against a real single-node Slurm cluster (see .ci/slurm.sh)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from alfred_core.flags import read_flag_info
from alfred_core.launchers import live_launchers
from alfred_core.slurm import QUEUE, SlurmQueue
from alfred_core.tree import Root, RunDir
from conftest import alfred, counts, prepare_grid, status

REPO = Path(__file__).resolve().parent.parent
CLUSTER_DIR = Path(os.environ.get("ALFRED_SLURM_DIR", "/tmp/alfred-slurm"))

pytestmark = pytest.mark.slurm


def slurm_answers() -> bool:
    try:
        return (
            subprocess.run(
                ["sinfo", "-h"],
                capture_output=True,
                timeout=15,
                stdin=subprocess.DEVNULL,
            ).returncode
            == 0
        )
    except (OSError, subprocess.TimeoutExpired):
        return False


def daemon_alive(pid_file: Path) -> bool:
    try:
        return psutil.pid_exists(int(pid_file.read_text()))
    except (OSError, ValueError):
        return False


@pytest.fixture(scope="session")
def slurm():
    """A reachable Slurm cluster: $SLURM_CONF's, or one started from the packages."""
    if os.environ.get("SLURM_CONF") and slurm_answers():
        yield os.environ["SLURM_CONF"]
        return

    started = False
    installed = shutil.which("slurmctld") and os.geteuid() == 0
    if not os.environ.get("SLURM_CONF") and installed:
        os.environ["SLURM_CONF"] = str(CLUSTER_DIR / "slurm.conf")
        if not daemon_alive(CLUSTER_DIR / "slurmctld.pid") or not slurm_answers():
            result = subprocess.run(
                ["bash", str(REPO / ".ci" / "slurm.sh"), "start", str(CLUSTER_DIR)],
                capture_output=True,
                text=True,
            )
            started = result.returncode == 0
    if not slurm_answers():
        pytest.skip(
            "Slurm is not reachable (no SLURM_CONF, or `sinfo` fails): install "
            "slurmctld slurmd slurm-client munge, or run .ci/slurm.sh start"
        )
    yield os.environ["SLURM_CONF"]
    if started:
        subprocess.run(
            ["bash", str(REPO / ".ci" / "slurm.sh"), "stop", str(CLUSTER_DIR)]
        )


def squeue_tasks(job_id: str) -> list[str]:
    result = subprocess.run(
        ["squeue", "-h", "-r", "-j", job_id, "-o", "%i %T"],
        capture_output=True,
        text=True,
        timeout=15,
    )
    return result.stdout.split("\n")[:-1] if result.returncode == 0 else []


def node_cpus() -> int:
    output = subprocess.run(
        ["sinfo", "-h", "-o", "%c"], capture_output=True, text=True, timeout=15
    ).stdout
    return int(output.split()[0].rstrip("+"))


def wait_for(condition, timeout: float, what: str, step: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"waited {timeout:.0f} s for {what}")


def launch(root: Path, *options, env: dict | None = None) -> str:
    """Submit through `alfred launch --executor slurm`; returns the Slurm job id."""
    started = time.monotonic()
    result = alfred("launch", "--root", root, "--executor", "slurm", *options, env=env)
    assert time.monotonic() - started < 10, "submission must return at once"
    job_id = result.stdout.split("job array ")[1].split()[0]
    assert job_id in {record["job_id"] for record in slurm_launchers(root)}
    return job_id


def slurm_launchers(root: Path) -> list[dict]:
    folder = root / ".alfred" / "launchers"
    return [json.loads(path.read_text()) for path in folder.glob("slurm-*.json")]


def running_runs(root: Path, name: str, count: int | None = None) -> list[dict]:
    """The RUNNING runs' entries of `status --json`; [] unless there are `count`."""
    running = [run for run in status(root, name)["runs"] if run["state"] == "RUNNING"]
    return running if count is None or len(running) == count else []


def runs_of(search_dir: Path) -> list[RunDir]:
    return [RunDir(path) for path in sorted(search_dir.glob("experiment*/seed*"))]


def test_forty_runs_complete_each_exactly_once(slurm, project, root, tmp_path):
    executions = tmp_path / "executions.txt"
    [name] = prepare_grid(
        project, root, {"units": list(range(20)), "count_file": [str(executions)]}
    )
    job_id = launch(root, "--workers", "4", env={"ALFRED_AUTO_SUMMARY": "1"})

    wait_for(
        lambda: counts(root)[name]["COMPLETED"] == 40, 90, "40 completed runs", 0.5
    )
    lines = executions.read_text().splitlines()
    runs = {str(run.path) for run in runs_of(root / name)}
    assert len(lines) == 40 and set(lines) == runs

    tasks = set()
    for run in runs_of(root / name):
        owner = read_flag_info(run.flag_path("COMPLETED"))["owner"]
        assert owner["slurm_array_job_id"] == job_id
        tasks.add(owner["slurm_array_task_id"])
    assert tasks <= {"0", "1", "2", "3"} and len(tasks) >= 2

    wait_for(lambda: not squeue_tasks(job_id), 60, "the workers and the summary to end")
    assert status(root)["launchers"] == []
    logs = sorted((root / ".alfred" / "slurm").glob(f"*-{job_id}_*.log"))
    assert len(logs) == 4
    assert (root / name / "SUMMARY_COMPLETED").exists(), "a task makes the summary"


def test_kill_a_run_then_the_search_on_slurm(slurm, project, root):
    [name] = prepare_grid(project, root, {"units": [1, 2, 3], "sleep": [300.0]})
    half = str(node_cpus() // 2)
    job_id = launch(root, "--workers", "3", "--cpus-per-task", half, "--time", "10")

    running = wait_for(lambda: running_runs(root, name, 2), 30, "two running runs")
    assert {run["slurm_job"] for run in running} == {f"{job_id}_0", f"{job_id}_1"}
    document = status(root)
    [launcher] = document["launchers"]
    assert launcher["executor"] == "slurm" and launcher["job_id"] == job_id
    assert launcher["slurm"]["running"] == 2
    assert launcher["slurm"]["tasks"]["PENDING"] == ["2"]
    text = alfred("status", "--root", root, name).stdout
    assert f"slurm {job_id}_0" in text and "1 pending (2)" in text

    victim = running[0]
    run_pid = victim["owner"]["run_pid"]
    alfred("kill", "--root", root, victim["path"])
    assert read_flag_info(Path(victim["path"]) / "KILLED")["killed_by"]
    assert not psutil.pid_exists(run_pid)

    wait_for(lambda: running_runs(root, name, 2), 30, "the worker's next run")
    owners = [run["owner"] for run in running_runs(root, name)]
    alfred("kill", "--root", root, name)
    assert counts(root)[name]["KILLED"] == 6

    wait_for(lambda: not squeue_tasks(job_id), 30, "the job array to be cancelled")
    for owner in owners:
        assert not psutil.pid_exists(owner["run_pid"])
        wait_for(lambda: not psutil.pid_exists(owner["pid"]), 10, "the worker to exit")


@pytest.mark.parametrize(
    "scancel",
    [["--signal=USR1", "--batch"], []],
    ids=["pre-termination-signal", "plain-scancel"],
)
def test_a_signalled_worker_requeues_its_run(slurm, project, root, scancel):
    [name] = prepare_grid(project, root, {"units": [1], "sleep": [300.0]})
    job_id = launch(root, "--workers", "1", "--time", "10")
    [run] = wait_for(lambda: running_runs(root, name), 30, "a running run")

    subprocess.run(["scancel", *scancel, job_id], check=True, timeout=15)
    wait_for(lambda: not squeue_tasks(job_id), 30, "the worker to leave")
    assert counts(root)[name]["UNHATCHED"] == 2
    assert not (Path(run["path"]) / "OPENED").exists()
    assert not psutil.pid_exists(run["owner"]["run_pid"])
    [script] = (root / ".alfred" / "slurm").glob("slurm-*.sh")
    assert "exec " in script.read_text() and "--signal=B:USR1@120" in script.read_text()


def test_stop_a_whole_launch_in_one_command(slurm, project, root):
    [name] = prepare_grid(project, root, {"units": [1, 2, 3], "sleep": [300.0]})
    half = str(node_cpus() // 2)
    job_id = launch(root, "--workers", "3", "--cpus-per-task", half)
    wait_for(lambda: running_runs(root, name, 2), 30, "two running runs")
    [launcher] = status(root)["launchers"]

    result = alfred("stop", "--root", root, launcher["id"])
    assert f"Slurm job {job_id} stopped" in result.stdout
    wait_for(lambda: not squeue_tasks(job_id), 30, "the job array to end")
    assert counts(root)[name]["UNHATCHED"] == 6
    assert status(root)["launchers"] == []


def test_status_says_so_when_slurm_does_not_answer(slurm, project, root, tmp_path):
    [name] = prepare_grid(project, root, {"units": [1], "sleep": [300.0]})
    job_id = launch(root, "--workers", "1")

    empty_path = tmp_path / "no-slurm-here"
    empty_path.mkdir()
    result = alfred("status", "--root", root, "--json", env={"PATH": str(empty_path)})
    [launcher] = json.loads(result.stdout)["launchers"]
    assert "squeue: not found" in launcher["slurm"]["error"]

    config = Path(slurm).read_text().replace("SlurmctldPort=", "SlurmctldPort=1")
    (tmp_path / "unreachable.conf").write_text(config)
    started = time.monotonic()
    result = alfred(
        "status",
        "--root",
        root,
        env={
            "SLURM_CONF": str(tmp_path / "unreachable.conf"),
            "ALFRED_SLURM_TIMEOUT": "1",
        },
    )
    assert time.monotonic() - started < 8
    assert (
        f"Slurm job {job_id}: state unknown (squeue: no answer in 1 s" in result.stdout
    )

    alfred("kill", "--root", root, name)
    wait_for(lambda: not squeue_tasks(job_id), 30, "the job array to end")


def test_one_squeue_serves_every_launch_and_a_kill_cancels_them_all(
    slurm, project, root
):
    [name] = prepare_grid(project, root, {"units": [1, 2], "sleep": [300.0]})
    running = launch(root, "--workers", "1")
    held = launch(root, "--workers", "1", "--sbatch-arg=--hold")  # pending for good
    wait_for(lambda: running_runs(root, name, 1), 30, "a running run")

    calls = QUEUE.calls
    launchers = {info["job_id"]: info["slurm"] for info in live_launchers(Root(root))}
    assert QUEUE.calls == calls + 1
    assert launchers[running]["running"] == 1 and launchers[held]["pending"] == 1

    result = alfred("kill", "--root", root, name)
    assert f"Slurm job {held} cancelled" in result.stdout
    for job_id in (running, held):
        wait_for(lambda: not squeue_tasks(job_id), 30, "the job arrays to end")
    assert status(root)["launchers"] == []


def test_runs_per_worker_and_no_more_workers_than_runs(slurm, project, root):
    [name] = prepare_grid(project, root, {"units": [1, 2]})
    job_id = launch(root, "--workers", "1", "--runs-per-worker", "3", "--time", "2")
    wait_for(lambda: not squeue_tasks(job_id), 30, "the worker to end")
    [script] = (root / ".alfred" / "slurm").glob("slurm-*.sh")
    assert "--signal=B:USR1@30 " in script.read_text()  # a quarter of a short limit
    assert counts(root)[name]["COMPLETED"] == 3 and counts(root)[name]["UNHATCHED"] == 1

    result = alfred("launch", "--root", root, "--executor", "slurm", "--workers", "4")
    assert "submitting 1 of the 4 workers asked for" in result.stdout
    wait_for(lambda: counts(root)[name]["COMPLETED"] == 4, 30, "the last run")

    result = alfred("launch", "--root", root, "--executor", "slurm")
    assert result.stdout.startswith("nothing to run")
    assert not status(root)["launchers"]


def test_the_queue_is_asked_less_often_while_nothing_changes(slurm):
    queue = SlurmQueue(min_interval=0.5, max_interval=4.0)
    first = queue.snapshot(["999998", "999999"])
    assert first.error is None and first.tasks == {}
    assert queue.snapshot(["999999"]) is first and queue.calls == 1

    queue._due = 0.0  # as if the interval had passed
    queue.snapshot(["999998", "999999"])
    assert queue.calls == 2 and queue.interval == 1.0

    queue.expire()
    queue.snapshot(["999999"])
    assert queue.calls == 3


def test_bad_or_impossible_requests_fail_at_submission(slurm, project, root):
    prepare_grid(project, root, {"units": [1]})
    result = alfred(
        "launch", "--root", root, "--executor", "slurm", "--time", "soon", check=False
    )
    assert result.returncode == 2 and "--time 'soon'" in result.stderr

    result = alfred(
        "launch",
        "--root",
        root,
        "--executor",
        "slurm",
        "--cpus-per-task",
        "100000",
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("alfred: error: sbatch failed:")
    assert len(result.stderr.splitlines()) == 1
    assert not list((root / ".alfred").glob("*/slurm-*"))


def test_stop_a_local_launch_too(project, root):
    [name] = prepare_grid(project, root, {"units": [1], "sleep": [300.0]})
    alfred("launch", "--root", root, "-p", "2", "--detach")
    wait_for(lambda: running_runs(root, name, 2), 30, "two running runs")
    [launcher] = status(root)["launchers"]

    result = alfred("stop", "--root", root, launcher["id"][:12])
    assert "told to stop" in result.stdout
    wait_for(
        lambda: counts(root)[name]["UNHATCHED"] == 2, 30, "the runs to be requeued"
    )
    wait_for(lambda: not psutil.pid_exists(launcher["pid"]), 10, "the launcher to exit")

    result = alfred("stop", "--root", root, launcher["id"], check=False)
    assert result.returncode == 2 and "no live launch" in result.stderr


def test_the_app_shows_the_slurm_job_of_each_running_run(slurm, project, root):
    [name] = prepare_grid(project, root, {"units": [1], "sleep": [300.0]})
    job_id = launch(root, "--workers", "1")
    [run] = wait_for(lambda: running_runs(root, name), 30, "a running run")
    try:
        asyncio.run(look_at_the_runs_table(root, project, run))
    finally:
        alfred("kill", "--root", root, name)
    wait_for(lambda: not squeue_tasks(job_id), 30, "the job array to end")


async def look_at_the_runs_table(root: Path, project: Path, run: dict) -> None:
    from alfred_tui.app import AlfredApp
    from alfred_tui.screens.runs import RunsScreen

    app = AlfredApp(root, project_dir=project, watch=False)
    async with app.run_test(size=(160, 30)) as pilot:
        for _ in range(300):
            if app.scan_complete:
                break
            await pilot.pause(0.05)
        await pilot.press("enter")
        for _ in range(300):
            if isinstance(app.screen, RunsScreen) and app.screen.loaded:
                break
            await pilot.pause(0.05)
        screen = app.screen
        cells = screen.cells(screen.rows[run["path"]], app.now())
        assert f"w0 slurm {run['slurm_job']}" in cells, cells
