"""Make the README's screenshots: the real app on the demo project, as SVG files.

    python screenshots/make_screenshots.py [--demo DIR] [--png]

Copies and prepares the demo in DIR (a fresh temporary folder by default), launches it
with two workers, takes the live views while it runs and the others once it is done.
`--png` also writes PNG copies (with cairosvg) for looking at them outside a browser.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from alfred_core.demo import install_demo
from alfred_core.launchers import live_launchers
from alfred_core.tree import Root
from alfred_tui.app import AlfredApp
from alfred_tui.screens.runs import RunsScreen

HERE = Path(__file__).parent


async def settle(pilot, seconds: float = 0.5) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause(seconds)


async def shoot(
    root: Path, name: str, keys: list[str], size=(120, 36), wait=0.5, until=None
) -> Path:
    """Open the app, press `keys`, and save the screen as screenshots/<name>.svg."""
    app = AlfredApp(root, project_dir=root.parent)
    app.cursor_blink = False
    async with app.run_test(size=size) as pilot:
        while not app.scan_complete:
            await pilot.pause(0.05)
        await settle(pilot)
        for key in keys:
            await pilot.press(key)
            await settle(pilot, 0.3)
        if until is not None:
            deadline = time.monotonic() + 20
            while not until(app) and time.monotonic() < deadline:
                await pilot.pause(0.1)
        await pilot.pause(wait)
        path = HERE / f"{name}.svg"
        app.save_screenshot(str(path.name), str(path.parent))
    return path


def runs_loaded(app) -> bool:
    return isinstance(app.screen, RunsScreen) and app.screen.loaded


def wait_for_launchers(root: Path, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while live_launchers(Root(root)) and time.monotonic() < deadline:
        time.sleep(0.5)


def to_png(svg: Path) -> None:
    import cairosvg

    text = re.sub(
        r'font-family:[^;"]*', "font-family: DejaVu Sans Mono", svg.read_text()
    )
    cairosvg.svg2png(bytestring=text.encode(), write_to=str(svg.with_suffix(".png")))


async def make_all(root: Path) -> list[Path]:
    made = []
    launch = [sys.executable, "-m", "alfred_core.cli", "launch", "--root", str(root)]
    subprocess.run(
        [*launch, "-p", "2", "--detach"],
        check=True,
        capture_output=True,
        cwd=root.parent,
    )
    time.sleep(6)
    made.append(await shoot(root, "searches-live", []))
    made.append(await shoot(root, "runs-live", ["down", "enter"], until=runs_loaded))
    wait_for_launchers(root)

    made.append(await shoot(root, "searches-80x24", [], size=(80, 24)))
    made.append(
        await shoot(
            root,
            "runs-filtered",
            ["down", "enter", "slash", *"learning_rate=0.1", "enter"],
            until=runs_loaded,
        )
    )
    made.append(
        await shoot(
            root, "runs-filter-crash", ["down", "enter", "5"], until=runs_loaded
        )
    )
    made.append(await shoot(root, "run-crash", ["down", "enter", "5", "enter"]))
    made.append(await shoot(root, "run-log", ["enter", "end", "enter"]))
    made.append(
        await shoot(
            root, "curves-experiment", ["enter", "end", "enter", "g", "v"], wait=1.0
        )
    )
    made.append(await shoot(root, "curves-best", ["g"], wait=1.0))
    made.append(await shoot(root, "help", ["question_mark"]))
    made.append(await shoot(root, "clean-confirm", ["down", "C"]))
    return made


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--demo", help="where to put the demo (default: a temporary folder)"
    )
    parser.add_argument("--png", action="store_true", help="also write PNG copies")
    args = parser.parse_args()

    folder = Path(args.demo) if args.demo else Path(tempfile.mkdtemp()) / "alfred-demo"
    root = install_demo(folder)
    made = asyncio.run(make_all(root))
    for path in made:
        if args.png:
            to_png(path)
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
