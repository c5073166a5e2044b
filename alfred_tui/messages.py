"""App-wide messages: each says what happened; widgets' own messages live in them."""

from __future__ import annotations

from pathlib import Path

from textual.message import Message

from alfred_core.tree import Search
from alfred_tui.model import SearchState


class FilesChanged(Message):
    """A settled burst of file events (or changes found by polling) under the root."""

    def __init__(self, paths: set[str]) -> None:
        super().__init__()
        self.paths = paths


class SearchesListed(Message):
    def __init__(self, searches: list[Search]) -> None:
        super().__init__()
        self.searches = searches


class SearchScanned(Message):
    """A search's runs as a scan found them; `started` is when the scan began."""

    def __init__(self, state: SearchState, started: float) -> None:
        super().__init__()
        self.state = state
        self.started = started


class ScanFinished(Message):
    pass


class RunStatesRead(Message):
    """Fresh states of some runs: path -> (state or None when gone, flag mtime)."""

    def __init__(self, states: dict, read_at: float) -> None:
        super().__init__()
        self.states = states
        self.read_at = read_at


class LaunchersRead(Message):
    def __init__(self, launchers: list[dict]) -> None:
        super().__init__()
        self.launchers = launchers


class WatchStarted(Message):
    """How the app follows the root: `inotify` or `polling` (with why)."""

    def __init__(self, mode: str, reason: str = "") -> None:
        super().__init__()
        self.mode = mode
        self.reason = reason


class ActionDone(Message):
    """An action finished: what to tell the user, and output files to list."""

    def __init__(
        self,
        title: str,
        text: str,
        paths: list[Path] | None = None,
        rescan: bool = True,
    ) -> None:
        super().__init__()
        self.title = title
        self.text = text
        self.paths = paths or []
        self.rescan = rescan


class CleanPlanned(Message):
    def __init__(self, plan, crashes: bool, names: list[str]) -> None:
        super().__init__()
        self.plan = plan
        self.crashes = crashes
        self.names = names
