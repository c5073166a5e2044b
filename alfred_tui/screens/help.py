"""The Help screen: every key of the view below it, and of the app."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from alfred_tui.widgets.table import RowTable

KEY_NAMES = {
    "slash": "/",
    "question_mark": "?",
    "escape": "Esc",
    "enter": "Enter",
    "space": "Space",
    "up": "↑",
    "down": "↓",
    "pageup": "PgUp",
    "pagedown": "PgDn",
    "ctrl+p": "Ctrl+P",
}


def key_label(keys: str) -> str:
    return " ".join(KEY_NAMES.get(key, key) for key in keys.split(","))


def binding_lines(bindings) -> list[str]:
    lines = []
    for binding in bindings:
        if isinstance(binding, Binding) and binding.description:
            text = binding.tooltip or binding.description
            lines.append(f"  {key_label(binding.key):<12} {text}")
    return lines


class HelpScreen(ModalScreen):
    """Keys of the view below, the table's moves and the app's actions."""

    BINDINGS = [Binding("escape,question_mark,q", "close", "Close")]

    def __init__(self, view) -> None:
        super().__init__()
        self.view = view

    def compose(self) -> ComposeResult:
        app = self.app
        sections = [
            ("This view", binding_lines(type(self.view).BINDINGS)),
            ("Moving in tables", binding_lines(RowTable.BINDINGS)),
            ("Actions (on the selection)", binding_lines(app.ACTION_BINDINGS)),
            ("App", binding_lines(app.APP_BINDINGS)),
        ]
        text = []
        for title, lines in sections:
            if lines:
                text.append(f"{title}\n" + "\n".join(lines))
        text.append(
            "Every action is also in the command palette (Ctrl+P).\n"
            "Quitting stops no run: launches are detached."
        )
        with VerticalScroll(classes="dialog wide help"):
            yield Label("alfred · keys", classes="dialog-title")
            yield Static("\n\n".join(text), markup=False, id="help-text")

    def action_close(self) -> None:
        self.dismiss(None)
