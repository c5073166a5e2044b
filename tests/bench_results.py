"""Benchmark of the results commands on a 1,000-run search with 500-point curves.

    python tests/bench_results.py

Builds a grid search of 4 x 5 x 10 = 200 experiments x 5 seeds (1,000 runs) in a
temporary folder, writing each run's metrics stream directly, then times
`alfred plot-arrays` and `alfred summarize` as a user runs them (one process each,
imports included), against the targets of 20 s and 10 s.
"""

from __future__ import annotations

import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from alfred_core import flags
from alfred_core.results.synthetic import grid_experiments, write_search

VARIATIONS = {
    "lr": [0.001, 0.003, 0.01, 0.03],
    "units": [16, 32, 64, 128, 256],
    "dropout": [round(0.05 * n, 2) for n in range(10)],
}
SEEDS = [1, 2, 3, 4, 5]
POINTS = 500
TARGETS = {"plot-arrays": 20.0, "summarize": 10.0}


def build(root: Path) -> str:
    """The synthetic search, written straight to disk; returns its storage name."""
    name = "Be1_nogit_ppo_bench_grid_big"
    search = write_search(root, name, grid_experiments(VARIATIONS), SEEDS, VARIATIONS)
    rng = np.random.default_rng(0)
    steps = np.arange(POINTS)
    for run in search.runs():
        varied = run.read_config_unique()
        rate = varied["lr"] * 10 * (1 - varied["dropout"])
        values = 1 - np.exp(-rate * steps / 50) + rng.normal(0, 0.02, POINTS)
        losses = np.exp(-rate * steps / 50)
        lines = [
            f'{{"step": {step}, "score": {value:.5f}, "loss": {loss:.5f}, "wallclock": '
            f"{step * 0.1:.1f}}}\n"
            for step, value, loss in zip(
                steps.tolist(), values.tolist(), losses.tolist()
            )
        ]
        run.recorders_dir.mkdir()
        (run.recorders_dir / "train_recorder.jsonl").write_text("".join(lines))
        (run.path / flags.UNHATCHED).rename(run.flag_path(flags.COMPLETED))
    return name


def timed(command: list[str]) -> tuple[float, float]:
    """Wall-clock and CPU seconds of one `alfred` command (CPU: on a busy machine,
    what the wall clock would be on an idle one)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "alfred_core.cli", *command],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="alfred-bench-results-"))
    try:
        root = folder / "storage"
        started = time.perf_counter()
        name = build(root)
        runs = len(SEEDS) * math.prod(len(v) for v in VARIATIONS.values())
        seconds = time.perf_counter() - started
        print(f"built {runs} runs x {POINTS} points in {seconds:.1f} s")

        figures = {
            "plot-arrays": timed(
                ["plot-arrays", name, "--root", str(root), "--plot", "step,score"]
            ),
            "summarize": timed(
                ["summarize", name, "--root", str(root), "--x", "step", "--y", "score"]
            ),
        }
        for command, (wall, cpu) in figures.items():
            verdict = "ok" if wall <= TARGETS[command] else "OVER TARGET"
            print(
                f"{command:12s} {wall:6.1f} s wall, {cpu:6.1f} s CPU  "
                f"(target {TARGETS[command]:.0f} s) {verdict}"
            )
        print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        print(
            json.dumps(
                {
                    "runs": runs,
                    "points": POINTS,
                    **{
                        command: {"wall": round(wall, 2), "cpu": round(cpu, 2)}
                        for command, (wall, cpu) in figures.items()
                    },
                }
            )
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
