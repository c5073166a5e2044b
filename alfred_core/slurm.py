"""The Slurm executor: one job array of workers, submitted with `sbatch`, watched with
one batched `squeue`, stopped with `scancel`.

Slurm places the workers; each worker claims runs from the shared file system exactly as
a local worker does. The batch script `exec`s the worker, so the worker is the batch
step's process: `--signal=B:USR1@LEAD` (before a time limit or a preemption) reaches the
worker alone, which stops its run and puts it back to UNHATCHED.
"""

from __future__ import annotations

import logging
import os
import re
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from alfred_core import flags
from alfred_core.errors import AlfredError
from alfred_core.tree import Root, Search, write_json_atomic

logger = logging.getLogger(__name__)

COMMAND_TIMEOUT = float(os.environ.get("ALFRED_SLURM_TIMEOUT", 10))
_TIME_LIMIT = re.compile(r"^(\d+-)?\d+(:\d{1,2}){0,2}$|^(?i:unlimited|infinite)$")


class SlurmError(AlfredError):
    """A Slurm command is missing, failed or did not answer in time."""


@dataclass
class SlurmOptions:
    workers: int = 1
    partition: str | None = None
    time: str | None = None
    gres: str | None = None
    cpus_per_task: int | None = None
    mem: str | None = None
    sbatch_args: list[str] = field(default_factory=list)
    runs_per_worker: int | None = None
    signal_lead: int = 120
    grace: float = 5.0


def slurm_dir(root: Root) -> Path:
    """Where the batch scripts and the workers' logs of a root are kept."""
    return root.admin_dir / "slurm"


def run_slurm(command: list[str], timeout: float = COMMAND_TIMEOUT) -> str:
    """Run a Slurm client command (no shell): its stdout, or a one-line SlurmError."""
    try:
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
    except FileNotFoundError:
        raise SlurmError(
            f"{command[0]}: not found; run alfred where Slurm's client commands are "
            "installed (a login node)"
        ) from None
    except subprocess.TimeoutExpired:
        raise SlurmError(
            f"{command[0]}: no answer in {timeout:.0f} s; the Slurm controller may be "
            "busy or down (try again, or check `sinfo`)"
        ) from None
    if result.returncode != 0:
        lines = (result.stderr.strip() or result.stdout.strip()).splitlines()
        message = lines[-1] if lines else f"exit code {result.returncode}"
        if "configuration" in message and not os.environ.get("SLURM_CONF"):
            message += " (set SLURM_CONF to the cluster's slurm.conf)"
        raise SlurmError(f"{command[0]} failed: {message}")
    return result.stdout


def check_options(options: SlurmOptions) -> None:
    """Refuse option values that Slurm would reject later, or never run."""
    if options.workers < 1:
        raise AlfredError("--workers must be at least 1")
    if options.runs_per_worker is not None and options.runs_per_worker < 1:
        raise AlfredError("--runs-per-worker must be at least 1")
    if options.cpus_per_task is not None and options.cpus_per_task < 1:
        raise AlfredError("--cpus-per-task must be at least 1")
    if options.time and not _TIME_LIMIT.match(options.time):
        raise AlfredError(
            f"--time {options.time!r}: give minutes, HH:MM:SS or D-HH:MM:SS, as sbatch "
            "takes them"
        )
    if options.signal_lead < 0:
        raise AlfredError("--signal-lead must be 0 or more seconds")


def time_limit_seconds(limit: str) -> int | None:
    """Seconds in an sbatch time limit (minutes, MM:SS, HH:MM:SS, D-HH[:MM[:SS]])."""
    if not _TIME_LIMIT.match(limit) or not limit[0].isdigit():
        return None
    days, _, clock = limit.rpartition("-")
    parts = [int(part) for part in clock.split(":")]
    if days:
        hours, minutes, seconds = (parts + [0, 0])[:3]
    elif len(parts) == 3:
        hours, minutes, seconds = parts
    else:
        hours, (minutes, seconds) = 0, (parts + [0])[:2]
    return ((int(days or 0) * 24 + hours) * 60 + minutes) * 60 + seconds


def signal_lead(options: SlurmOptions) -> int:
    """The pre-termination lead, kept under a quarter of a short time limit."""
    limit = time_limit_seconds(options.time) if options.time else None
    if limit is not None and options.signal_lead > limit // 4:
        return limit // 4
    return options.signal_lead


def job_name(searches: list[Search]) -> str:
    """The search's name, or the first one's and how many more."""
    name = searches[0].name
    return name if len(searches) == 1 else f"{name}+{len(searches) - 1}"


def batch_script(
    root: Root, searches: list[Search], launch_id: str, options: SlurmOptions
) -> str:
    """A shell script that becomes one worker (the array task's index is its index)."""
    worker = [
        sys.executable,
        "-m",
        "alfred_core.slurm",
        "--root",
        str(root.path),
        "--launcher",
        launch_id,
        "--grace",
        str(options.grace),
    ]
    for search in searches:
        worker += ["--search", search.name]
    if options.runs_per_worker is not None:
        worker += ["--max-runs", str(options.runs_per_worker)]
    command = " ".join(shlex.quote(part) for part in worker)
    return (
        "#!/bin/sh\n"
        f"# alfred launch {launch_id}: one worker per array task\n"
        f'exec {command} --index "${{SLURM_ARRAY_TASK_ID:-0}}"\n'
    )


def sbatch_command(
    script: Path, name: str, log_pattern: str, options: SlurmOptions
) -> list[str]:
    command = [
        "sbatch",
        "--parsable",
        f"--job-name={name}",
        f"--array=0-{options.workers - 1}",
        f"--output={log_pattern}",
        f"--signal=B:USR1@{signal_lead(options)}",
    ]
    for flag, value in (
        ("--partition", options.partition),
        ("--time", options.time),
        ("--gres", options.gres),
        ("--mem", options.mem),
        ("--cpus-per-task", options.cpus_per_task),
    ):
        if value is not None:
            command.append(f"{flag}={value}")
    return [*command, *options.sbatch_args, str(script)]


@dataclass
class Submission:
    launch_id: str
    job_id: str
    script: Path
    log_pattern: str
    record_path: Path


def submit(root: Root, searches: list[Search], options: SlurmOptions) -> Submission:
    """Submit one job array of workers and leave a launcher record; returns at once."""
    from alfred_core.launchers import launchers_dir

    check_options(options)
    launch_id = f"slurm-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    folder = slurm_dir(root)
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / f"{launch_id}.sh"
    log_pattern = str(folder / f"{launch_id}-%A_%a.log")
    name = job_name(searches)
    command = sbatch_command(script, name, log_pattern, options)
    script.write_text(
        batch_script(root, searches, launch_id, options)
        + f"# submitted with: {shlex.join(command)}\n"
    )

    try:
        output = run_slurm(command)
    except SlurmError:
        script.unlink()
        raise
    job_id = output.strip().split(";")[0]
    if not job_id.isdigit():
        raise SlurmError(f"sbatch answered {output.strip()!r} instead of a job id")

    record_path = launchers_dir(root) / f"{launch_id}.json"
    record_path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(
        record_path,
        {
            "id": launch_id,
            "executor": "slurm",
            "host": flags.HOST,
            "started": time.time(),
            "searches": [search.name for search in searches],
            "workers": options.workers,
            "gpus": options.gres,
            "job_id": job_id,
            "job_name": name,
            "log": log_pattern.replace("%A", job_id),
            "script": str(script),
        },
    )
    logger.debug(
        "launch %s: Slurm job array %s of %d workers",
        launch_id,
        job_id,
        options.workers,
    )
    return Submission(
        launch_id, job_id, script, log_pattern.replace("%A", job_id), record_path
    )


@dataclass
class QueueSnapshot:
    """What one `squeue` said: the task states of each job, or why it could not say."""

    tasks: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    error: str | None = None
    time: float = 0.0

    def job(self, job_id: str) -> dict:
        """A launcher's `slurm` entry: its tasks by state, with counts."""
        states = self.tasks.get(str(job_id), {})
        return {
            "job_id": str(job_id),
            "tasks": states,
            "running": len(states.get("RUNNING", [])),
            "pending": len(states.get("PENDING", [])),
            "error": self.error,
            "checked": self.time,
        }


def parse_squeue(output: str) -> dict[str, dict[str, list[str]]]:
    """`squeue -h -r -o %F|%K|%T` lines -> {array job id: {state: [task ids]}}."""
    jobs: dict[str, dict[str, list[str]]] = {}
    for line in output.splitlines():
        parts = line.strip().split("|")
        if len(parts) != 3:
            continue
        job_id, task_id, state = parts
        task_id = task_id if task_id not in ("N/A", "") else "0"
        jobs.setdefault(job_id, {}).setdefault(state, []).append(task_id)
    return jobs


class SlurmQueue:
    """One `squeue` for every job asked about, reused until it is due again.

    The interval doubles (up to `max_interval`) while the queue does not change or
    Slurm does not answer, and drops back to `min_interval` when something moves.
    """

    def __init__(
        self,
        min_interval: float = 2.0,
        max_interval: float = 30.0,
        timeout: float = COMMAND_TIMEOUT,
    ):
        self.min_interval = min_interval
        self.max_interval = max_interval
        self.timeout = timeout
        self.interval = min_interval
        self.calls = 0
        self._asked: frozenset[str] = frozenset()
        self._snapshot: QueueSnapshot | None = None
        self._due = 0.0

    def expire(self) -> None:
        """Ask Slurm again on the next call (after this process changed the queue)."""
        self._due = 0.0
        self.interval = self.min_interval

    def snapshot(self, job_ids) -> QueueSnapshot:
        """The state of these jobs, from the cache when it is fresh enough."""
        asked = frozenset(str(job_id) for job_id in job_ids)
        now = time.monotonic()
        if self._snapshot is not None and asked <= self._asked and now < self._due:
            return self._snapshot
        if not asked:
            return QueueSnapshot(time=time.time())

        previous = self._snapshot
        self.calls += 1
        try:
            output = run_slurm(
                ["squeue", "-h", "-r", "-j", ",".join(sorted(asked)), "-o", "%F|%K|%T"],
                self.timeout,
            )
            snapshot = QueueSnapshot(parse_squeue(output), None, time.time())
        except SlurmError as error:
            if "Invalid job id" in str(error):
                snapshot = QueueSnapshot({}, None, time.time())  # all of them are gone
            else:
                logger.info("%s", error)
                snapshot = QueueSnapshot({}, str(error), time.time())

        moved = (
            previous is None or previous.tasks != snapshot.tasks or asked != self._asked
        )
        if moved and snapshot.error is None:
            self.interval = self.min_interval
        else:
            self.interval = min(self.interval * 2, self.max_interval)
        self._snapshot, self._asked = snapshot, asked
        self._due = now + self.interval
        return snapshot


QUEUE = SlurmQueue()


def live_slurm_launches(records: list[tuple[Path, dict]]) -> list[dict]:
    """The Slurm launch records whose job is still queued or running, with their
    `slurm` entry; records of finished jobs are removed (kept when Slurm is silent)."""
    records = [
        (path, info) for path, info in records if str(info.get("job_id", "")).isdigit()
    ]  # a hand-edited record is skipped
    snapshot = QUEUE.snapshot(info["job_id"] for _, info in records)
    alive = []
    for path, info in records:
        job = snapshot.job(info.get("job_id"))
        if snapshot.error is None and not job["tasks"]:
            logger.debug("removing the record of a finished Slurm launch: %s", path)
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
            continue
        alive.append({**info, "slurm": job})
    return alive


def cancel(
    job_id: str,
    pending_only: bool = False,
    signal_name: str | None = None,
    batch_only: bool = False,
) -> None:
    """`scancel` a job array: all its tasks, only the pending ones, or a signal."""
    command = ["scancel"]
    if pending_only:
        command.append("--state=PENDING")
    if signal_name:
        command.append(f"--signal={signal_name}")
    if batch_only:
        command.append("--batch")
    try:
        run_slurm([*command, str(job_id)])
    except SlurmError as error:
        if "Invalid job id" not in str(error):
            raise
        logger.debug("Slurm job %s had already ended", job_id)
    QUEUE.expire()


def stop_job(job_id: str) -> None:
    """Stop a launch's workers: pending tasks go, running workers requeue their runs.

    The stop signal goes to the workers alone (`--batch`): a worker stops its run and
    puts it back to UNHATCHED before it exits, which ends its task.
    """
    cancel(job_id, pending_only=True)
    cancel(job_id, signal_name="TERM", batch_only=True)


def task_main(argv: list[str] | None = None) -> int:
    """One array task: a worker, then the summary of each of its searches that the
    worker saw fully COMPLETED (one task makes it; the others see its marker)."""
    import argparse

    from alfred_core.status import search_counts
    from alfred_core.worker import main as worker_main

    code = worker_main(argv)
    if code != 0 or os.environ.get("ALFRED_AUTO_SUMMARY", "1") == "0":
        return code

    from alfred_core.results_hooks import after_search_done

    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--root")
    parser.add_argument("--search", action="append")
    args, _ = parser.parse_known_args(argv)
    root = Root(args.root)
    for name in args.search:
        search = root.search(name)
        counts = search_counts(search)
        if counts[flags.State.COMPLETED] == sum(counts.values()):
            after_search_done(search)
    return code


if __name__ == "__main__":
    sys.exit(task_main())
