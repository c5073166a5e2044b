"""Kill runs, experiments or searches, wherever their owners run.

A running run gets a kill request file that its owner acts on within a second; a run
not started yet is marked KILLED at once, so that no worker starts it; a run whose owner
is gone is marked KILLED directly.
"""

from __future__ import annotations

import getpass
import logging
import time
from dataclasses import dataclass, field

import psutil

from alfred_core import flags
from alfred_core.flags import State
from alfred_core.tree import RunDir
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

    def describe(self) -> str:
        parts = [f"{len(self.stopped)} running runs killed",
                 f"{len(self.unstarted)} unstarted runs cancelled"]
        if self.untouched:
            parts.append(f"{self.untouched} finished runs left as they are")
        if self.unanswered:
            parts.append(f"{len(self.unanswered)} runs whose owner has not answered yet "
                         "(they stop when it does)")
        return ", ".join(parts)


def kill_runs(runs: list[RunDir], by: str | None = None, wait: float = 10.0) -> KillReport:
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
    logger.warning("%s: its worker did not answer; killing the run directly", status.run.name)
    terminate_tree(owner["run_pid"], 2.0)
    flags.finish(status.run, flags.KILLED, {"killed_by": by})
    return True
