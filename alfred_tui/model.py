"""What the views show, read from the root: plain data, no widgets.

Everything here runs in workers; the screens only receive the results.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from alfred_core import flags
from alfred_core.flags import State
from alfred_core.recorder import stream_path
from alfred_core.status import scan_experiment, slurm_job
from alfred_core.tree import RunDir, Search, numbered, read_json

FINISHED = (State.COMPLETED, State.CRASH, State.KILLED)
STATE_LABELS = {
    State.UNHATCHED: "ready",
    State.RUNNING: "running",
    State.LOST: "LOST",
    State.COMPLETED: "done",
    State.CRASH: "CRASH",
    State.KILLED: "killed",
    State.NOFLAG: "noflag",
}
TAIL_BYTES = 64 * 1024
SLOW_LISTING = 100e-6  # seconds per run above which listings go to a thread pool
LISTING_THREADS = 8


class SearchState:
    """The state of every run of one search, kept up to date by the app.

    Counts and the first and last flag times are kept as runs change, so that drawing
    a search costs nothing however many runs it has.
    """

    def __init__(self, search: Search) -> None:
        self.search = search
        self.states: dict[str, State] = {}
        self.tally = Counter({state: 0 for state in State})
        self.first_time: float | None = None
        self.last_time: float | None = None
        self.first_started: float | None = None
        self.scanned = False
        self.timed = False

    @property
    def name(self) -> str:
        return self.search.name

    def counts(self) -> Counter:
        return Counter(self.tally)

    def apply(self, path: str, state: State | None, mtime: float | None) -> bool:
        """Record one run's state (None: the run is gone); True if anything changed."""
        old = self.states.get(path)
        if state is None:
            if old is None:
                return False
            del self.states[path]
            self.tally[old] -= 1
            return True
        if mtime is not None:
            self.first_time = (
                mtime if self.first_time is None else min(self.first_time, mtime)
            )
            self.last_time = (
                mtime if self.last_time is None else max(self.last_time, mtime)
            )
        if old is state:
            return False
        if old is not None:
            self.tally[old] -= 1
        self.tally[state] += 1
        self.states[path] = state
        return True

    def running_paths(self) -> list[str]:
        if not self.tally[State.RUNNING]:
            return []
        return [path for path, state in self.states.items() if state is State.RUNNING]

    def elapsed_and_eta(self, now: float) -> tuple[float | None, float | None]:
        """Time since the first run started, and the time left at the rate so far."""
        if self.first_time is None:
            return None, None
        counts = self.tally
        start = min(self.first_started or self.first_time, self.first_time)
        active = counts[State.RUNNING] > 0
        end = now if active else self.last_time
        elapsed = max(0.0, end - start)
        finished = sum(counts[state] for state in FINISHED)
        remaining = counts[State.UNHATCHED] + counts[State.RUNNING]
        if not active or not finished or not remaining or elapsed <= 0:
            return elapsed, None
        return elapsed, remaining * elapsed / finished


def scan_search(search: Search, times: bool = True, pool=None) -> SearchState:
    """Every run's state in one pass; with `times`, also when flags last changed.

    Experiments are listed one after another while that is quick; when listings are
    slow (a cold cache, a network file system) and a thread pool is given, the rest
    are listed by the pool, so that the waits overlap.
    """
    search.info  # read search.json in the worker, not while drawing
    state = SearchState(search)
    now = time.time()
    experiments = search.experiment_dirs()
    started, runs, index = time.perf_counter(), 0, 0
    chunks = []
    while index < len(experiments):
        chunk = scan_experiment(experiments[index], now, times)
        chunks.append(chunk)
        runs += len(chunk)
        index += 1
        slow = time.perf_counter() - started > SLOW_LISTING * max(runs, 1)
        if pool is not None and slow and runs >= 20:
            chunks.extend(
                pool.map(lambda e: scan_experiment(e, now, times), experiments[index:])
            )
            break

    first: tuple[float, str] | None = None
    for chunk in chunks:
        for path, run_state, mtime in chunk:
            state.apply(path, run_state, mtime)
            if (
                mtime is not None
                and run_state in FINISHED
                and (first is None or mtime < first[0])
            ):
                first = (mtime, path)
    state.first_started = first_start(first, state) if first else None
    state.scanned = True
    state.timed = times
    return state


def first_start(first: tuple[float, str], state: SearchState) -> float:
    """When the earliest finished run started (read from that one flag)."""
    mtime, path = first
    info = flags.read_flag_info(Path(path) / state.states[path].value)
    started = info.get("started")
    return started if isinstance(started, (int, float)) else mtime


def read_run_state(
    path: str, now: float | None = None
) -> tuple[State | None, float | None]:
    """One run's state and flag mtime; None when its directory is gone."""
    if not os.path.isdir(path):
        return None, None
    status = flags.run_status(RunDir(path), now=now)
    return status.state, status.flag_mtime


@dataclass
class RunRow:
    """One line of the Runs view."""

    path: str
    experiment: int
    seed: int
    state: State
    params: dict
    started: float | None = None
    ended: float | None = None
    duration: float | None = None
    worker: str = ""
    host: str = ""
    gpu: str = ""
    slurm: str = ""
    metric: float | None = None
    error: str = ""
    kill_requested: bool = False

    def elapsed(self, now: float) -> float | None:
        if self.duration is not None:
            return self.duration
        if self.started is None:
            return None
        return (self.ended or now) - self.started


def read_run_row(
    path: str, metric: str | None, now: float | None = None
) -> RunRow | None:
    """A run's row: state, owner, times, varying parameters and last metric value."""
    run = RunDir(path)
    try:
        status = flags.run_status(run, now=now)
    except OSError:
        return None
    if status.state is State.NOFLAG and not os.path.isdir(path):
        return None
    try:
        unique = run.read_config_unique()
    except (OSError, ValueError):
        unique = {}
    params = {
        k: v for k, v in unique.items() if k not in ("alg_name", "task_name", "seed")
    }
    info = status.info
    owner = info.get("owner") or {}
    gpu = owner.get("gpu")
    return RunRow(
        path=path,
        experiment=numbered(os.path.basename(os.path.dirname(path)), "experiment") or 0,
        seed=numbered(os.path.basename(path), "seed") or 0,
        state=status.state,
        params=params,
        started=number_or_none(info.get("started")),
        ended=number_or_none(info.get("ended")),
        duration=number_or_none(info.get("duration")),
        worker="" if owner.get("worker") is None else f"w{owner['worker']}",
        host=str(owner.get("host") or ""),
        gpu="" if gpu is None else str(gpu),
        slurm=slurm_job(owner) or "",
        metric=last_metric_value(run, metric) if metric else None,
        error=str(info.get("error") or info.get("killed_by") or ""),
        kill_requested=status.kill_requested,
    )


def number_or_none(value) -> float | None:
    return (
        value
        if isinstance(value, (int, float)) and not isinstance(value, bool)
        else None
    )


def iter_run_rows(search: Search, metric: str | None):
    """The rows of every run of a search, by experiment and seed."""
    now = time.time()
    for run in search.runs():
        row = read_run_row(str(run.path), metric, now)
        if row is not None:
            yield row


def last_metric_value(run: RunDir, metric: str) -> float | None:
    """The last value of `metric` in the run's stream, reading only the file's end."""
    path = stream_path(run.path)
    try:
        with open(path, "rb") as file:
            size = file.seek(0, os.SEEK_END)
            file.seek(max(0, size - 4096))
            tail = file.read()
    except OSError:
        return None
    for line in reversed(tail.splitlines()):
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict) and isinstance(row.get(metric), (int, float)):
            return row[metric]
    return None


def metric_names(run: RunDir) -> list[str]:
    """The metrics a run records, from the first line of its stream."""
    try:
        with open(stream_path(run.path), "rb") as file:
            first = file.readline()
        return list(json.loads(first))
    except (OSError, ValueError, TypeError):
        return []


class LogTail:
    """Follows a log from its last `TAIL_BYTES`; never reads the whole file."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.offset: int | None = None
        self.pending = b""

    def read_new(self) -> tuple[list[str], bool]:
        """New complete lines, and whether the log restarted (shorter than before)."""
        try:
            size = os.stat(self.path).st_size
        except FileNotFoundError:
            return [], False
        restarted = self.offset is not None and size < self.offset
        if self.offset is None or restarted:
            self.offset = max(0, size - TAIL_BYTES)
            self.pending = b""
            skip_partial = self.offset > 0
        else:
            skip_partial = False
        if size == self.offset:
            return [], restarted

        with open(self.path, "rb") as file:
            file.seek(self.offset)
            chunk = self.pending + file.read(size - self.offset)
        self.offset = size
        if skip_partial:
            chunk = chunk.split(b"\n", 1)[1] if b"\n" in chunk else b""
        complete = chunk.rfind(b"\n") + 1
        self.pending = chunk[complete:]
        text = chunk[:complete].decode("utf-8", errors="replace")
        return text.splitlines(), restarted


def read_flag_details(run: RunDir) -> dict:
    """The run's flag file content (owner, times, error, traceback)."""
    status = flags.run_status(run)
    if status.flag is None:
        return {"state": status.state.value}
    return {"state": status.state.value, "flag": status.flag, **status.info}


def read_config(run: RunDir) -> dict:
    try:
        return read_json(run.config_path)
    except (OSError, ValueError) as error:
        return {"error": f"{run.config_path}: {error}"}


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    if seconds < 86400:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d{seconds % 86400 // 3600:02d}h"


def format_value(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def run_label(path: str) -> str:
    """`experiment3/seed2` for a seed dir."""
    return "/".join(Path(path).parts[-2:])


@dataclass
class Changes:
    """What a burst of file events means for the views."""

    root: bool = False
    searches: set[str] = field(default_factory=set)
    states: set[str] = field(default_factory=set)
    activity: set[str] = field(default_factory=set)
    launchers: bool = False

    def __bool__(self) -> bool:
        return bool(
            self.root or self.searches or self.states or self.activity or self.launchers
        )


def classify(root: Path, paths: set[str]) -> Changes:
    """Sort changed paths into searches to rescan, runs whose state may have changed,
    and runs whose logs or metrics grew."""
    changes = Changes()
    root_text = str(root)
    for path in paths:
        if not path.startswith(root_text):
            continue
        parts = Path(path[len(root_text) :].lstrip(os.sep)).parts
        if not parts:
            continue
        if parts[0] == ".alfred":
            changes.launchers |= len(parts) > 1 and parts[1] == "launchers"
            continue
        if len(parts) == 1:
            changes.root = True
        elif len(parts) == 2:
            if parts[1].startswith("experiment"):
                changes.searches.add(parts[0])
        elif len(parts) == 3 and parts[2].startswith("seed"):
            changes.states.add(os.path.join(root_text, *parts))
        elif len(parts) >= 4 and parts[2].startswith("seed"):
            seed_dir = os.path.join(root_text, *parts[:3])
            name = parts[3]
            if name in STATE_FILE_NAMES or (name.startswith(".") and len(parts) == 4):
                changes.states.add(seed_dir)
            else:
                changes.activity.add(seed_dir)
    return changes


STATE_FILE_NAMES = {
    flags.UNHATCHED,
    flags.OPENED,
    flags.COMPLETED,
    flags.CRASH,
    flags.KILLED,
    "KILL_REQUEST",
    flags.RESETTING,
}
