"""A worker claims runs one at a time and executes each in a child process of its own.

The worker imports the project once; each run is a child forked after that import, in a
process group of its own, so a segfault, an out-of-memory kill or `os._exit` in one run
ends only that run, and a kill stops that run's whole process tree.
"""

from __future__ import annotations

import argparse
import ctypes
import functools
import json
import logging
import os
import select
import signal
import sys
import time
import traceback
from collections import deque
from pathlib import Path

import psutil

from alfred_core import flags
from alfred_core.directory_tree import DirectoryTree
from alfred_core.errors import AlfredError
from alfred_core.progress import RunProgress
from alfred_core.project import Project, load_project
from alfred_core.tree import Root, RunDir, read_json, runs_of_experiment

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.25
PR_SET_PDEATHSIG = 1
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1)


def pending_runs(searches) -> list[RunDir]:
    """UNHATCHED runs in claim order: the first seed of every experiment, then the next."""
    ranked = []
    for search_rank, search in enumerate(searches):
        for experiment_dir in search.experiment_dirs():
            for seed_rank, run in enumerate(runs_of_experiment(experiment_dir)):
                if os.path.exists(os.path.join(run.path, flags.UNHATCHED)):
                    ranked.append((seed_rank, search_rank, run))
    ranked.sort(key=lambda item: (item[0], item[1]))
    return [run for _, _, run in ranked]


def terminate_tree(pid: int, grace: float) -> int:
    """TERM a run's process group and descendants, KILL what is left after `grace`.

    Returns the wait status of the run's process, which this reaps.
    """
    try:
        descendants = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        descendants = []

    def signal_all(signum):
        try:
            os.killpg(pid, signum)
        except (ProcessLookupError, PermissionError):
            pass
        for process in descendants:
            try:
                process.send_signal(signum)
            except psutil.NoSuchProcess:
                pass

    signal_all(signal.SIGTERM)
    status, gone = wait_for_tree(pid, descendants, grace)
    if not gone:
        signal_all(signal.SIGKILL)
        status, _ = wait_for_tree(pid, descendants, grace)
    return status


def is_alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def wait_for_tree(pid: int, descendants, timeout: float) -> tuple[int | None, bool]:
    """Wait for a run's process and descendants to end: (its status if ours, all gone)."""
    deadline = time.monotonic() + timeout
    status = None
    ours = True
    while True:
        if status is None and ours:
            try:
                reaped, wait_status = os.waitpid(pid, os.WNOHANG)
                status = wait_status if reaped else None
            except ChildProcessError:
                ours = False
        main_gone = status is not None or (not ours and not psutil.pid_exists(pid))
        if main_gone and not any(is_alive(p) for p in descendants):
            return status, True
        if time.monotonic() >= deadline:
            return status, False
        time.sleep(0.02)


@functools.cache
def _libc():
    return ctypes.CDLL(None, use_errno=True)


def die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its parent dies, as if its node died."""
    try:
        _libc().prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        logger.debug("prctl is not available; children may outlive their parent")


def describe_exit(status: int) -> dict:
    """Exit code, or the signal that ended a run, in words."""
    code = os.waitstatus_to_exitcode(status)
    if code >= 0:
        return {"exit_code": code}
    name = signal.Signals(-code).name
    hint = " (out of memory, or killed from outside)" if -code == signal.SIGKILL else ""
    return {"signal": name, "error": f"the run's process died of {name}{hint}"}


class ExitWaiter:
    """Waits for a child to exit, waking at once: a pidfd where the kernel has them
    (Linux 5.3), else waitpid polls that back off from 1 ms."""

    def __init__(self, pid: int):
        self.pid = pid
        self.status: int | None = None
        try:
            self.pidfd = os.pidfd_open(pid)
        except (AttributeError, OSError):
            self.pidfd = None
            return
        self.poller = select.poll()
        self.poller.register(self.pidfd, select.POLLIN)

    def wait(self, timeout: float) -> bool:
        """True once the child has exited (within `timeout` seconds)."""
        if self.pidfd is not None:
            return bool(self.poller.poll(timeout * 1000))
        deadline = time.monotonic() + timeout
        pause = 0.001
        while True:
            reaped, status = os.waitpid(self.pid, os.WNOHANG)
            if reaped:
                self.status = status
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(pause)
            pause = min(pause * 2, 0.05)

    def close(self) -> None:
        if self.pidfd is not None:
            os.close(self.pidfd)


class Worker:
    """Claims and executes runs of some searches until none is left."""

    def __init__(
        self,
        root: Root,
        search_names: list[str],
        index: int = 0,
        launcher: str | None = None,
        max_runs: int | None = None,
        gpu: str | None = None,
        grace: float = 5.0,
    ):
        self.root = root
        self.searches = [root.search(name) for name in search_names]
        self.searches_by_path = {search.path: search for search in self.searches}
        self.index = index
        self.launcher = launcher
        self.max_runs = max_runs
        self.gpu = gpu
        self.grace = grace
        self.stop_signal: int | None = None
        self.project: Project | None = None
        self.executed: list[tuple[str, str]] = []

    def owner(self) -> dict:
        extra = {"launcher": self.launcher, "worker": self.index, "gpu": self.gpu}
        for key in ("SLURM_JOB_ID", "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID"):
            if os.environ.get(key):
                extra[key.lower()] = os.environ[key]
        return flags.owner_record(**extra)

    def _on_signal(self, signum, frame) -> None:
        self.stop_signal = signum

    def serve(self) -> int:
        """Execute runs until none is left, `max_runs` are done, or a stop signal comes."""
        if self.gpu is not None:
            os.environ["CUDA_VISIBLE_DEVICES"] = self.gpu
        project_dirs = {search.project_dir for search in self.searches}
        if len(project_dirs) != 1 or None in project_dirs:
            raise AlfredError(
                "these searches do not name one project (search.json project_dir); "
                "launch each project's searches separately"
            )
        self.project = load_project(project_dirs.pop())
        self.project.main_takes_pbar  # worked out once, before any fork
        previous = {
            signum: signal.signal(signum, self._on_signal) for signum in STOP_SIGNALS
        }
        try:
            return self._claim_and_execute()
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _claim_and_execute(self) -> int:
        owner = self.owner()
        queue: deque[RunDir] = deque(pending_runs(self.searches))
        rescanned = False
        done = 0
        while self.stop_signal is None and (
            self.max_runs is None or done < self.max_runs
        ):
            if not queue:
                if rescanned:
                    break
                queue.extend(pending_runs(self.searches))
                rescanned = True
                continue
            run = queue.popleft()
            if flags.claim(run, owner):
                self.execute(run, owner)
                done += 1
                rescanned = False
        return done

    def execute(self, run: RunDir, owner: dict) -> str:
        """Run one claimed run in a child process and write its final flag."""
        started = time.time()
        sys.stdout.flush()
        sys.stderr.flush()

        worker_pid = os.getpid()
        pid = os.fork()
        if pid == 0:
            die_with_parent()
            if os.getppid() != worker_pid:
                os._exit(1)
            self._run_in_child(run)  # never returns

        flags.append_record(
            run.flag_path(flags.OPENED), {"owner": {**owner, "run_pid": pid}}
        )
        ending, status = self._watch(run, pid)
        outcome = self._conclude(run, ending, status, started)
        self.executed.append((str(run.path), outcome))
        return outcome

    def _watch(self, run: RunDir, pid: int) -> tuple[str, int | None]:
        """Wait for the run's process, keeping the heartbeat and acting on kill requests."""
        waiter = ExitWaiter(pid)
        last_beat = time.monotonic()
        try:
            while not waiter.wait(POLL_SECONDS):
                if self.stop_signal is not None:
                    return "interrupted", self._reap(
                        pid, terminate_tree(pid, self.grace)
                    )
                if os.path.exists(run.kill_request_path):
                    return "killed", self._reap(pid, terminate_tree(pid, self.grace))
                if time.monotonic() - last_beat >= flags.HEARTBEAT_INTERVAL:
                    flags.heartbeat(run)
                    last_beat = time.monotonic()
        finally:
            waiter.close()
        status = self._reap(pid, waiter.status)
        if self.stop_signal is not None and os.waitstatus_to_exitcode(status) < 0:
            return "interrupted", status  # the stop reached the run too (e.g. scancel)
        return "exited", status

    @staticmethod
    def _reap(pid: int, status: int | None) -> int:
        if status is None:
            _, status = os.waitpid(pid, 0)
        return status

    def _conclude(self, run: RunDir, ending: str, status: int, started: float) -> str:
        duration = round(time.time() - started, 3)
        if ending == "interrupted":
            flags.reset(run, flags.OPENED)
            logger.info("%s: interrupted, put back to UNHATCHED", run.name)
            return flags.UNHATCHED

        if ending == "killed":
            request = flags.read_flag_info(run.kill_request_path)
            flags.finish(
                run,
                flags.KILLED,
                {
                    "killed_by": request.get("by", "a kill request"),
                    "duration": duration,
                },
            )
            logger.info("%s: killed", run.name)
            return flags.KILLED

        exit_info = describe_exit(status)
        if exit_info.get("exit_code") == 0:
            flags.finish(run, flags.COMPLETED, {"duration": duration})
            return flags.COMPLETED

        crash = {"time": time.time(), "duration": duration, **exit_info}
        try:
            crash.update(read_json(run.result_path))
            os.unlink(run.result_path)
        except (FileNotFoundError, ValueError):
            crash.setdefault(
                "error", f"the run's process exited with code {crash.get('exit_code')}"
            )
        flags.finish(run, flags.CRASH, crash)
        logger.warning("%s: CRASH (%s)", run.name, crash["error"])
        return flags.CRASH

    def _run_in_child(self, run: RunDir) -> None:
        code = 1
        try:
            os.setpgid(0, 0)
            for signum in STOP_SIGNALS:
                signal.signal(signum, signal.SIG_DFL)
            os.environ["ALFRED_SEED_DIR"] = str(run.path)
            redirect_output(run.log_path)
            run_logger = make_run_logger()
            config = load_run_config(run)

            info = self.searches_by_path[run.storage_dir].info
            dir_tree = DirectoryTree.init_from_seed_path(run.path, info=info)
            progress = RunProgress(run.progress_path)
            self.project.run_main(config, dir_tree, run_logger, progress)
            progress.close()  # the last count, not the last one written a second ago
            code = 0
        except SystemExit as error:
            code = 0 if error.code in (None, 0) else 1
            if code:
                write_result(run, f"SystemExit: {error.code}")
        except BaseException as error:
            write_result(run, f"{type(error).__name__}: {error}")
        finally:
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(code)


def redirect_output(log_path: Path) -> None:
    """Send the run's stdout and stderr (Python's and C's) to its log file."""
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    null_fd = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null_fd, 0)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.close(log_fd)
    os.close(null_fd)
    sys.stdout.reconfigure(line_buffering=True)
    sys.stderr.reconfigure(line_buffering=True)


def make_run_logger() -> logging.Logger:
    run_logger = logging.getLogger("alfred.run")
    run_logger.handlers.clear()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    run_logger.addHandler(handler)
    run_logger.setLevel(logging.INFO)
    run_logger.propagate = False
    return run_logger


def load_run_config(run: RunDir) -> argparse.Namespace:
    try:
        config = read_json(run.config_path)
    except FileNotFoundError:
        raise RuntimeError(
            f"{run.config_path}: missing; re-prepare this search"
        ) from None
    except ValueError as error:
        raise RuntimeError(
            f"{run.config_path}: not valid JSON ({error}); fix the file, then "
            "`alfred clean --crashes` requeues the run"
        ) from None
    if not isinstance(config, dict):
        raise RuntimeError(f"{run.config_path}: must hold a JSON object")
    return argparse.Namespace(**config)


def write_result(run: RunDir, error: str) -> None:
    """Leave the error and traceback for the worker, and in the run's log."""
    text = traceback.format_exc()
    sys.stderr.write(text)
    with open(run.result_path, "w") as file:
        json.dump({"error": error, "traceback": text}, file)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="alfred-worker")
    parser.add_argument("--root", required=True)
    parser.add_argument("--search", action="append", required=True)
    parser.add_argument("--index", type=int, default=0)
    parser.add_argument("--launcher")
    parser.add_argument("--max-runs", type=int)
    parser.add_argument("--gpu")
    parser.add_argument("--grace", type=float, default=5.0)
    parser.add_argument("--parent", type=int, help="die with this launcher process")
    args = parser.parse_args(argv)
    if args.parent:
        die_with_parent()
        if os.getppid() != args.parent:
            return 1
    logging.basicConfig(
        level=os.environ.get("ALFRED_LOG_LEVEL", "INFO"),
        format="%(asctime)s worker %(process)d %(levelname)s %(message)s",
    )
    try:
        worker = Worker(
            Root(args.root),
            args.search,
            args.index,
            args.launcher,
            args.max_runs,
            args.gpu,
            args.grace,
        )
        done = worker.serve()
    except AlfredError as error:
        print(f"alfred: error: {error}", file=sys.stderr)
        return error.exit_code
    logger.debug("worker %s: %d runs done", args.index, done)
    return 128 + worker.stop_signal if worker.stop_signal else 0


if __name__ == "__main__":
    sys.exit(main())
