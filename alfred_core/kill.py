"""Kill runs, experiments or searches, wherever their owners run.

A running run gets a kill request file that its owner acts on within a second; a run
not started yet is marked KILLED at once, so that no worker starts it; a run whose owner
is gone is marked KILLED directly. The Slurm tasks of a launch are cancelled once it
has nothing left to run; `stop_launch` stops a whole launch, requeueing its runs.
"""

from __future__ import annotations

import getpass
import logging
import os
import signal
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from alfred_core import flags
from alfred_core.flags import State
from alfred_core.tree import Root, RunDir
from alfred_core.worker import terminate_tree

logger = logging.getLogger(__name__)


def who() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "someone"
    return f"{user}@{flags.HOST}"


@dataclass
class KillReport:
    stopped: list[RunDir] = field(default_factory=list)
    unstarted: list[RunDir] = field(default_factory=list)
    unanswered: list[RunDir] = field(default_factory=list)
    untouched: int = 0
    slurm: list[str] = field(default_factory=list)

    def describe(self) -> str:
        parts = [
            f"{len(self.stopped)} running runs killed",
            f"{len(self.unstarted)} unstarted runs cancelled",
        ]
        if self.untouched:
            parts.append(f"{self.untouched} finished runs left as they are")
        if self.unanswered:
            parts.append(
                f"{len(self.unanswered)} runs whose owner has not answered yet "
                "(they stop when it does)"
            )
        return "\n".join([", ".join(parts), *self.slurm])


def kill_runs(
    runs: list[RunDir], by: str | None = None, wait: float = 10.0
) -> KillReport:
    """Kill every run given; waits up to `wait` seconds for owners to confirm."""
    by = by or who()
    report = KillReport()
    requested = []
    for run in runs:
        for _ in range(3):  # a run may change state under us: look again
            status = flags.run_status(run)
            if status.state is State.UNHATCHED:
                if flags.kill_unhatched(run, by):
                    report.unstarted.append(run)
                    break
            elif status.state is State.RUNNING:
                flags.request_kill(run, by)
                requested.append(status)
                break
            elif status.state is State.LOST:
                if flags.kill_lost(run, by):
                    report.stopped.append(run)
                    break
            else:
                report.untouched += 1
                break

    deadline = time.monotonic() + wait
    waiting = list(requested)
    while waiting and time.monotonic() < deadline:
        time.sleep(0.1)
        waiting = [s for s in waiting if flags.run_status(s.run).state is State.RUNNING]
    for status in waiting:
        if not kill_locally(status, by):
            report.unanswered.append(status.run)
    report.stopped += [s.run for s in requested if s.run not in report.unanswered]

    searches_by_root: dict[Path, set[str]] = {}
    for run in runs:
        searches_by_root.setdefault(run.storage_dir.parent, set()).add(
            run.storage_dir.name
        )
    for root_path, names in searches_by_root.items():
        if root_path.is_dir():
            report.slurm += cancel_slurm_tasks(Root(root_path), names)
    return report


def kill_locally(status: flags.RunStatus, by: str) -> bool:
    """Stop a run whose owner on this host did not answer, and mark it ourselves."""
    owner = status.owner or {}
    if owner.get("host") != flags.HOST or not owner.get("run_pid"):
        return False
    try:
        psutil.Process(owner["run_pid"])
    except psutil.NoSuchProcess:
        return flags.kill_lost(status.run, by)
    logger.warning(
        "%s: its worker did not answer; killing the run directly", status.run.name
    )
    terminate_tree(owner["run_pid"], 2.0)
    flags.finish(status.run, flags.KILLED, {"killed_by": by})
    return True


def cancel_slurm_tasks(root: Root, names: set[str]) -> list[str]:
    """After a kill: cancel the Slurm tasks of launches on these searches that have
    nothing left to run (pending tasks once no run waits, all tasks once none runs)."""
    from alfred_core.launchers import live_launchers
    from alfred_core.slurm import SlurmError, cancel
    from alfred_core.status import search_counts

    messages = []
    for launcher in live_launchers(root):
        if launcher.get("executor") != "slurm" or not names & set(launcher["searches"]):
            continue
        counts = Counter()
        for name in launcher["searches"]:
            if (root.path / name).is_dir():
                counts.update(search_counts(root.search(name)))
        job_id = launcher["job_id"]
        try:
            if counts[State.UNHATCHED] == 0 and counts[State.RUNNING] == 0:
                cancel(job_id)
                messages.append(f"Slurm job {job_id} cancelled")
            elif counts[State.UNHATCHED] == 0:
                cancel(job_id, pending_only=True)
                messages.append(f"pending tasks of Slurm job {job_id} cancelled")
        except SlurmError as error:
            messages.append(f"Slurm job {job_id} not cancelled: {error}")
    return messages


def find_launch(root, launch: str) -> dict:
    """A live launch by its id, a unique start of it, or its Slurm job id."""
    from alfred_core.errors import AlfredError
    from alfred_core.launchers import live_launchers

    launchers = live_launchers(root)
    exact = [
        info
        for info in launchers
        if launch in (info["id"], str(info.get("job_id", "")))
    ]
    found = exact or [info for info in launchers if info["id"].startswith(launch)]
    if len(found) == 1:
        return found[0]
    known = ", ".join(info["id"] for info in launchers) or "none"
    what = "no live launch" if not found else "more than one launch"
    raise AlfredError(
        f"{launch!r}: {what} has this id in {root.path} (live: {known}); "
        "`alfred status` lists them"
    )


def stop_launch(root, launch: str) -> str:
    """Stop every worker of a launch; their unfinished runs go back to UNHATCHED."""
    from alfred_core.errors import AlfredError
    from alfred_core.slurm import stop_job

    info = find_launch(root, launch)
    if info.get("executor") == "slurm":
        stop_job(info["job_id"])
        return (
            f"launch {info['id']}: Slurm job {info['job_id']} stopped; its workers "
            "put their runs back to UNHATCHED"
        )

    if info.get("host") != flags.HOST:
        raise AlfredError(
            f"launch {info['id']} runs on {info.get('host')}; run `alfred stop` there"
        )
    try:
        os.kill(info["pid"], signal.SIGTERM)
    except ProcessLookupError:
        return f"launch {info['id']} had already ended"
    return (
        f"launch {info['id']}: told to stop; its workers put their runs back to "
        "UNHATCHED"
    )
