"""What every view shares: the selection that actions apply to, and model updates."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from textual.screen import Screen

from alfred_core.tree import RunDir, Search
from alfred_tui.model import Changes


@dataclass
class Selection:
    """What the keys act on: searches, and in the Runs view a run and its experiment."""

    searches: list[Search] = field(default_factory=list)
    run: RunDir | None = None

    @property
    def experiment_dir(self) -> Path | None:
        return self.run.experiment_dir if self.run else None


class View(Screen):
    """A full-screen view of the root, refreshed by the app as files change."""

    def selection(self) -> Selection:
        return Selection()

    def model_changed(self, changes: Changes) -> None:
        """The app's model of the root changed: redraw what depends on it."""

    def followed_runs(self) -> set[str]:
        """Runs whose logs or metrics this view shows (the poller stats them)."""
        return set()
