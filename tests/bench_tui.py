"""Benchmark of `alfred-tui`: first paint, flag-to-screen delay, memory.

    python tests/bench_tui.py [--sizes 1000,10000,100000] [--keep DIR]

Roots of synthetic runs are written directly (no prepare), cached under --keep.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

STATES = ("COMPLETED",) * 6 + ("UNHATCHED",) * 2 + ("CRASH", "KILLED")
SEEDS_PER_EXPERIMENT = 5
SEARCHES = 10


def write_synthetic_root(root: Path, n_runs: int) -> Path:
    """A root of `n_runs` runs in 10 searches, with finished flags and configs."""
    marker = root / ".complete"
    if marker.exists():
        return root
    root.mkdir(parents=True, exist_ok=True)
    per_search = n_runs // SEARCHES
    ended = 1_700_000_000.0
    for index in range(SEARCHES):
        name = f"Be{index + 1}_abc1234_ppo_task{index}_grid_bench"
        search_dir = root / name
        search_dir.mkdir(exist_ok=True)
        meta = {
            "format": 1,
            "id": f"Be{index + 1}",
            "git_hashes": "abc1234",
            "alg_name": "ppo",
            "task_name": f"task{index}",
            "search_type": "grid",
            "desc": "bench",
            "project_dir": str(root),
            "varied_keys": ["lr", "units"],
        }
        (search_dir / "search.json").write_text(json.dumps(meta))
        for number in range(per_search):
            experiment = number // SEEDS_PER_EXPERIMENT + 1
            seed = number % SEEDS_PER_EXPERIMENT + 1
            seed_dir = search_dir / f"experiment{experiment}" / f"seed{seed}"
            seed_dir.mkdir(parents=True, exist_ok=True)
            unique = {
                "alg_name": "ppo",
                "task_name": f"task{index}",
                "seed": seed,
                "lr": 10 ** -(experiment % 4),
                "units": 32 * (experiment % 3 + 1),
            }
            (seed_dir / "config_unique.json").write_text(json.dumps(unique))
            flag = STATES[number % len(STATES)]
            info = (
                ""
                if flag == "UNHATCHED"
                else json.dumps(
                    {
                        "owner": {"host": "node1", "worker": 0},
                        "started": ended - 60,
                        "ended": ended,
                        "duration": 60.0,
                    }
                )
            )
            (seed_dir / flag).write_text(info)
    marker.touch()
    return root


async def first_paint(root: Path) -> tuple[float, float]:
    """Seconds from the app's start to the searches listed, and to every count shown."""
    from alfred_tui.app import AlfredApp

    started = time.perf_counter()
    app = AlfredApp(root, watch=False)
    listed = None
    async with app.run_test(size=(120, 36)) as pilot:
        while not app.scan_complete:
            if listed is None and app.searches:
                listed = time.perf_counter() - started
            await pilot.pause(0.005)
        await pilot.pause(0)
        counted = time.perf_counter() - started
    return listed or counted, counted


def measure_one(size: int, keep: str) -> None:
    """In a fresh process: first paint and peak memory on a root of `size` runs."""
    import resource

    root = write_synthetic_root(Path(keep) / f"root{size}", size)
    listed, counted = asyncio.run(first_paint(root))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{size:>7} runs: searches listed in {listed:.2f} s, every count shown in "
        f"{counted:.2f} s; peak memory {peak:.0f} MB",
        flush=True,
    )
    rows, first, seconds = asyncio.run(runs_view(root))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{'':>7}       Runs view of a search of {rows} runs: "
        f"first rows in {first:.2f} s,"
        f" all in {seconds:.2f} s; peak memory {peak:.0f} MB",
        flush=True,
    )


async def runs_view(root: Path) -> tuple[int, float, float]:
    """Open the Runs view of the first search (once the scan is over): its size, and
    seconds to the first rows shown and to every row."""
    from alfred_tui.app import AlfredApp
    from alfred_tui.screens.runs import RunsScreen

    app = AlfredApp(root, watch=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await app.workers.wait_for_complete()
        started = time.perf_counter()
        await pilot.press("enter")
        first = None
        while not (isinstance(app.screen, RunsScreen) and app.screen.loaded):
            if (
                first is None
                and isinstance(app.screen, RunsScreen)
                and app.screen.table.row_count
            ):
                first = time.perf_counter() - started
            await pilot.pause(0.01)
        await pilot.pause(0)
        total = time.perf_counter() - started
        return app.screen.table.row_count, first or total, total


async def flag_delay(root: Path, repeats: int = 50) -> list[float]:
    """Seconds between a flag file appearing and the Searches table showing it."""
    from alfred_tui.app import AlfredApp
    from alfred_tui.screens.searches import SearchesScreen

    app = AlfredApp(root, watch=True)
    delays = []
    async with app.run_test(size=(120, 36)) as pilot:
        while not app.scan_complete or not app.watching:
            await pilot.pause(0.05)
        screen = app.screen
        assert isinstance(screen, SearchesScreen)
        search = sorted(p for p in root.iterdir() if p.is_dir() and p.name[0] != ".")[0]
        runs = sorted(search.glob("experiment*/seed*"))
        targets = [run for run in runs if (run / "UNHATCHED").exists()][:repeats]
        for run in targets:
            before = screen.shown_count(search.name, "UNHATCHED")
            started = time.perf_counter()
            os.rename(run / "UNHATCHED", run / "KILLED")
            while screen.shown_count(search.name, "UNHATCHED") == before:
                await pilot.pause(0.002)
                if time.perf_counter() - started > 5:
                    raise TimeoutError(f"{run}: the change never showed")
            delays.append(time.perf_counter() - started)
        for run in targets:
            os.rename(run / "KILLED", run / "UNHATCHED")
    return delays


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--keep", default="/tmp/alfred-tui-bench")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        measure_one(args.one, args.keep)
        return 0
    sizes = [int(size) for size in args.sizes.split(",")]

    for size in sizes:
        write_synthetic_root(Path(args.keep) / f"root{size}", size)
        subprocess.run(
            [sys.executable, __file__, "--one", str(size), "--keep", args.keep],
            check=True,
        )

    size = 10000 if 10000 in sizes else sizes[0]
    root = Path(args.keep) / f"root{size}"
    delays = asyncio.run(flag_delay(root))
    print(
        f"flag change -> screen: median {statistics.median(delays) * 1000:.0f} ms, "
        f"max {max(delays) * 1000:.0f} ms over {len(delays)} changes",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
