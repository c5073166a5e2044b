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
import sys
import time
from pathlib import Path

import psutil

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
        meta = {"format": 1, "id": f"Be{index + 1}", "git_hashes": "abc1234",
                "alg_name": "ppo", "task_name": f"task{index}", "search_type": "grid",
                "desc": "bench", "project_dir": str(root), "varied_keys": ["lr", "units"]}
        (search_dir / "search.json").write_text(json.dumps(meta))
        for number in range(per_search):
            experiment = number // SEEDS_PER_EXPERIMENT + 1
            seed = number % SEEDS_PER_EXPERIMENT + 1
            seed_dir = search_dir / f"experiment{experiment}" / f"seed{seed}"
            seed_dir.mkdir(parents=True, exist_ok=True)
            unique = {"alg_name": "ppo", "task_name": f"task{index}", "seed": seed,
                      "lr": 10 ** -(experiment % 4), "units": 32 * (experiment % 3 + 1)}
            (seed_dir / "config_unique.json").write_text(json.dumps(unique))
            flag = STATES[number % len(STATES)]
            info = "" if flag == "UNHATCHED" else json.dumps(
                {"owner": {"host": "node1", "worker": 0}, "started": ended - 60,
                 "ended": ended, "duration": 60.0})
            (seed_dir / flag).write_text(info)
    marker.touch()
    return root


async def first_paint(root: Path) -> float:
    """Seconds from the app's start to a Searches table showing every count."""
    from alfred_tui.app import AlfredApp

    started = time.perf_counter()
    app = AlfredApp(root, watch=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await app.workers.wait_for_complete()
        while not app.scan_complete:
            await pilot.pause(0.01)
        elapsed = time.perf_counter() - started
    return elapsed


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
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]

    for size in sizes:
        root = Path(args.keep) / f"root{size}"
        started = time.perf_counter()
        write_synthetic_root(root, size)
        built = time.perf_counter() - started
        paint = asyncio.run(first_paint(root))
        rss = psutil.Process().memory_info().rss / 2**20
        print(f"{size:>7} runs: first paint {paint:.2f} s "
              f"(tree ready in {built:.1f} s), RSS after {rss:.0f} MB", flush=True)

    root = Path(args.keep) / f"root{sizes[0]}"
    delays = asyncio.run(flag_delay(root))
    print(f"flag change -> screen: median {statistics.median(delays) * 1000:.0f} ms, "
          f"max {max(delays) * 1000:.0f} ms over {len(delays)} changes", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
