"""Pilot tests: real keys on the demo project, checked on screen and on disk.

prepare -> launch -> counts change on screen without a restart -> kill a run -> clean
-> retrain-best -> export.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from alfred_core.demo import install_demo
from alfred_core.flags import State
from alfred_core.launchers import live_launchers
from alfred_core.tree import Root
from alfred_tui.app import AlfredApp
from alfred_tui.screens.dialogs import (
    ConfirmScreen,
    InfoScreen,
    KillScreen,
    LaunchScreen,
    PrepareScreen,
    RetrainScreen,
)
from alfred_tui.screens.runs import RunsScreen
from alfred_tui.screens.searches import SearchesScreen


# watchdog re-watching a prepared search moved into the root (the app silences it too)
pytestmark = pytest.mark.filterwarnings("ignore:Callback with id:RuntimeWarning")


async def wait_for(pilot, condition, timeout: float = 60.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        await pilot.pause(0.05)


def shown(app: AlfredApp, name: str, state: str) -> int:
    screen = next(s for s in app.screen_stack if isinstance(s, SearchesScreen))
    text = screen.shown_count(name, state)
    return -1 if text in (None, "…") else int(text)


@pytest.fixture
def demo_root(tmp_path) -> Path:
    return install_demo(tmp_path / "demo")


def stop_launchers(root: Path) -> None:
    """Wait for the test's detached launchers to stop (when their runs are done)."""
    deadline = time.monotonic() + 60
    while live_launchers(Root(root)) and time.monotonic() < deadline:
        time.sleep(0.2)


@pytest.mark.slow
def test_prepare_launch_kill_clean_retrain_export(demo_root: Path):
    asyncio.run(prepare_launch_kill_clean_retrain_export(demo_root))


async def prepare_launch_kill_clean_retrain_export(demo_root: Path) -> None:
    app = AlfredApp(demo_root, project_dir=demo_root.parent)
    app.slurm_available = False
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(
            pilot, lambda: app.watching and app.scan_complete, 20, "the scan"
        )
        assert len(app.searches) == 4

        # p: the random schedule, a desc, the dry run, then prepare
        await pilot.press("p")
        await wait_for(pilot, lambda: isinstance(app.screen, PrepareScreen))
        await pilot.press("down", *"tui", "enter")
        await wait_for(pilot, lambda: app.screen.plan is not None, 30, "the dry run")
        assert "= 16 runs" in str(app.screen.query_one("#plan").render())
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(app.searches) == 5, 30, "the new search")
        name = list(app.searches)[-1]
        assert name.endswith("_sgd_spirals_random_tui")
        assert (demo_root / name / "experiment8" / "seed2" / "UNHATCHED").exists()
        await wait_for(pilot, lambda: shown(app, name, "UNHATCHED") == 16)
        last = demo_root / name / "experiment8" / "seed2"
        config = json.loads((last / "config.json").read_text())
        config["max_epochs"] = 10**6  # still to start, or running, when the kill comes
        (last / "config.json").write_text(json.dumps(config))

        # l: launch it with 2 workers; runs complete and counts change on screen
        await pilot.press("end", "l")
        await wait_for(pilot, lambda: isinstance(app.screen, LaunchScreen))
        assert app.screen.names == [name]
        await pilot.press("enter")
        await wait_for(
            pilot, lambda: shown(app, name, "COMPLETED") >= 1, 60, "a run to complete"
        )

        # x in the Runs view: kill the last run
        await pilot.press("enter")
        await wait_for(
            pilot, lambda: isinstance(app.screen, RunsScreen) and app.screen.loaded
        )
        await pilot.press("end", "x")
        await wait_for(pilot, lambda: isinstance(app.screen, KillScreen))
        await pilot.press("r")
        await wait_for(pilot, lambda: (last / "KILLED").exists(), 30, "the kill")
        runs_screen = app.screen
        await wait_for(
            pilot,
            lambda: runs_screen.rows[str(last)].state is State.KILLED,
            10,
            "the killed state on screen",
        )

        # back to the searches: every other run completes, on screen
        await pilot.press("escape")
        await wait_for(
            pilot,
            lambda: shown(app, name, "COMPLETED") == 15,
            120,
            "the launch to finish",
        )
        assert shown(app, name, "KILLED") == 1
        stop_launchers(demo_root)

        # C: clean killed runs too, after a confirmation that gives the counts
        await pilot.press("C")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), 20)
        assert "1 KILLED" in app.screen.body
        await pilot.press("y")
        await wait_for(pilot, lambda: (last / "UNHATCHED").exists(), 20, "the clean")
        await wait_for(pilot, lambda: shown(app, name, "UNHATCHED") == 1, 10)

        # r: retrain the best configuration with 3 seeds
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, RetrainScreen))
        seeds = app.screen.query_one("#seeds")
        seeds.value = "3"
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(app.searches) == 6, 60, "the retrain search")
        retrain = [n for n in app.searches if n not in (name,) and "retrain" in n]
        assert retrain, list(app.searches)
        assert len(list((demo_root / retrain[0]).glob("experiment*/seed*"))) == 3

        # e: export the figures of the random search; the paths are listed
        await pilot.press("e")
        await wait_for(
            pilot, lambda: isinstance(app.screen, InfoScreen), 120, "the export"
        )
        paths = [Path(line) for line in app.screen.body.splitlines()]
        assert paths and all(path.exists() for path in paths)
        assert any(path.suffix == ".png" for path in paths)
        await pilot.press("escape", "q")
