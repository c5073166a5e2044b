"""The real `alfred-tui` in a terminal (tmux): launch the demo, quit, come back later.

Runs started from the app go on after it quits; the app opened again shows them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from alfred_core.kill import kill_runs
from alfred_core.launchers import live_launchers
from alfred_core.tree import Root

TMUX = shutil.which("tmux")
pytestmark = pytest.mark.skipif(TMUX is None, reason="needs tmux")
ROW = re.compile(
    r"^\s*\*?\s*(Se\d+)\s+\S+\s+\S+\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)"
)


class Terminal:
    """One tmux server of our own, holding one session of the app."""

    def __init__(self, socket: str):
        self.socket = socket

    def tmux(self, *args: str, check: bool = True) -> str:
        result = subprocess.run(
            [TMUX, "-L", self.socket, *args],
            capture_output=True,
            text=True,
            check=check,
        )
        return result.stdout

    def start(self, command: list[str], cwd: Path, size=(120, 36)) -> None:
        # tmux hands the command COLUMNS and LINES of 80x24: let the app ask the pty
        app_command = "env -u COLUMNS -u LINES " + " ".join(command)
        self.tmux(
            "new-session",
            "-d",
            "-s",
            "app",
            "-x",
            str(size[0]),
            "-y",
            str(size[1]),
            "-c",
            str(cwd),
            app_command,
        )

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "app", check=False)

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", "app", *keys)

    def alive(self) -> bool:
        return (
            subprocess.run(
                [TMUX, "-L", self.socket, "has-session", "-t", "app"],
                capture_output=True,
            ).returncode
            == 0
        )

    def wait_for(self, condition, timeout: float, what: str) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if condition(screen):
                return screen
            time.sleep(0.2)
        raise AssertionError(
            f"timed out waiting for {what}; the screen:\n{self.screen()}"
        )

    def close(self) -> None:
        subprocess.run([TMUX, "-L", self.socket, "kill-server"], capture_output=True)


def counts(screen: str) -> dict[str, tuple[int, ...]]:
    """Per search id: ready, run, lost, done, crash, kill, as the Searches view has."""
    found = {}
    for line in screen.splitlines():
        match = ROW.match(line)
        if match:
            found[match.group(1)] = tuple(int(n) for n in match.groups()[1:])
    return found


def finished(screen: str) -> int:
    return sum(c[3] + c[4] + c[5] for c in counts(screen).values())


def app_command(demo: Path) -> list[str]:
    found = shutil.which("alfred-tui")
    base = [found] if found else [sys.executable, "-m", "alfred_tui"]
    return [*base, "--demo", str(demo)]


@pytest.mark.slow
def test_runs_go_on_after_quit_and_show_on_restart(tmp_path):
    demo = tmp_path / "demo"
    terminal = Terminal(f"alfred-e2e-{os.getpid()}")
    try:
        terminal.start(app_command(demo), tmp_path)
        terminal.wait_for(
            lambda s: sum(map(sum, counts(s).values())) == 72,
            30,
            "the demo's 4 searches",
        )

        # mark every search, launch them with 2 workers, see runs start, quit
        terminal.keys("Space", "Space", "Space", "Space", "l")
        terminal.wait_for(lambda s: "Launch 4 search(es)" in s, 10, "the launch dialog")
        terminal.keys("Enter")
        terminal.wait_for(lambda s: finished(s) >= 2, 60, "runs to finish on screen")
        terminal.keys("q")
        deadline = time.monotonic() + 10
        while terminal.alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not terminal.alive(), "q did not quit the app"

        root = Root(demo / "storage")
        on_quit = sum(
            1
            for run in (demo / "storage").glob("*/experiment*/seed*")
            if (run / "COMPLETED").exists() or (run / "CRASH").exists()
        )
        time.sleep(4)  # the runs go on without the app

        terminal.start(app_command(demo), tmp_path)
        screen = terminal.wait_for(
            lambda s: finished(s) > on_quit + 1, 60, "the runs that finished meanwhile"
        )
        assert live_launchers(root), "the launcher stopped with the app"
        assert "launchers:" in screen
        terminal.keys("q")
    finally:
        terminal.close()
        root_path = demo / "storage"
        if root_path.exists():
            root = Root(root_path)
            kill_runs(
                [run for search in root.searches() for run in search.runs()], wait=5
            )
            deadline = time.monotonic() + 30
            while live_launchers(root) and time.monotonic() < deadline:
                time.sleep(0.2)
