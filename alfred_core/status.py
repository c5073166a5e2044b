"""Status: the state of every run, counted per search, as text or as a JSON document.

The JSON document (`alfred status --json`, format 1):

    {"format": 1, "root": str, "time": float,
     "launchers": [{"id", "host", "pid", "started", "searches", "workers", "executor",
                    ...}],
     "searches": [{"name", "alg_name", "task_name", "search_type", "desc",
                   "total", "counts": {"UNHATCHED": n, "RUNNING": n, "LOST": n,
                                       "COMPLETED": n, "CRASH": n, "KILLED": n,
                                       "NOFLAG": n}}],
     "runs": [{"path", "search", "experiment", "seed", "state", "owner",
               "started", "ended", "heartbeat", "error", "killed_by", "slurm_job"}]}

`runs` is present only when searches are named. Times are Unix seconds.

Slurm: a run's `slurm_job` is "ARRAYJOB_TASK" (or the plain job id) of the Slurm task
running it, else null; its `owner` keeps slurm_job_id, slurm_array_job_id and
slurm_array_task_id. A launcher with `"executor": "slurm"` has `job_id` and
`"slurm": {"job_id", "tasks": {STATE: [task ids]}, "running": n, "pending": n,
"error", "checked"}` from one `squeue` for all launchers; `error` says why Slurm could
not be asked (the counts are then empty), `checked` is when it was asked.
"""

from __future__ import annotations

import os
import time
from collections import Counter

from alfred_core import flags
from alfred_core.flags import State, run_status
from alfred_core.launchers import live_launchers
from alfred_core.tree import Root, RunDir, Search

FORMAT = 1


def run_statuses(search: Search) -> list[flags.RunStatus]:
    """The status of every run of a search, by experiment and seed."""
    now = time.time()
    return [run_status(run, now=now) for run in search.runs()]


def search_counts(search: Search) -> Counter:
    """How many runs of a search are in each state (reading flag contents only for OPENED)."""
    by_flag = Counter()
    opened = []
    for experiment_dir in search.experiment_dirs():
        experiment = str(experiment_dir)
        for seed in os.listdir(experiment):
            if not seed.startswith("seed"):
                continue
            path = f"{experiment}/{seed}"
            try:
                flag = flags.flag_of(os.listdir(path))
            except (FileNotFoundError, NotADirectoryError):
                continue
            by_flag[flag] += 1
            if flag == flags.OPENED:
                opened.append(path)

    counts = Counter({state: 0 for state in State})
    for flag, number in by_flag.items():
        if flag is None:
            counts[State.NOFLAG] += number
        elif flag != flags.OPENED:
            counts[State(flag)] += number
    now = time.time()
    for path in opened:  # only these need their owner read
        counts[run_status(RunDir(path), now=now).state] += 1
    return counts


def search_entry(search: Search, counts: Counter) -> dict:
    info = search.info
    return {
        "name": search.name,
        "alg_name": info.alg_name,
        "task_name": info.task_name,
        "search_type": info.search_type,
        "desc": info.desc,
        "total": sum(counts.values()),
        "counts": {state.value: counts[state] for state in State},
    }


def run_entry(status: flags.RunStatus) -> dict:
    info = status.info
    return {
        "path": str(status.run.path),
        "search": status.run.storage_dir.name,
        "experiment": status.run.experiment_num,
        "seed": status.run.seed,
        "state": status.state.value,
        "owner": info.get("owner"),
        "started": info.get("started"),
        "ended": info.get("ended"),
        "heartbeat": status.flag_mtime if status.flag == flags.OPENED else None,
        "error": info.get("error") or info.get("text"),
        "killed_by": info.get("killed_by"),
        "slurm_job": slurm_job(info.get("owner")),
    }


def slurm_job(owner: dict | None) -> str | None:
    """The Slurm job (ARRAYJOB_TASK) of a run's owner, or None outside Slurm."""
    owner = owner or {}
    if owner.get("slurm_array_job_id") and owner.get("slurm_array_task_id") is not None:
        return f"{owner['slurm_array_job_id']}_{owner['slurm_array_task_id']}"
    return owner.get("slurm_job_id")


def status_document(root: Root, names: list[str] | None = None) -> dict:
    """The whole status of a root, or of the searches named with their runs."""
    searches = [root.search(name) for name in names] if names else root.searches()
    document = {
        "format": FORMAT,
        "root": str(root.path),
        "time": time.time(),
        "launchers": live_launchers(root),
        "searches": [],
    }
    if names:
        document["runs"] = []
    for search in searches:
        if names:
            statuses = run_statuses(search)
            counts = Counter({state: 0 for state in State})
            counts.update(status.state for status in statuses)
            document["runs"].extend(run_entry(status) for status in statuses)
        else:
            counts = search_counts(search)
        document["searches"].append(search_entry(search, counts))
    return document


COLUMNS = (
    ("UNHATCHED", "ready"),
    ("RUNNING", "running"),
    ("LOST", "lost"),
    ("COMPLETED", "done"),
    ("CRASH", "crash"),
    ("KILLED", "killed"),
)


def format_status(document: dict) -> str:
    """A plain-text table of a status document, for the terminal."""
    lines = []
    header = f"{'search':<60} " + " ".join(f"{label:>7}" for _, label in COLUMNS)
    lines.append(header)
    for search in document["searches"]:
        name = search["name"]
        name = name if len(name) <= 60 else name[:57] + "..."
        counts = search["counts"]
        cells = " ".join(f"{counts[state]:>7}" for state, _ in COLUMNS)
        lines.append(f"{name:<60} {cells}")
        if counts.get("NOFLAG"):
            lines.append(
                f"    {counts['NOFLAG']} runs without a flag (`alfred clean` requeues them)"
            )
    if not document["searches"]:
        lines.append("(no search in this root)")

    for run in document.get("runs", []):
        owner = run["owner"] or {}
        where = f"{owner.get('host')}:{owner.get('pid')}" if owner else ""
        if run.get("slurm_job") and run["state"] in ("RUNNING", "LOST"):
            where += f" slurm {run['slurm_job']}"
        detail = run["error"] or (
            f"killed by {run['killed_by']}" if run["killed_by"] else ""
        )
        lines.append(
            f"  {run['search'][:40]}/experiment{run['experiment']}/seed{run['seed']}: "
            f"{run['state']} {where} {(detail or '').splitlines()[0] if detail else ''}".rstrip()
        )

    for launcher in document["launchers"]:
        age = time.time() - launcher.get("started", time.time())
        lines.append(
            f"launcher {launcher['id']} ({launcher.get('executor', 'local')}, "
            f"{launcher.get('workers')} workers, up {age:.0f}s): "
            + ", ".join(launcher.get("searches", []))
        )
        if "slurm" in launcher:
            lines.append("    " + describe_slurm(launcher["slurm"]))
    return "\n".join(lines)


def describe_slurm(job: dict) -> str:
    """One line on a Slurm launch: its tasks running and pending, or why unknown."""
    if job.get("error"):
        return f"Slurm job {job['job_id']}: state unknown ({job['error']})"
    pending = job["tasks"].get("PENDING", [])
    text = (
        f"Slurm job {job['job_id']}: {job['running']} tasks running, "
        f"{len(pending)} pending"
    )
    if pending:
        text += f" ({', '.join(pending[:8])}{', ...' if len(pending) > 8 else ''})"
    others = {
        state: ids
        for state, ids in job["tasks"].items()
        if state not in ("RUNNING", "PENDING")
    }
    if others:
        text += ", " + ", ".join(
            f"{len(ids)} {state.lower()}" for state, ids in others.items()
        )
    return text


def scan_states(search: Search, now: float | None = None, times: bool = True):
    """Yield (seed dir, state, flag mtime) for every run, one directory listing each.

    The fast path of the terminal app: flag contents are read only for OPENED runs;
    the mtime is None for UNHATCHED runs, runs without a flag, and with `times` off
    for finished runs too (one stat fewer per run).
    """
    now = time.time() if now is None else now
    for experiment_dir in search.experiment_dirs():
        yield from scan_experiment(experiment_dir, now, times)


def scan_experiment(experiment_dir, now: float, times: bool = True) -> list[tuple]:
    """`scan_states` of one experiment dir, as a list (threads can share the work)."""
    found = []
    folder = str(experiment_dir)
    for name in os.listdir(folder):
        if not name.startswith("seed"):
            continue
        path = os.path.join(folder, name)
        try:
            names = os.listdir(path)
        except (FileNotFoundError, NotADirectoryError):
            continue
        flag = flags.flag_of(names)
        if flag is None or flag == flags.UNHATCHED:
            found.append(
                (path, State.NOFLAG if flag is None else State.UNHATCHED, None)
            )
        elif flag == flags.OPENED:
            status = run_status(RunDir(path), set(names), now)
            found.append((path, status.state, status.flag_mtime))
        elif not times:
            found.append((path, State(flag), None))
        else:
            try:
                mtime = os.stat(os.path.join(path, flag)).st_mtime
            except FileNotFoundError:
                mtime = None
            found.append((path, State(flag), mtime))
    return found
