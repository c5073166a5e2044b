"""Benchmark of the core engine; prints figures beside floors measured in the same run.

    python tests/bench_core.py [--quick]

Per-run overhead of launch (worker-seconds per run) at 300, 3,000 and 30,000 runs with
-p 1 and -p 2, beside a bare fork of a warm worker and `python -c pass`; the speed-up
of -p 2 on runs that each burn 20 ms of CPU; prepare of 30,000 runs beside a plain loop
writing the same files; status on 100,000 runs beside an os.scandir walk with one stat
per run. Medians of repeated measures where a measure is short.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from alfred_core.flags import read_flag_info

MAIN = """
import argparse
import time

import numpy


def get_main_args(overwritten_cmd_line=None):
    parser = argparse.ArgumentParser()
    for name in ("alg_name", "task_name", "desc"):
        parser.add_argument("--" + name, default="x")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--index", type=int, default=0)
    parser.add_argument("--burn", type=float, default=0.0)
    return parser.parse_args(overwritten_cmd_line)


def main(config, dir_tree, logger, pbar):
    if config.burn:
        end = time.process_time() + config.burn
        while time.process_time() < end:
            pass
"""


def make_project(folder: Path, runs: int, burn: float = 0.0, seeds: int = 1) -> Path:
    (folder / "schedules").mkdir(parents=True)
    (folder / "main.py").write_text(MAIN)
    schedule = folder / "schedules" / "grid_schedule_bench.py"
    schedule.write_text(
        "ALG_NAMES=['a']\nTASK_NAMES=['t']\n"
        f"SEEDS={list(range(1, seeds + 1))}\n"
        f"VARIATIONS={{'index': list(range({runs // seeds})), 'burn': [{burn}]}}\n"
    )
    return schedule


def alfred(*args, cwd=None) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "alfred_core.cli", *map(str, args)],
        cwd=cwd,
        check=True,
        stdout=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "ALFRED_AUTO_SUMMARY": "0"},
    )
    return time.perf_counter() - started


def prepared(work: Path, runs: int, burn: float = 0.0, seeds: int = 1) -> Path:
    folder = Path(tempfile.mkdtemp(dir=work))
    schedule = make_project(folder / "project", runs, burn, seeds)
    alfred(
        "prepare",
        schedule,
        "--desc",
        "b",
        "--root",
        folder / "storage",
        "--project",
        folder / "project",
        "--yes",
    )
    return folder / "storage"


def run_span(root: Path) -> tuple[float, int]:
    """Seconds from the first run's start to the last run's end, and the run count."""
    starts, ends = [], []
    for flag in root.glob("*/*/*/COMPLETED"):
        info = read_flag_info(flag)
        starts.append(info["started"])
        ends.append(info["ended"])
    return max(ends) - min(starts), len(ends)


def bench_overhead(work: Path, sizes) -> None:
    print("\nlaunch: per-run overhead, runs that return at once (worker-ms per run)")
    print(f"{'runs':>7} {'-p':>3} {'steady':>8} {'with start-up':>14}")
    for runs in sizes:
        for workers in (1, 2):
            root = prepared(work, runs)
            wall = alfred("launch", "--root", root, "-p", workers)
            span, done = run_span(root)
            assert done == runs, (done, runs)
            print(
                f"{runs:>7} {workers:>3} {1000 * span * workers / runs:>8.2f} "
                f"{1000 * wall * workers / runs:>14.2f}"
            )
            shutil.rmtree(root.parent)


def bench_floors() -> None:
    code = (
        "import os, time, statistics, numpy\n"
        "samples = []\n"
        "for _ in range(300):\n"
        "    t = time.perf_counter(); pid = os.fork()\n"
        "    if pid == 0: os._exit(0)\n"
        "    os.waitpid(pid, 0); samples.append(time.perf_counter() - t)\n"
        "print(statistics.median(samples))\n"
    )
    fork = float(
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout
    )
    starts = []
    for _ in range(15):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        starts.append(time.perf_counter() - started)
    print(
        "floors: bare fork of a warm worker (numpy imported) "
        f"{1000 * fork:.2f} ms; `python -c pass` {1000 * statistics.median(starts):.1f} ms"
    )


def bench_speedup(work: Path) -> None:
    times = {}
    for workers in (1, 2):
        root = prepared(work, 150, burn=0.02)
        times[workers] = alfred("launch", "--root", root, "-p", workers)
        shutil.rmtree(root.parent)
    print(
        f"\nlaunch: 150 runs burning 20 ms of CPU each: -p 1 {times[1]:.2f} s, "
        f"-p 2 {times[2]:.2f} s, speed-up {times[1] / times[2]:.2f}x"
    )


def bench_prepare(work: Path, runs: int, repeats: int = 3) -> None:
    folder = Path(tempfile.mkdtemp(dir=work))
    schedule = make_project(folder / "project", runs, seeds=3)

    def prepare_once(target: Path) -> float:
        return alfred("prepare", schedule, "--desc", "b", "--root", target,
                      "--project", folder / "project", "--yes")

    prepare_once(folder / "model")
    source = next(p for p in (folder / "model").iterdir() if not p.name.startswith("."))
    contents = [
        (run.relative_to(source), (run / "config.json").read_text(),
         (run / "config_unique.json").read_text())
        for run in source.glob("experiment*/seed*")
    ]

    def plain_once(target: Path) -> float:
        started = time.perf_counter()
        made = set()
        for relative, config, unique in contents:
            run = target / relative
            if run.parent not in made:
                run.parent.mkdir(parents=True)
                made.add(run.parent)
            run.mkdir()
            (run / "config.json").write_text(config)
            (run / "config_unique.json").write_text(unique)
            (run / "UNHATCHED").touch()
        return time.perf_counter() - started

    ours, plain = [], []
    for repeat in range(repeats):  # alternated, so both see the same disk
        ours.append(prepare_once(folder / f"ours{repeat}"))
        plain.append(plain_once(folder / f"plain{repeat}"))
    ours_median, plain_median = statistics.median(ours), statistics.median(plain)
    print(f"\nprepare {len(contents)} runs (median of {repeats}): alfred "
          f"{ours_median:.2f} s (with interpreter start), plain loop "
          f"{plain_median:.2f} s, ratio {ours_median / plain_median:.2f}")
    shutil.rmtree(folder)


def bench_status(work: Path, runs: int) -> None:
    root = prepared(work, runs, seeds=5)
    status_times = [alfred("status", "--root", root) for _ in range(3)]
    started = time.perf_counter()
    from alfred_core.status import search_counts
    from alfred_core.tree import Root

    in_process = []
    for _ in range(3):
        started = time.perf_counter()
        for search in Root(root).searches():
            search_counts(search)
        in_process.append(time.perf_counter() - started)

    walks = []
    for _ in range(3):
        started = time.perf_counter()
        seen = 0
        for storage in os.scandir(root):
            if storage.name.startswith("."):
                continue
            for experiment in os.scandir(storage.path):
                if not experiment.is_dir():
                    continue
                for seed in os.scandir(experiment.path):
                    os.stat(os.path.join(seed.path, "config.json"))
                    seen += 1
        walks.append(time.perf_counter() - started)
    walk = statistics.median(walks)
    print(
        f"\nstatus of {seen} runs: `alfred status` {statistics.median(status_times):.2f} s "
        f"(with interpreter start), counting in process "
        f"{statistics.median(in_process):.2f} s; scandir walk + one stat a run "
        f"{walk:.2f} s; ratio {statistics.median(in_process) / walk:.2f} "
        f"(command {statistics.median(status_times) / walk:.2f})"
    )
    shutil.rmtree(root.parent)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="alfred-bench-"))
    try:
        bench_floors()
        bench_overhead(work, (300, 3000) if args.quick else (300, 3000, 30000))
        bench_speedup(work)
        bench_prepare(work, 3000 if args.quick else 30000)
        bench_status(work, 10000 if args.quick else 100000)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
