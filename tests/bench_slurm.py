"""Benchmark of the Slurm executor on a reachable cluster ($SLURM_CONF).

    python tests/bench_slurm.py

Prints: how long `alfred launch --executor slurm` takes to return; the time from
submission to the first run started; 8 runs of 2 s with 8 workers beside the same 8
tasks submitted as a bare `sbatch --array` of `sleep 2` (the scheduler's floor); 40
empty runs with 4 workers; `alfred status` with a Slurm launch beside one without
(the cost of the one `squeue`).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from conftest import write_grid, write_project


def alfred(*args) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "alfred_core.cli", *map(str, args)],
        capture_output=True,
        text=True,
        check=True,
        stdin=subprocess.DEVNULL,
    )
    return result.stdout


def prepare(folder: Path, runs: int, sleep: float) -> Path:
    """A search of `runs` runs that each sleep `sleep` seconds (the tests' project)."""
    project = write_project(folder / "project")
    schedule = write_grid(
        project, {"units": list(range(runs)), "sleep": [sleep]}, seeds=(1,)
    )
    root = folder / "storage"
    alfred(
        "prepare",
        schedule,
        "--desc",
        "b",
        "--root",
        root,
        "--project",
        project,
        "--yes",
    )
    return root


def counts(root: Path) -> dict:
    document = json.loads(alfred("status", "--root", root, "--json"))
    return document["searches"][0]["counts"]


def job_gone(job_id: str) -> bool:
    output = subprocess.run(
        ["squeue", "-h", "-j", job_id], capture_output=True, text=True
    ).stdout
    return not output.strip()


def wait(condition, timeout: float = 300) -> float:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise SystemExit("timed out")
        time.sleep(0.05)
    return time.monotonic() - started


def launch(root: Path, workers: int) -> tuple[float, str]:
    started = time.monotonic()
    output = alfred(
        "launch", "--root", root, "--executor", "slurm", "--workers", workers
    )
    elapsed = time.monotonic() - started
    return elapsed, output.split("job array ")[1].split()[0]


def bench_runs(folder: Path, runs: int, sleep: float, workers: int) -> dict:
    root = prepare(folder, runs, sleep)
    started = time.monotonic()
    submit, job_id = launch(root, workers)
    first = wait(lambda: counts(root)["UNHATCHED"] < runs) + submit
    wait(lambda: counts(root)["COMPLETED"] == runs)
    done = time.monotonic() - started
    wait(lambda: job_gone(job_id))
    return {
        "submit": submit,
        "first": first,
        "done": done,
        "ended": time.monotonic() - started,
    }


def bench_bare_array(folder: Path, tasks: int, sleep: float) -> float:
    started = time.monotonic()
    job_id = subprocess.run(
        [
            "sbatch",
            "--parsable",
            f"--array=0-{tasks - 1}",
            f"--output={folder}/bare-%a.log",
            "--wrap",
            f"sleep {sleep}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    wait(lambda: job_gone(job_id))
    return time.monotonic() - started


def bench_status(root: Path, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        started = time.monotonic()
        alfred("status", "--root", root)
        times.append(time.monotonic() - started)
    return statistics.median(times)


def main() -> None:
    if not os.environ.get("SLURM_CONF") or shutil.which("sbatch") is None:
        raise SystemExit('needs a Slurm cluster: eval "$(.ci/slurm.sh start)" first')
    folder = Path(tempfile.mkdtemp(prefix="alfred-bench-slurm-"))
    try:
        bare = bench_bare_array(folder, 8, 2.0)
        eight = bench_runs(folder / "eight", 8, 2.0, 8)
        print(
            f"8 runs of 2 s, 8 workers: {eight['done']:.1f} s to all COMPLETED, "
            f"{eight['ended']:.1f} s to the array's end; bare sbatch array of 8 "
            f"`sleep 2`: {bare:.1f} s"
        )
        print(
            f"launch returns in {eight['submit']:.2f} s; first run started "
            f"{eight['first']:.2f} s after the launch command began"
        )

        forty = bench_runs(folder / "forty", 40, 0.0, 4)
        print(
            f"40 empty runs, 4 workers: {forty['done']:.1f} s to all COMPLETED, "
            f"{forty['ended']:.1f} s to the array's end"
        )

        root = prepare(folder / "status", 4, 300.0)
        plain = bench_status(root)
        _, job_id = launch(root, 1)
        with_slurm = bench_status(root)
        subprocess.run(["scancel", job_id], check=True)
        print(
            f"alfred status: {plain * 1000:.0f} ms without a Slurm launch, "
            f"{with_slurm * 1000:.0f} ms with one (one squeue)"
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
