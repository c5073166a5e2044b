"""Launch: a pool of worker processes, in the foreground or detached from the terminal."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from alfred_core import flags
from alfred_core.errors import AlfredError, TreeError
from alfred_core.launchers import LauncherRecord, logs_dir
from alfred_core.project import check_main_file, git_hashes
from alfred_core.tree import Root, Search, check_storage_name

logger = logging.getLogger(__name__)


@dataclass
class LaunchOptions:
    workers: int = 1
    max_runs: int | None = None
    gpus: list[str] = field(default_factory=list)
    clean_interrupted: bool = False
    check_hash: bool = True
    grace: float = 5.0


def read_search_list(path: Path | str) -> list[str]:
    """Storage names from a list_searches_*.txt file, one a line."""
    path = Path(path).expanduser()
    try:
        lines = path.read_text().splitlines()
    except OSError as error:
        raise TreeError(
            f"{path}: cannot read it ({error.strerror}); give a list file"
        ) from None
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def resolve_searches(root: Root, names, from_file=None) -> list[Search]:
    """The searches named, in order, without repeats; every search of the root if none."""
    names = list(names or [])
    if from_file:
        names += read_search_list(from_file)
    if not names:
        return root.searches()
    seen = []
    for name in names:
        name = Path(name).name if Path(name).parent == root.path else name
        search = root.search(check_storage_name(name))
        if search not in seen:
            seen.append(search)
    return seen


def check_launchable(searches: list[Search], check_hash: bool) -> Path:
    """One project, with a usable main.py and (unless told not to) the searches' code."""
    if not searches:
        raise TreeError("no search to launch; prepare one first (`alfred prepare`)")
    projects = {search.project_dir for search in searches}
    if None in projects:
        bad = next(s for s in searches if s.project_dir is None)
        raise TreeError(
            f"{bad.meta_path}: names no project_dir; this search was made by another "
            "tool: re-prepare it with `alfred prepare`"
        )
    if len(projects) > 1:
        raise AlfredError(
            "these searches come from different projects; launch them apart"
        )
    project_dir = projects.pop()
    check_main_file(project_dir)

    if check_hash:
        current = git_hashes(project_dir)
        for search in searches:
            if search.info.git_hashes and search.info.git_hashes != current:
                raise AlfredError(
                    f"{search.path}: prepared at commit {search.info.git_hashes} but the "
                    f"code is at {current}; check out that commit, or pass --no-check-hash"
                )
    return project_dir


def worker_command(
    root: Root, searches, index: int, launcher_id: str, options: LaunchOptions
) -> list[str]:
    command = [
        sys.executable,
        "-m",
        "alfred_core.worker",
        "--root",
        str(root.path),
        "--index",
        str(index),
        "--launcher",
        launcher_id,
        "--grace",
        str(options.grace),
        "--parent",
        str(os.getpid()),
    ]
    for search in searches:
        command += ["--search", search.name]
    if options.max_runs is not None:
        command += ["--max-runs", str(options.max_runs)]
    if options.gpus:
        command += ["--gpu", options.gpus[index % len(options.gpus)]]
    return command


class Launcher:
    """Starts the workers, keeps its record alive, and stops them cleanly on a signal."""

    def __init__(
        self,
        root: Root,
        searches: list[Search],
        options: LaunchOptions,
        after_search_done=None,
    ):
        self.root = root
        self.searches = searches
        self.options = options
        self.id = f"{flags.HOST}.{os.getpid()}"
        self.stop_signal: int | None = None
        self.after_search_done = after_search_done

    def _on_signal(self, signum, frame) -> None:
        self.stop_signal = signum
        for process in getattr(self, "processes", []):
            if process.poll() is None:
                try:
                    process.send_signal(signal.SIGTERM)
                except ProcessLookupError:
                    pass

    def run(self) -> int:
        """Run the pool to the end; the exit code is 0, 2 (a worker's error) or 128+signal."""
        record = LauncherRecord(
            self.root,
            self.id,
            {
                "searches": [search.name for search in self.searches],
                "workers": self.options.workers,
                "gpus": self.options.gpus,
                "executor": "local",
                "log": os.environ.get("ALFRED_LAUNCHER_LOG"),
            },
        )
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, self._on_signal)
        try:
            return self._supervise(record)
        finally:
            record.remove()

    def _supervise(self, record: LauncherRecord) -> int:
        self.processes = []
        for index in range(self.options.workers):
            command = worker_command(
                self.root, self.searches, index, self.id, self.options
            )
            self.processes.append(subprocess.Popen(command, stdin=subprocess.DEVNULL))
        logger.info(
            "launcher %s: %d workers on %d searches",
            self.id,
            len(self.processes),
            len(self.searches),
        )

        pending = set(self.searches)
        reported: set[int] = set()
        while self._any_alive():
            time.sleep(0.05)
            record.beat()
            pending = self._report_done(pending)
            self._report_dead_workers(reported)
        self._report_done(pending)
        self._report_dead_workers(reported)

        codes = [process.returncode for process in self.processes]
        if self.stop_signal is not None:
            return 128 + self.stop_signal
        if any(code == 2 for code in codes):
            return 2
        return 0 if all(code == 0 for code in codes) else 1

    def _report_dead_workers(self, reported: set[int]) -> None:
        """Say once, in one line, which worker died and what became of its run."""
        for index, process in enumerate(self.processes):
            code = process.returncode
            if code is None or code >= 0 or index in reported or self.stop_signal:
                continue
            reported.add(index)
            logger.error(
                "worker %d (pid %d) died of %s; its run shows LOST and `alfred clean` "
                "requeues it",
                index,
                process.pid,
                signal.Signals(-code).name,
            )

    def _any_alive(self) -> bool:
        return any(process.poll() is None for process in self.processes)

    def _report_done(self, pending: set[Search]) -> set[Search]:
        """Call the completion hook once for each search that became fully COMPLETED."""
        if self.after_search_done is None or not pending:
            return pending
        now = time.monotonic()
        if now - getattr(self, "_last_check", 0.0) < 30.0 and self._any_alive():
            return pending
        self._last_check = now
        from alfred_core.status import search_counts

        still = set()
        for search in pending:
            counts = search_counts(search)
            total = sum(counts.values())
            if total and counts[flags.State.COMPLETED] == total:
                try:
                    self.after_search_done(search)
                except Exception as error:  # recorded by the hook; never fatal here
                    logger.warning(
                        "%s: after-completion work failed: %s", search.name, error
                    )
            else:
                still.add(search)
        return still


def summarize_in_background(search: Search) -> None:
    """Make a completed search's summary in a process of its own, logged in the root.

    The launcher does not wait for it, so it exits as soon as its last run is done.
    """
    folder = logs_dir(Root(search.root))
    folder.mkdir(parents=True, exist_ok=True)
    code = (
        "import sys; from alfred_core.results_hooks import after_search_done; "
        "from alfred_core.tree import Search; after_search_done(Search(sys.argv[1]))"
    )
    with open(folder / f"summary-{search.name}.log", "ab") as log:
        subprocess.Popen(
            [sys.executable, "-c", code, str(search.path)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    logger.info("%s: every run completed; its summary is being made", search.name)


def detach(argv: list[str], root: Root) -> tuple[int, Path]:
    """Start this launch again in a new session, writing to a log in the root."""
    folder = logs_dir(root)
    folder.mkdir(parents=True, exist_ok=True)
    log_path = folder / f"launch-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    env = {**os.environ, "ALFRED_LAUNCHER_LOG": str(log_path)}
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "alfred_core.cli", *argv],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
        )
    return process.pid, log_path
