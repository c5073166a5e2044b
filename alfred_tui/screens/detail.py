"""The Run detail view: state and owner, the log followed live, traceback, config."""

from __future__ import annotations

import json
import threading
import time

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Footer, Log, Static, TabbedContent, TabPane

from alfred_core.tree import RunDir, read_json
from alfred_tui.model import (
    STATE_LABELS,
    LogTail,
    format_duration,
    read_config,
    read_flag_details,
)
from alfred_core.flags import State
from alfred_tui.screens.base import Selection, View

LOG_LINES = 2000


def format_time(seconds) -> str:
    if not isinstance(seconds, (int, float)):
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(seconds))


class RunDetailScreen(View):
    """One run; its log is read from its last 64 KB and followed as it grows."""

    BINDINGS = [
        Binding("1", "tab('log')", "Log", show=False),
        Binding("2", "tab('error')", "Error", show=False),
        Binding("3", "tab('config')", "Config", show=False),
    ]

    class DetailsRead(Message):
        def __init__(self, details: dict, config: dict, progress: dict) -> None:
            super().__init__()
            self.details = details
            self.config = config
            self.progress = progress

    class LogRead(Message):
        def __init__(self, lines: list[str], restarted: bool) -> None:
            super().__init__()
            self.lines = lines
            self.restarted = restarted

    def __init__(self, run: RunDir) -> None:
        super().__init__()
        self.run = run
        self.tail = LogTail(run.log_path)
        self.tail_lock = threading.Lock()
        self.details: dict = {}

    def compose(self) -> ComposeResult:
        yield Static(self.run.name, id="topbar")
        yield Static("reading…", id="run-info")
        with TabbedContent(initial="log"):
            with TabPane("Log (1)", id="log"):
                yield Log(max_lines=LOG_LINES, id="log-view")
            with TabPane("Error (2)", id="error"):
                with VerticalScroll():
                    yield Static("", id="traceback", markup=False)
            with TabPane("Config (3)", id="config"):
                with VerticalScroll():
                    yield Static("", id="config-view", markup=False)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.read_details()
        self.read_log()

    @work(thread=True, exclusive=True, group="details", exit_on_error=False)
    def read_details(self) -> None:
        try:
            progress = read_json(self.run.progress_path)
        except (OSError, ValueError):
            progress = {}
        self.post_message(
            self.DetailsRead(
                read_flag_details(self.run), read_config(self.run), progress
            )
        )

    @work(thread=True, group="log", exit_on_error=False)
    def read_log(self) -> None:
        with self.tail_lock:  # one reader at a time, posting in the order read
            lines, restarted = self.tail.read_new()
            if lines or restarted:
                self.post_message(self.LogRead(lines, restarted))

    def on_run_detail_screen_log_read(self, message: LogRead) -> None:
        log = self.query_one("#log-view", Log)
        if message.restarted:
            log.clear()
        at_end = log.is_vertical_scroll_end or not log.line_count
        log.write_lines(message.lines)
        if at_end:  # a horizontal scrollbar may appear after the write: stay at the end
            self.call_after_refresh(log.scroll_end, animate=False)

    def on_run_detail_screen_details_read(self, message: DetailsRead) -> None:
        self.details = details = message.details
        state = State(details["state"])
        owner = details.get("owner") or {}
        where = ", ".join(
            f"{key} {owner[key]}"
            for key in ("host", "pid", "worker", "gpu", "slurm_job_id")
            if owner.get(key) is not None
        )
        duration = details.get("duration")
        if duration is None and isinstance(details.get("started"), (int, float)):
            duration = (details.get("ended") or self.app.now()) - details["started"]
        lines = [
            f"state: {STATE_LABELS[state]}"
            + (f" · flag {details['flag']}" if details.get("flag") else "")
            + (f" · {where}" if where else ""),
            f"started {format_time(details.get('started'))} · ended "
            f"{format_time(details.get('ended'))} · "
            f"duration {format_duration(duration) or '-'}",
        ]
        progress = message.progress
        if progress.get("total") and state is State.RUNNING:
            lines[-1] += f" · progress {progress.get('n')}/{progress['total']}"
        error = details.get("error") or details.get("text")
        if details.get("killed_by"):
            lines.append(f"killed by {details['killed_by']}")
        if error:
            lines.append(f"error: {str(error).splitlines()[0]}")
        self.query_one("#run-info", Static).update("\n".join(lines))
        self.query_one("#run-info").set_class(state is State.CRASH, "crash")
        traceback = (
            details.get("traceback") or error or "no error: this run did not crash"
        )
        self.query_one("#traceback", Static).update(str(traceback))
        self.query_one("#config-view", Static).update(
            json.dumps(message.config, indent=2)
        )
        if state is State.CRASH and not getattr(self, "shown_crash", False):
            self.shown_crash = True
            self.query_one(TabbedContent).active = "error"

    def model_changed(self, changes) -> None:
        path = str(self.run.path)
        if path in changes.states:
            self.read_details()
        if path in changes.activity or path in changes.states:
            self.read_log()
            self.read_details()

    def followed_runs(self) -> set[str]:
        return {str(self.run.path)}

    def selection(self) -> Selection:
        from alfred_core.tree import Search

        return Selection([Search(self.run.storage_dir)], self.run)

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab
