"""Clean: put interrupted runs (and on request crashed and killed ones) back to UNHATCHED."""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field

from alfred_core import flags
from alfred_core.flags import State
from alfred_core.status import run_statuses
from alfred_core.tree import Search

logger = logging.getLogger(__name__)

ALWAYS = (State.LOST, State.NOFLAG)
WITH_CRASHES = (State.CRASH, State.KILLED)


@dataclass
class CleanPlan:
    """Runs to reset per search, and runs left alone because their owner is alive."""

    resets: list[flags.RunStatus] = field(default_factory=list)
    running: list[flags.RunStatus] = field(default_factory=list)
    searches: set[Search] = field(default_factory=set)

    def counts(self) -> dict[str, int]:
        counts = {}
        for status in self.resets:
            counts[status.state.value] = counts.get(status.state.value, 0) + 1
        return counts

    def describe(self) -> str:
        counts = self.counts()
        if not counts:
            text = "nothing to clean"
        else:
            text = "reset to UNHATCHED: " + ", ".join(
                f"{n} {s}" for s, n in counts.items()
            )
        if self.running:
            text += f" ({len(self.running)} running runs left alone)"
        return text


def plan_clean(searches: list[Search], crashes: bool = False) -> CleanPlan:
    """Which runs a clean would reset; COMPLETED and live runs are never among them."""
    wanted = ALWAYS + (WITH_CRASHES if crashes else ())
    plan = CleanPlan()
    for search in searches:
        for status in run_statuses(search):
            if status.state in wanted:
                plan.resets.append(status)
                plan.searches.add(search)
            elif status.state is State.RUNNING:
                plan.running.append(status)
    return plan


def execute_clean(plan: CleanPlan) -> int:
    """Reset the planned runs (each checked again just before) and drop stale summaries."""
    reset = 0
    for planned in plan.resets:
        status = flags.run_status(planned.run)
        if status.state is not planned.state:
            logger.info("%s: now %s; left alone", planned.run.name, status.state)
            continue
        if flags.reset(status.run, status.flag):
            reset += 1
    for search in plan.searches:
        drop_summaries(search)
    return reset


def drop_summaries(search: Search) -> None:
    """A summary made before some runs were reset no longer describes the search."""
    for stale in (search.summary_dir, search.path / "plots"):
        if stale.exists():
            shutil.rmtree(stale)
            logger.info("removed the stale %s", stale)
    for marker in search.path.glob("SUMMARY_*"):
        marker.unlink()
