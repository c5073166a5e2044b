"""Regenerate the results figures shown in the README from the demo's workflow.

    python screenshots/make_figures.py

Runs, in a temporary folder: `alfred demo`, `alfred launch`, `alfred summarize`,
`alfred retrain-best`, `alfred launch` (the retrain), `alfred plot-arrays` and
`alfred benchmark compare-models`, then copies a few of the PNGs here under stable
names. Takes about a minute on two cores.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHOWN = "sgd_sine"  # the search whose figures are kept: some of its runs crash


def alfred(*args: str, cwd: Path) -> str:
    command = [sys.executable, "-m", "alfred_core.cli", *args]
    print("$ alfred", " ".join(args), flush=True)
    # Summaries are made here, not by the launcher in the background.
    env = {**os.environ, "ALFRED_AUTO_SUMMARY": "0"}
    result = subprocess.run(
        command, cwd=cwd, check=True, capture_output=True, text=True, env=env
    )
    return result.stdout


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="alfred-figures-")) / "demo"
    try:
        alfred("demo", str(folder), cwd=folder.parent)
        alfred("launch", "-p", "2", cwd=folder)
        storage = folder / "storage"
        shown = next(path for path in storage.iterdir() if f"_{SHOWN}_" in path.name)
        searches = sorted(
            path.name
            for path in storage.iterdir()
            if path.is_dir() and not path.name.startswith(".")
        )
        print(alfred("summarize", shown.name, cwd=folder))
        print(alfred("retrain-best", shown.name, cwd=folder))
        retrain = next(path for path in storage.iterdir() if "retrainBest" in path.name)
        alfred("launch", retrain.name, "-p", "2", cwd=folder)
        alfred("plot-arrays", shown.name, retrain.name, cwd=folder)
        alfred(
            "benchmark",
            "compare-models",
            *searches,
            "--out",
            str(folder / "bench"),
            cwd=folder,
        )

        copies = {
            shown
            / "plots"
            / "plot_array_eval_score_vs_epoch.png": "results_plot_array.png",
            shown
            / "summary"
            / "learning_curves_eval_score_vs_epoch.png": "results_learning_curves.png",
            shown
            / "summary"
            / "performance_eval_score_mean_last_20pct.png": "results_performance.png",
            retrain
            / "plots"
            / "plot_array_eval_score_vs_epoch.png": "results_retrain_plot_array.png",
            folder
            / "bench"
            / "compare_models_curves.png": "results_compare_models.png",
        }
        for source, name in copies.items():
            shutil.copyfile(source, HERE / name)
            print(f"kept screenshots/{name}")
    finally:
        shutil.rmtree(folder.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
