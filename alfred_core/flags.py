"""The FLAG protocol: each run's state is one file in its seed dir.

UNHATCHED -> OPENED -> COMPLETED | CRASH | KILLED. Every change of flag is one rename
or replace that only one caller can win, so runs are claimed exactly once by any number
of workers on any number of hosts sharing the file system. When two flags stand in one
dir for an instant (a worker dies between two steps), the later state wins.
"""

from __future__ import annotations

import enum
import json
import logging
import os
import shutil
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from alfred_core.tree import RunDir, write_json_atomic

logger = logging.getLogger(__name__)

UNHATCHED = "UNHATCHED"
OPENED = "OPENED"
COMPLETED = "COMPLETED"
CRASH = "CRASH"
KILLED = "KILLED"
RESETTING = ".RESETTING"

# Terminal flags first: the first present is the run's flag.
FLAG_PRIORITY = (COMPLETED, CRASH, KILLED, OPENED, UNHATCHED)
KEPT_ON_RESET = {"config.json", "config_unique.json"}

HEARTBEAT_INTERVAL = 5.0
HEARTBEAT_TIMEOUT = float(os.environ.get("ALFRED_HEARTBEAT_TIMEOUT", 60))
HOST = socket.gethostname()


class State(str, enum.Enum):
    """What a run is, as every view reports it."""

    UNHATCHED = "UNHATCHED"
    RUNNING = "RUNNING"
    LOST = "LOST"
    COMPLETED = "COMPLETED"
    CRASH = "CRASH"
    KILLED = "KILLED"
    NOFLAG = "NOFLAG"

    def __str__(self) -> str:
        return self.value


STATE_ORDER = tuple(State)


@dataclass
class RunStatus:
    """A run's state with what its flag file says (owner, times, error)."""

    run: RunDir
    state: State
    flag: str | None
    info: dict = field(default_factory=dict)
    flag_mtime: float | None = None
    kill_requested: bool = False

    @property
    def owner(self) -> dict | None:
        return self.info.get("owner")


def flag_of(names) -> str | None:
    """The run's flag among the names of its seed dir's entries."""
    for flag in FLAG_PRIORITY:
        if flag in names:
            return flag
    return None


def seed_dir_names(path: Path) -> set[str]:
    try:
        with os.scandir(path) as entries:
            return {entry.name for entry in entries}
    except FileNotFoundError:
        return set()


def read_flag_info(path: Path) -> dict:
    """What a flag holds: JSON records, one a line, later keys winning.

    Flags of the old tools hold plain text, kept as `text`; a torn last line (a writer
    caught mid-write) is skipped.
    """
    try:
        with open(path, "rb") as file:
            data = file.read()
    except (FileNotFoundError, IsADirectoryError):
        return {}
    info: dict = {}
    lines = data.splitlines()
    for number, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if not isinstance(record, dict):
            if number == 0 and not info:
                return {"text": data.decode(errors="replace")}
            continue
        info.update(record)
    return info


def append_record(path: Path, record: dict) -> None:
    """Add one JSON line to a flag: no new file and no deleted one on the hot path."""
    line = (json.dumps(record, default=str) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def owner_alive(owner: dict | None, heartbeat: float, now: float | None = None) -> bool:
    """Whether the holder of an OPENED run is still there.

    On this host the owner's pid (and its start time) decides; elsewhere the heartbeat,
    the flag's modification time, which a live owner refreshes every few seconds.
    """
    now = time.time() if now is None else now
    if owner and owner.get("host") == HOST and owner.get("pid"):
        try:
            process = psutil.Process(owner["pid"])
            started = owner.get("pid_started")
            return started is None or abs(process.create_time() - started) < 1.0
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            return False
    return now - heartbeat < HEARTBEAT_TIMEOUT


def run_status(run: RunDir, names: set[str] | None = None, now: float | None = None):
    """Read one run's state from its seed dir."""
    names = seed_dir_names(run.path) if names is None else names
    flag = flag_of(names)
    kill_requested = "KILL_REQUEST" in names
    if flag is None:
        return RunStatus(run, State.NOFLAG, None, kill_requested=kill_requested)
    if flag == UNHATCHED:
        return RunStatus(run, State.UNHATCHED, flag, kill_requested=kill_requested)

    path = run.flag_path(flag)
    info = read_flag_info(path)
    try:
        mtime = path.stat().st_mtime
    except FileNotFoundError:
        return run_status(run, now=now)  # the flag changed under us: read again

    if flag == OPENED:
        alive = owner_alive(info.get("owner"), mtime, now)
        state = State.RUNNING if alive else State.LOST
    else:
        state = State(flag)
    return RunStatus(run, state, flag, info, mtime, kill_requested)


def owner_record(**extra) -> dict:
    """Who holds a run: this host and process, with what the caller adds."""
    me = psutil.Process()
    return {"host": HOST, "pid": me.pid, "pid_started": me.create_time(), **extra}


def claim(run: RunDir, owner: dict) -> bool:
    """Take an UNHATCHED run; True for the one caller that wins it."""
    opened = run.flag_path(OPENED)
    try:
        os.rename(run.flag_path(UNHATCHED), opened)
    except FileNotFoundError:
        return False

    if any(run.flag_path(flag).exists() for flag in (COMPLETED, CRASH, KILLED)):
        # A later flag stands beside the one we took (a reset raced a finish).
        os.unlink(opened)
        return False

    append_record(opened, {"owner": owner, "started": time.time()})
    return True


def heartbeat(run: RunDir) -> bool:
    """Refresh the OPENED flag's time; False when the run is no longer ours."""
    try:
        os.utime(run.flag_path(OPENED))
        return True
    except FileNotFoundError:
        return False


def finish(run: RunDir, flag: str, info: dict) -> None:
    """Turn OPENED into a terminal flag that also holds `info`."""
    opened = run.flag_path(OPENED)
    append_record(opened, {"ended": time.time(), **info})
    os.rename(opened, run.flag_path(flag))
    if flag == KILLED:
        clear_kill_request(run)


def kill_unhatched(run: RunDir, by: str) -> bool:
    """Mark a run that has not started as KILLED; False if it was taken meanwhile."""
    killed = run.flag_path(KILLED)
    try:
        os.rename(run.flag_path(UNHATCHED), killed)
    except FileNotFoundError:
        return False
    append_record(killed, {"killed_by": by, "ended": time.time()})
    return True


def kill_lost(run: RunDir, by: str) -> bool:
    """Mark a run whose owner is gone as KILLED."""
    killed = run.flag_path(KILLED)
    try:
        os.rename(run.flag_path(OPENED), killed)
    except FileNotFoundError:
        return False
    append_record(killed, {"killed_by": by, "ended": time.time()})
    clear_kill_request(run)
    return True


def request_kill(run: RunDir, by: str) -> None:
    """Leave a kill request that the run's owner acts on, wherever it runs."""
    write_json_atomic(
        run.kill_request_path, {"by": by, "time": time.time()}, indent=None
    )


def clear_kill_request(run: RunDir) -> None:
    try:
        os.unlink(run.kill_request_path)
    except FileNotFoundError:
        pass


def reset(run: RunDir, flag: str | None) -> bool:
    """Put a run back to UNHATCHED, keeping only its two config files.

    The flag is first renamed to a private name, so that of two cleaners only one
    resets the run, and no worker claims it before its old files are gone.
    """
    resetting = run.flag_path(RESETTING)
    try:
        if flag is None:
            os.close(os.open(resetting, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        else:
            os.rename(run.flag_path(flag), resetting)
    except FileNotFoundError:
        return False
    except FileExistsError:
        if time.time() - resetting.stat().st_mtime < 60:
            return False  # another cleaner is at it; one left by a dead one is taken

    for entry in os.scandir(run.path):
        if entry.name in KEPT_ON_RESET or entry.name == RESETTING:
            continue
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path)
        else:
            os.unlink(entry.path)

    os.truncate(resetting, 0)  # the new run starts from an empty flag
    os.rename(resetting, run.flag_path(UNHATCHED))
    return True
