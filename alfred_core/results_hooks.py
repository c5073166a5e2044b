"""What a launcher does when one of its searches is fully COMPLETED."""

from __future__ import annotations

import json
import logging
import os
import time
import traceback

import psutil

from alfred_core.flags import HOST
from alfred_core.tree import Search, read_json, write_json_atomic

logger = logging.getLogger(__name__)

# Markers in the storage dir; `alfred clean` removes SUMMARY_* with the summaries.
ONGOING = "SUMMARY_ONGOING"
DONE = "SUMMARY_COMPLETED"
FAILED = "SUMMARY_FAILED"


def after_search_done(search: Search) -> bool:
    """Make the search's plot arrays and summary once; True if this call made them.

    The ONGOING marker is created atomically, so of all the launchers that see the
    search complete only one works on it; a failure is written to SUMMARY_FAILED.
    """
    run_count = len(search.runs())
    if already_done(search, run_count) or (search.path / FAILED).exists():
        return False
    if not take_marker(search):
        return False

    from alfred_core.results.export import export_figures

    started = time.time()
    try:
        files = export_figures(search)
    except Exception as error:
        write_json_atomic(
            search.path / FAILED,
            {
                "host": HOST,
                "pid": os.getpid(),
                "time": time.time(),
                "error": f"{type(error).__name__}: {error}",
                "traceback": traceback.format_exc(),
            },
        )
        logger.warning(
            "%s: summary failed (%s); see %s", search.name, error, search.path / FAILED
        )
        return False
    finally:
        (search.path / ONGOING).unlink(missing_ok=True)

    write_json_atomic(
        search.path / DONE,
        {
            "host": HOST,
            "pid": os.getpid(),
            "time": time.time(),
            "seconds": round(time.time() - started, 2),
            "runs": run_count,
            "files": [str(path.relative_to(search.path)) for path in files],
        },
    )
    logger.info("%s: every run completed; plot arrays and summary written", search.name)
    return True


def already_done(search: Search, run_count: int) -> bool:
    """A summary exists and covers every run of the search (none added since)."""
    try:
        done = read_json(search.path / DONE)
    except FileNotFoundError:
        return False
    except (OSError, ValueError):
        return True  # being written by another process
    return done.get("runs", run_count) == run_count


def take_marker(search: Search) -> bool:
    """Create SUMMARY_ONGOING, or take over one left by a process that died."""
    path = search.path / ONGOING
    record = json.dumps({"host": HOST, "pid": os.getpid(), "time": time.time()})
    for _ in range(2):
        try:
            descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            if not holder_gone(path):
                return False
            path.unlink(missing_ok=True)
            continue
        with os.fdopen(descriptor, "w") as file:
            file.write(record)
        return True
    return False


def holder_gone(path) -> bool:
    """Whether the process that wrote an ONGOING marker on this host has died."""
    try:
        holder = read_json(path)
    except (OSError, ValueError):
        return False
    if holder.get("host") != HOST or not holder.get("pid"):
        return time.time() - holder.get("time", time.time()) > 3600
    return not psutil.pid_exists(holder["pid"])
