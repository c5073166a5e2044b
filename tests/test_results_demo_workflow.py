"""The demo's README workflow: prepare, launch, summarize, retrain-best, plot-arrays."""

import json
import time
from pathlib import Path

import matplotlib.image

from alfred_core.demo import install_demo
from alfred_core.results_hooks import DONE, FAILED
from alfred_core.tree import Root
from conftest import alfred, status


def wait_for(path: Path, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        failed = path.with_name(FAILED)
        assert not failed.exists(), failed.read_text()
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.1)


def test_demo_from_prepare_to_retrained_plot_arrays(tmp_path):
    root = install_demo(tmp_path / "demo")
    folder = root.parent
    source = next(s for s in Root(root).searches() if "_sgd_spirals_" in s.name)
    alfred(
        "copy", source.name, "--desc", "short", "--set", "max_epochs=4", "--root", root
    )
    (short,) = [s for s in Root(root).searches() if s.info.desc == "short"]

    alfred(
        "launch",
        short.name,
        "--root",
        root,
        "-p",
        "2",
        cwd=folder,
        timeout=180,
        env={"ALFRED_AUTO_SUMMARY": "1"},
    )
    wait_for(short.path / DONE)  # the launcher summarizes in a process of its own
    assert json.loads((short.path / DONE).read_text())["files"]
    assert (short.path / "plots" / "plot_array_eval_score_vs_epoch.png").exists()

    summary = alfred("summarize", short.name, "--root", root, cwd=folder).stdout
    assert "best: experiment" in summary
    best = json.loads((short.summary_dir / "bestConfig_info.json").read_text())
    assert (
        best["score_metric"] == "eval_score" and best["aggregate"] == "mean_last_20pct"
    )

    made = alfred(
        "retrain-best", short.name, "--root", root, "--seeds", "2", cwd=folder
    ).stdout
    assert "max_epochs 4 -> 8" in made
    (retrain,) = [
        s for s in Root(root).searches() if s.meta.get("retrain_of") == short.name
    ]
    config = retrain.runs()[0].read_config()
    assert config["max_epochs"] == 8
    assert {k: config[k] for k in best["varied"]} == best["varied"]

    alfred("launch", retrain.name, "--root", root, "-p", "2", cwd=folder, timeout=180)
    counts = {s["name"]: s["counts"] for s in status(root)["searches"]}
    assert counts[retrain.name]["COMPLETED"] == 2
    alfred(
        "plot-arrays",
        retrain.name,
        "--root",
        root,
        "--plot",
        "epoch,train_loss",
        cwd=folder,
    )
    png = retrain.path / "plots" / "plot_array_train_loss_vs_epoch.png"
    height, width = matplotlib.image.imread(png).shape[:2]
    assert width > height > 0
    assert (folder / "schedules" / "list_retrains_short.txt").read_text().split() == [
        retrain.name
    ]
