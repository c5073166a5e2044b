"""Shared fixtures: a small user project on disk, and the `alfred` CLI run for real."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from alfred_core.cli import main as alfred_main

# Launches in tests make no automatic summaries unless a test asks for them.
os.environ["ALFRED_AUTO_SUMMARY"] = "0"

PROJECT_MAIN = """
import argparse
import os
import time

from alfred_core import Recorder


def get_main_args(overwritten_cmd_line=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--alg_name", default="alg")
    parser.add_argument("--task_name", default="task")
    parser.add_argument("--desc", default="")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--units", type=int, default=8)
    parser.add_argument("--behaviour", default="ok")
    parser.add_argument("--sleep", type=float, default=0.0)
    parser.add_argument("--count_file", default="")
    parser.add_argument("--max_steps", type=int, default=5)
    return parser.parse_args(overwritten_cmd_line)


def main(config, dir_tree, logger, pbar):
    if config.count_file:
        fd = os.open(config.count_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        os.write(fd, (str(dir_tree.seed_dir) + "\\n").encode())
        os.close(fd)
    print("hello from stdout", config.seed)
    logger.info("hello from the logger")
    os.write(2, b"hello from fd 2\\n")
    recorder = Recorder(["step", "score"])
    for step in range(config.max_steps):
        recorder.write_to_tape({"step": step, "score": config.lr * step})
    if config.sleep:
        time.sleep(config.sleep)
    if config.behaviour == "raise":
        raise ValueError("this configuration is broken on purpose")
    if config.behaviour == "exit3":
        os._exit(3)
    if config.behaviour == "segfault":
        import ctypes
        ctypes.string_at(0)
    if config.behaviour == "cuda":
        with open(os.path.join(dir_tree.seed_dir, "cuda.txt"), "w") as f:
            f.write(os.environ.get("CUDA_VISIBLE_DEVICES", "-"))
"""


def write_project(folder: Path, main_source: str = PROJECT_MAIN) -> Path:
    (folder / "schedules").mkdir(parents=True, exist_ok=True)
    (folder / "main.py").write_text(textwrap.dedent(main_source))
    return folder


def write_grid(
    folder: Path,
    variations: dict,
    name: str = "grid_schedule_test.py",
    algs=("alg",),
    tasks=("task",),
    seeds=(1, 2),
) -> Path:
    path = folder / "schedules" / name
    path.write_text(
        f"ALG_NAMES = {list(algs)!r}\nTASK_NAMES = {list(tasks)!r}\n"
        f"SEEDS = {list(seeds)!r}\nVARIATIONS = {variations!r}\n"
    )
    return path


@pytest.fixture
def project(tmp_path) -> Path:
    return write_project(tmp_path / "project")


@pytest.fixture
def root(tmp_path) -> Path:
    return tmp_path / "storage"


def alfred(
    *args,
    cwd: Path | None = None,
    check: bool = True,
    timeout: float = 120,
    env: dict | None = None,
) -> subprocess.CompletedProcess:
    """Run the real `alfred` command in a subprocess."""
    result = subprocess.run(
        [sys.executable, "-m", "alfred_core.cli", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"alfred {' '.join(map(str, args))} exited {result.returncode}:\n"
            f"{result.stdout}\n{result.stderr}"
        )
    return result


def alfred_inline(*args) -> int:
    """Run the CLI in this process (fast, for commands that fork nothing)."""
    return alfred_main([str(arg) for arg in args])


def status(root: Path, *names) -> dict:
    return json.loads(alfred("status", "--root", root, "--json", *names).stdout)


def counts(root: Path) -> dict[str, dict[str, int]]:
    return {s["name"]: s["counts"] for s in status(root)["searches"]}


def prepare_grid(
    project: Path, root: Path, variations: dict, desc: str = "t", **grid
) -> list[str]:
    schedule = write_grid(project, variations, **grid)
    assert (
        alfred_inline(
            "prepare",
            schedule,
            "--desc",
            desc,
            "--root",
            root,
            "--project",
            project,
            "--yes",
        )
        == 0
    )
    return sorted(p.name for p in root.iterdir() if not p.name.startswith("."))


def launcher_process(root: Path, *args, **popen) -> subprocess.Popen:
    """Start a real `alfred launch` in the background; its stderr is piped."""
    return subprocess.Popen(
        [sys.executable, "-m", "alfred_core.cli", "launch", "--root", str(root), *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        **popen,
    )


def wait_until(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")
