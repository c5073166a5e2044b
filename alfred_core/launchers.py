"""Launchers leave a record in the root, so that every view can list them."""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

from alfred_core import flags
from alfred_core.tree import Root, write_json_atomic

logger = logging.getLogger(__name__)


def launchers_dir(root: Root) -> Path:
    return root.admin_dir / "launchers"


def logs_dir(root: Root) -> Path:
    return root.admin_dir / "logs"


class LauncherRecord:
    """This process's record: written on start, touched while alive, removed on exit."""

    def __init__(self, root: Root, launcher_id: str, info: dict):
        self.path = launchers_dir(root) / f"{launcher_id}.json"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.info = {
            "id": launcher_id,
            **flags.owner_record(),
            "started": time.time(),
            **info,
        }
        write_json_atomic(self.path, self.info)
        self.last_beat = time.monotonic()

    def beat(self) -> None:
        if time.monotonic() - self.last_beat >= flags.HEARTBEAT_INTERVAL:
            try:
                os.utime(self.path)
            except FileNotFoundError:
                write_json_atomic(self.path, self.info)
            self.last_beat = time.monotonic()

    def remove(self) -> None:
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


def live_launchers(root: Root) -> list[dict]:
    """Records of launchers still alive; those of dead ones are removed."""
    folder = launchers_dir(root)
    if not folder.is_dir():
        return []
    alive = []
    slurm_records = []
    for path in sorted(folder.glob("*.json")):
        try:
            info = json.loads(path.read_text())
            heartbeat = path.stat().st_mtime
        except (OSError, ValueError):
            continue
        if info.get("executor") == "slurm":
            slurm_records.append((path, info))  # alive while Slurm knows its job
        elif flags.owner_alive(info, heartbeat):
            info["heartbeat"] = heartbeat
            alive.append(info)
        else:
            logger.debug("removing the record of a dead launcher: %s", path)
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
    if slurm_records:
        from alfred_core.slurm import live_slurm_launches

        alive.extend(live_slurm_launches(slurm_records))
    return alive
