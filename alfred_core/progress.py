"""The `pbar` passed to a project's `main`: tqdm's methods, written to progress.json."""

from __future__ import annotations

import time
from pathlib import Path

from alfred_core.tree import write_json_atomic


class RunProgress:
    """Progress of one run, readable by every view while it runs."""

    min_interval = 1.0

    def __init__(self, path: Path, total: float | None = None):
        self.path = Path(path)
        self.total = total
        self.n = 0
        self.desc = ""
        self.postfix: dict = {}
        self._written = 0.0

    def update(self, n: float = 1) -> None:
        self.n += n
        self._write()

    def reset(self, total: float | None = None) -> None:
        self.n = 0
        if total is not None:
            self.total = total
        self._write(force=True)

    def set_description(self, desc: str = "", refresh: bool = True) -> None:
        self.desc = str(desc)
        self._write()

    def set_postfix(self, ordered_dict=None, refresh: bool = True, **kwargs) -> None:
        self.postfix = {**(ordered_dict or {}), **kwargs}
        self._write()

    def refresh(self) -> None:
        self._write(force=True)

    def close(self) -> None:
        self._write(force=True)

    def _write(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._written < self.min_interval:
            return
        self._written = now
        write_json_atomic(
            self.path,
            {
                "n": self.n,
                "total": self.total,
                "desc": self.desc,
                "postfix": {k: str(v) for k, v in self.postfix.items()},
                "time": time.time(),
            },
            indent=None,
        )
