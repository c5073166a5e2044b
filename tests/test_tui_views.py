"""Pilot tests of the views: sort, filters, live log and curves, LOST on its own, polling,
help and the command palette."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time

import psutil
import pytest

import alfred_tui.app as app_module
from alfred_core.flags import HOST, State
from alfred_tui.app import AlfredApp
from alfred_tui.commands import AlfredCommands
from alfred_tui.screens.curves import CurvesScreen
from alfred_tui.screens.detail import RunDetailScreen
from alfred_tui.screens.help import HelpScreen
from alfred_tui.screens.runs import RunsScreen
from alfred_tui.screens.searches import SearchesScreen
from test_tui_snapshots import NOW, ROOT, make_root

SEARCH = "Ab1_1a2b3c4_ppo_cartpole_grid_lr"


def run(scenario, **app_options):
    """Run `scenario(app, pilot)` in the app on the fixed root of the snapshot tests."""
    make_root()

    async def main():
        app = AlfredApp(ROOT, project_dir=ROOT / "project", **app_options)
        async with app.run_test(size=(120, 36)) as pilot:
            await until(
                pilot,
                lambda: app.scan_complete and (app.watching or not app.watch_files),
            )
            await scenario(app, pilot)

    asyncio.run(main())


async def until(pilot, condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            app = pilot.app
            raise AssertionError(
                f"timed out on {app.screen}; watch: {app.watch_mode}; notifications: "
                f"{[(n.title, n.message) for n in app._notifications]}; workers: "
                f"{[(w.name, w.state.name) for w in app.workers]}"
            )
        await pilot.pause(0.02)


async def open_runs(app, pilot) -> RunsScreen:
    await until(pilot, lambda: app.screen.table.row_count == len(app.searches))
    await pilot.press("enter")
    await until(pilot, lambda: isinstance(app.screen, RunsScreen) and app.screen.loaded)
    return app.screen


def shown_states(screen: RunsScreen) -> list[str]:
    index = next(i for i, c in enumerate(screen.table.columns) if c.key == "state")
    cells = [screen.table.cells_at(i) for i in range(screen.table.row_count)]
    return [
        row[index] if isinstance(row[index], str) else row[index][0] for row in cells
    ]


def test_runs_sort_state_keys_and_filter():
    async def scenario(app, pilot):
        screen = await open_runs(app, pilot)
        assert screen.table.row_count == 12
        await pilot.press("5")
        assert shown_states(screen) == ["CRASH"]
        await pilot.press("0", "slash", *"lr=0.1 units=64", "enter")
        assert screen.table.row_count == 2
        assert not screen.query_one("#filter").has_focus
        await pilot.press("slash", "escape")
        assert screen.table.row_count == 12 and isinstance(app.screen, RunsScreen)

        screen.sort_by("state")
        order = ["ready", "running", "LOST", "done", "CRASH", "killed"]
        states = shown_states(screen)
        assert states == sorted(states, key=order.index)
        keys = list(screen.table.keys)
        await pilot.press("S")
        assert list(screen.table.keys) != keys
        await pilot.press("escape")
        assert isinstance(app.screen, SearchesScreen)

    run(scenario, watch=False, clock=lambda: NOW)


def test_log_and_curves_follow_the_files():
    async def scenario(app, pilot):
        await open_runs(app, pilot)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, RunDetailScreen))
        detail = app.screen
        log = detail.query_one("#log-view")
        await until(pilot, lambda: log.line_count >= 20)
        with open(detail.run.log_path, "a") as file:
            file.write("a fresh line\n")
        await until(pilot, lambda: "a fresh line" in log.lines[-1], 3)

        await pilot.press("g")
        await until(pilot, lambda: isinstance(app.screen, CurvesScreen))
        curves = app.screen
        await until(
            pilot, lambda: "20 points" in str(curves.query_one("#curves-note").render())
        )
        stream = detail.run.recorders_dir / "train_recorder.jsonl"
        with open(stream, "a") as file:
            file.write(json.dumps({"epoch": 21, "return": 150.0, "loss": 0.04}) + "\n")
        await until(
            pilot,
            lambda: "21 points" in str(curves.query_one("#curves-note").render()),
            3,
        )

    run(scenario)


def test_a_run_whose_owner_dies_shows_lost_by_itself(monkeypatch):
    monkeypatch.setattr(app_module, "LIVENESS_INTERVAL", 0.3)
    make_root()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    seed = ROOT / SEARCH / "experiment3" / "seed1"
    os.rename(seed / "UNHATCHED", seed / "OPENED")
    owner = {
        "host": HOST,
        "pid": sleeper.pid,
        "pid_started": psutil.Process(sleeper.pid).create_time(),
        "worker": 0,
    }
    (seed / "OPENED").write_text(json.dumps({"owner": owner, "started": time.time()}))

    async def scenario(app, pilot):
        def state():  # rescans replace the search's state: look it up each time
            return app.searches[SEARCH].states[str(seed)]

        await until(pilot, lambda: state() is State.RUNNING)
        sleeper.kill()
        sleeper.wait()
        await until(pilot, lambda: state() is State.LOST, 5)
        screen = app.screen
        await until(pilot, lambda: screen.shown_count(SEARCH, "LOST") == "2", 2)

    try:
        asyncio.run(run_on_current_root(scenario))
    finally:
        sleeper.kill()


async def run_on_current_root(scenario):
    app = AlfredApp(ROOT, project_dir=ROOT / "project")
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: app.scan_complete and app.watching)
        await scenario(app, pilot)


def test_polling_shows_flag_changes():
    async def scenario(app, pilot):
        assert app.watch_mode.startswith("polling")
        seed = ROOT / SEARCH / "experiment5" / "seed2"
        assert app.searches[SEARCH].states[str(seed)] is State.UNHATCHED
        os.rename(seed / "UNHATCHED", seed / "KILLED")
        await until(pilot, lambda: app.screen.shown_count(SEARCH, "KILLED") == "2", 20)

    run(scenario, poll=True)


def test_help_lists_every_key_and_the_palette_every_action():
    async def scenario(app, pilot):
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        text = str(app.screen.query_one("#help-text").render())
        for key in (
            "p ",
            "l ",
            "x ",
            "c ",
            "C ",
            "r ",
            "e ",
            "g ",
            "q ",
            "Esc",
            "Enter",
            "Space",
            "↑ k",
            "↓ j",
        ):
            assert f"  {key}" in text, key
        await pilot.press("escape")
        await open_runs(app, pilot)
        titles = [title for title, _, _ in AlfredCommands(app.screen).commands()]
        for wanted in (
            "Prepare",
            "Launch",
            "Kill",
            "Clean",
            "Retrain",
            "Export",
            "Learning curves",
            "Filter",
            "Sort",
            "Quit",
        ):
            assert any(wanted.lower() in title.lower() for title in titles), wanted

    run(scenario, watch=False, clock=lambda: NOW)


@pytest.mark.parametrize("key", ["x", "C"])
def test_destructive_keys_ask_first_and_cancel_touches_nothing(key):
    async def scenario(app, pilot):
        before = sorted(p.name for p in (ROOT / SEARCH).glob("experiment*/seed*/*"))
        await pilot.press(key)
        await pilot.pause(0.3)
        await app.workers.wait_for_complete()
        await pilot.pause(0.1)
        assert "Cancel" in str(app.screen.query("Button").last().label)
        await pilot.press("n")
        await pilot.pause(0.2)
        assert isinstance(app.screen, SearchesScreen)
        assert (
            sorted(p.name for p in (ROOT / SEARCH).glob("experiment*/seed*/*"))
            == before
        )

    run(scenario, watch=False, clock=lambda: NOW)


def test_command_palette_runs_a_view_action():
    async def scenario(app, pilot):
        screen = await open_runs(app, pilot)
        assert screen.sort_key == "run"
        await pilot.press("ctrl+p")
        await pilot.pause(0.2)
        await pilot.press(*"sort by the next", "enter")
        await until(pilot, lambda: screen.sort_key != "run", 5)

    run(scenario, watch=False, clock=lambda: NOW)


def test_inotify_failure_falls_back_to_polling(monkeypatch):
    def no_watches(self):
        raise OSError(28, "inotify watch limit reached")

    monkeypatch.setattr(app_module.RootWatcher, "start", no_watches)

    async def scenario(app, pilot):
        assert app.watch_mode.startswith("polling (inotify")
        assert any("polling the root instead" in n.message for n in app._notifications)
        seed = ROOT / SEARCH / "experiment5" / "seed2"
        os.rename(seed / "UNHATCHED", seed / "KILLED")
        await until(pilot, lambda: app.screen.shown_count(SEARCH, "KILLED") == "2", 10)

    run(scenario)


@pytest.mark.parametrize("poll", [False, True], ids=["inotify", "polling"])
def test_quitting_leaves_no_thread_behind(poll):
    import threading

    before = set(threading.enumerate())

    async def scenario(app, pilot):
        await pilot.press("enter")
        await pilot.pause(0.2)

    run(scenario, poll=poll)
    deadline = time.monotonic() + 3
    while set(threading.enumerate()) - before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not set(threading.enumerate()) - before


def test_a_scan_older_than_a_live_update_does_not_undo_it():
    from alfred_tui.messages import SearchScanned
    from alfred_tui.model import scan_search

    async def scenario(app, pilot):
        seed = str(ROOT / SEARCH / "experiment3" / "seed1")
        stale = scan_search(app.searches[SEARCH].search)  # says UNHATCHED
        app.searches[SEARCH].apply(seed, State.COMPLETED, None)
        app.live_reads[seed] = time.monotonic()  # read after the stale scan began
        app.on_search_scanned(SearchScanned(stale, time.monotonic() - 1.0))
        assert app.searches[SEARCH].states[seed] is State.COMPLETED

        fresh = scan_search(app.searches[SEARCH].search)
        app.on_search_scanned(SearchScanned(fresh, time.monotonic()))
        assert app.searches[SEARCH].states[seed] is State.UNHATCHED

    run(scenario, watch=False, clock=lambda: NOW)
