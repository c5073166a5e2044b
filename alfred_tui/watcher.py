"""File events under the root, one call per burst: inotify, else polling."""

from __future__ import annotations

import logging
import os
import threading
import warnings
from pathlib import Path
from typing import Callable

from watchdog import events
from watchdog.observers import Observer

from alfred_core.recorder import stream_path
from alfred_core.status import scan_states
from alfred_core.tree import Root, RunDir

logger = logging.getLogger(__name__)

# Reads (our own scans open every directory) are not asked for: they would flood
# the queue.
WATCHED_EVENTS = [
    events.DirCreatedEvent,
    events.DirDeletedEvent,
    events.DirMovedEvent,
    events.FileCreatedEvent,
    events.FileDeletedEvent,
    events.FileModifiedEvent,
    events.FileMovedEvent,
]
REMOTE_FILE_SYSTEMS = {
    "nfs",
    "nfs4",
    "cifs",
    "smbfs",
    "smb3",
    "lustre",
    "gpfs",
    "beegfs",
    "fuse.sshfs",
    "9p",
    "afs",
    "ceph",
    "glusterfs",
}

Report = Callable[[set[str]], None]

# watchdog warns when a directory moved into the tree (a prepared search) is watched
# again; the watch is right, and a warning would print over the app.
warnings.filterwarnings("ignore", message="Callback with id", category=RuntimeWarning)


def is_remote(path: Path) -> bool:
    """Whether `path` is on a network file system (inotify misses other hosts)."""
    try:
        with open("/proc/mounts") as mounts:
            table = [line.split()[1:3] for line in mounts if len(line.split()) > 2]
    except OSError:
        return False
    resolved = str(path.resolve())
    best, kind = "", ""
    for mount_point, fs_type in table:
        inside = resolved == mount_point or resolved.startswith(
            mount_point.rstrip("/") + "/"
        )
        if inside and len(mount_point) > len(best):
            best, kind = mount_point, fs_type
    return kind in REMOTE_FILE_SYSTEMS


class _Collector(events.FileSystemEventHandler):
    """Gathers the paths of events and reports them once a burst has settled."""

    def __init__(self, report: Report, debounce: float):
        self.report = report
        self.debounce = debounce
        self.paths: set[str] = set()
        self.lock = threading.Lock()
        self.timer: threading.Timer | None = None

    def on_any_event(self, event: events.FileSystemEvent) -> None:
        with self.lock:
            self.paths.add(os.fsdecode(event.src_path))
            if getattr(event, "dest_path", ""):
                self.paths.add(os.fsdecode(event.dest_path))
            if self.timer is None:
                self.timer = threading.Timer(self.debounce, self.flush)
                self.timer.daemon = True
                self.timer.start()

    def flush(self) -> None:
        with self.lock:
            paths, self.paths, self.timer = self.paths, set(), None
        if paths:
            self.report(paths)

    def cancel(self) -> None:
        with self.lock:
            if self.timer is not None:
                self.timer.cancel()
            self.timer = None


class RootWatcher:
    """A watchdog observer on the root; `start` raises OSError where inotify cannot."""

    def __init__(self, root: Path, report: Report, debounce: float = 0.04):
        self.root = root
        self.collector = _Collector(report, debounce)
        self.observer = None

    def start(self) -> None:
        observer = Observer()
        observer.schedule(
            self.collector, str(self.root), recursive=True, event_filter=WATCHED_EVENTS
        )
        observer.daemon = True
        try:
            observer.start()  # adds the watches now: may raise OSError (watch limit)
        except OSError:
            observer.unschedule_all()  # give back the watches added before the limit
            raise
        self.observer = observer

    def stop(self) -> None:
        self.collector.cancel()
        if self.observer is not None:
            self.observer.stop()
            self.observer.join(timeout=2)
            self.observer = None


class Poller:
    """Rescans the root, waiting longer after each scan that found nothing new."""

    def __init__(
        self, root: Path, report: Report, shortest: float = 0.5, longest: float = 8.0
    ):
        self.root = Root(root)
        self.report = report
        self.shortest = shortest
        self.longest = longest
        self.interval = shortest
        self.stopped = threading.Event()
        self.seen: dict[str, tuple] = {}
        self.followed: set[str] = set()

    def follow(self, run_paths: set[str]) -> None:
        """Also report changes of these runs' logs and metrics (open in a view)."""
        self.followed = set(run_paths)

    def stop(self) -> None:
        self.stopped.set()

    def run(self) -> None:
        """Poll until `stop`; meant for a thread."""
        first = True
        while not self.stopped.is_set():
            changed = self.scan()
            if changed and not first:
                self.report(changed)
            first = False
            self.interval = (
                self.shortest if changed else min(self.longest, self.interval * 2)
            )
            self.stopped.wait(self.interval)

    def scan(self) -> set[str]:
        seen: dict[str, tuple] = {}
        for search in self.root.searches(warn_foreign=False):
            seen[str(search.path)] = ()
            for path, state, _ in scan_states(search):
                seen[path] = (state,)
                if self.stopped.is_set():
                    return set()
        for path in self.followed:
            run = RunDir(path)
            seen[str(run.log_path)] = file_signature(run.log_path)
            metrics = stream_path(run.path)
            seen[str(metrics)] = file_signature(metrics)
        launchers = self.root.admin_dir / "launchers"
        seen[str(launchers)] = (
            tuple(sorted(os.listdir(launchers))) if launchers.is_dir() else ()
        )

        changed = {path for path, value in seen.items() if self.seen.get(path) != value}
        changed |= self.seen.keys() - seen.keys()
        self.seen = seen
        return changed


def file_signature(path: Path) -> tuple:
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return ()
    return (stat.st_size, stat.st_mtime)
