"""The Runs view: one row per run of a search, sortable and filterable."""

from __future__ import annotations

import time

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Footer, Input, Static
from textual.worker import get_current_worker

from alfred_core.flags import STATE_ORDER, State
from alfred_core.tree import RunDir, Search
from alfred_tui.model import (
    STATE_LABELS,
    RunRow,
    format_duration,
    format_value,
    iter_run_rows,
    read_run_row,
)
from alfred_tui.screens.base import Selection, View
from alfred_tui.widgets.table import Column, RowTable

STATE_STYLES = {
    State.UNHATCHED: "",
    State.RUNNING: "bold cyan",
    State.LOST: "bold yellow",
    State.COMPLETED: "green",
    State.CRASH: "bold red",
    State.KILLED: "magenta",
    State.NOFLAG: "dim",
}
BATCH_SECONDS = 0.3
SORT_EVERY_UPDATE = 5000
REDRAW_DELAY = 0.25
STATE_KEYS = {
    "0": None,
    "1": State.UNHATCHED,
    "2": State.RUNNING,
    "3": State.LOST,
    "4": State.COMPLETED,
    "5": State.CRASH,
    "6": State.KILLED,
}


def main_metric(search: Search) -> str | None:
    """The metric whose last value the table shows (the project's score metric)."""
    try:
        from alfred_core.results.data import metric_defaults
    except ImportError:
        return None
    try:
        defaults = metric_defaults(search)
    except Exception:  # a broken project must not stop the view; the column stays empty
        return None
    return defaults.get("score_metric") or defaults.get("y_metric")


class RunsScreen(View):
    """Runs of one search; / filters (text or key=value), 0-6 filter by state."""

    BINDINGS = [
        Binding(
            "slash",
            "filter",
            "Filter",
            tooltip="Filter the runs: words, or key=value (e.g. state=crash)",
        ),
        Binding("s", "sort", "Sort", tooltip="Sort by the next column"),
        Binding("S", "reverse", "Reverse", show=False, tooltip="Reverse the order"),
        *[
            Binding(
                key,
                f"state_filter('{key}')",
                f"Only {STATE_LABELS[state]}" if state else "All states",
                show=False,
            )
            for key, state in STATE_KEYS.items()
        ],
    ]

    class RowsRead(Message):
        """Rows read: the first, more, or the last batch of a load, or an update."""

        def __init__(
            self, rows: list[RunRow], kind: str, metric: str | None, load: int = 0
        ) -> None:
            super().__init__()
            self.rows = rows
            self.kind = kind
            self.metric = metric
            self.load = load

    def __init__(self, search: Search) -> None:
        super().__init__()
        self.search = search
        self.rows: dict[str, RunRow] = {}
        self.metric: str | None = None
        self.params: list[str] = list(search.meta.get("varied_keys", []))
        self.sort_key = "run"
        self.sort_reverse = False
        self.text_filter = ""
        self.state_filter: State | None = None
        self.loaded = False
        self.load = 0
        self.redraw_pending = False

    def compose(self) -> ComposeResult:
        yield Static(self.search.name, id="topbar")
        yield RowTable(id="runs")
        yield Input(
            placeholder="filter: text, or key=value (e.g. learning_rate=0.1 "
            "state=crash); Enter applies, Escape clears",
            id="filter",
        )
        yield Static("", id="runs-status")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#filter", Input).display = False
        self.set_columns()
        self.query_one(RowTable).focus()
        self.load_rows()

    @property
    def table(self) -> RowTable:
        return self.query_one(RowTable)

    def set_columns(self) -> None:
        columns = [
            Column("experiment", "exp", align_right=True),
            Column("seed", "seed", align_right=True),
        ]
        columns += [
            Column(f"param:{key}", key, align_right=True, max_width=20)
            for key in self.params
        ]
        columns += [
            Column("state", "state", width=8),
            Column("time", "time", align_right=True),
            Column("worker", "worker"),
            Column("host", "host"),
            Column("gpu", "gpu"),
            Column("metric", self.metric or "metric", align_right=True),
            Column("error", "error", max_width=60),
        ]
        for column in columns:
            if self.sort_key == column.key:
                column.label += " ▼" if self.sort_reverse else " ▲"
        self.table.set_columns(columns)

    def load_rows(self) -> None:
        """Read every row again; batches of an earlier load still coming are ignored."""
        self.load += 1
        self.read_all_rows(self.load)

    @work(
        thread=True,
        exclusive=True,
        group="rows",
        exit_on_error=False,
        description="reading runs",
    )
    def read_all_rows(self, load: int) -> None:
        worker = get_current_worker()
        metric = main_metric(self.search)
        self.post_message(self.RowsRead([], "first", metric, load))
        batch, posted = [], time.monotonic()
        for row in iter_run_rows(self.search, metric):
            if worker.is_cancelled:
                return
            batch.append(row)
            if time.monotonic() - posted > BATCH_SECONDS:
                self.post_message(self.RowsRead(batch, "more", metric, load))
                batch, posted = [], time.monotonic()
        self.post_message(self.RowsRead(batch, "last", metric, load))

    @work(
        thread=True,
        group="row-updates",
        exit_on_error=False,
        description="reading runs",
    )
    def reload_rows(self, paths: list[str]) -> None:
        now = time.time()
        rows = [read_run_row(path, self.metric, now) for path in paths]
        self.post_message(
            self.RowsRead([row for row in rows if row], "update", self.metric)
        )

    def on_runs_screen_rows_read(self, message: RowsRead) -> None:
        if message.kind != "update" and message.load != self.load:
            return  # a batch of a load that a newer one replaced
        if message.kind == "first":
            self.rows, self.metric, self.loaded = {}, message.metric, False
            return
        self.rows.update((row.path, row) for row in message.rows)
        if message.kind == "last":
            self.loaded = True
            keys = {key for row in self.rows.values() for key in row.params}
            self.params = [k for k in self.params if k in keys] + sorted(
                keys - set(self.params)
            )
            self.set_columns()
        if message.kind == "update" and len(self.rows) > SORT_EVERY_UPDATE:
            self.redraw_soon()  # sorting many rows: once for a burst of updates
        else:
            self.redraw()

    def redraw_soon(self) -> None:
        if not self.redraw_pending:
            self.redraw_pending = True
            self.set_timer(REDRAW_DELAY, self.delayed_redraw)

    def delayed_redraw(self) -> None:
        self.redraw_pending = False
        self.redraw()

    def model_changed(self, changes) -> None:
        root = str(self.search.path)
        mine = [
            path
            for path in changes.states | changes.activity
            if path.startswith(root + "/")
        ]
        if str(self.search.name) in changes.searches or changes.root:
            self.load_rows()
        elif mine:
            self.reload_rows(mine)

    def visible_rows(self) -> list[RunRow]:
        rows = list(self.rows.values())
        if self.state_filter is not None:
            rows = [row for row in rows if row.state is self.state_filter]
        if self.text_filter:
            rows = [row for row in rows if matches(row, self.text_filter)]
        rows.sort(key=self.sort_value, reverse=self.sort_reverse)
        return rows

    def sort_value(self, row: RunRow):
        key = self.sort_key
        if key == "run":
            return (row.experiment, row.seed)
        if key.startswith("param:"):
            value = row.params.get(key[6:])
        else:
            value = {
                "experiment": row.experiment,
                "seed": row.seed,
                "state": STATE_ORDER.index(row.state),
                "time": row.elapsed(self.app.now()),
                "worker": row.worker,
                "host": row.host,
                "gpu": row.gpu,
                "metric": row.metric,
                "error": row.error,
            }.get(key)
        if value is None:
            return (2, "", row.experiment, row.seed)
        if isinstance(value, (int, float)):
            return (0, value, row.experiment, row.seed)
        return (1, str(value), row.experiment, row.seed)

    def redraw(self) -> None:
        now = self.app.now()
        rows = self.visible_rows()
        self.table.set_rows(
            [row.path for row in rows], rows, cells_of=lambda row: self.cells(row, now)
        )
        counts = {}
        for row in self.rows.values():
            counts[row.state] = counts.get(row.state, 0) + 1
        summary = " ".join(f"{STATE_LABELS[state]} {n}" for state, n in counts.items())
        shown = (
            f"{len(rows)} of {len(self.rows)} runs" if self.loaded else "reading runs…"
        )
        filters = []
        if self.state_filter is not None:
            filters.append(f"state={STATE_LABELS[self.state_filter]}")
        if self.text_filter:
            filters.append(f"/{self.text_filter}")
        self.query_one("#runs-status", Static).update(
            f"{shown} · {summary}"
            + (f" · filter {' '.join(filters)}" if filters else "")
            + f" · sorted by {self.sort_key.removeprefix('param:')}"
        )
        info = self.search.info
        self.query_one("#topbar", Static).update(
            f"{info.alg_name} on {info.task_name} · {info.search_type} · "
            f"{info.desc} · "
            f"{self.search.name}"
        )

    def cells(self, row: RunRow, now: float) -> list:
        label = STATE_LABELS[row.state] + (" (kill)" if row.kill_requested else "")
        cells = [str(row.experiment), str(row.seed)]
        cells += [format_value(row.params.get(key)) for key in self.params]
        cells += [
            (label, STATE_STYLES[row.state]) if STATE_STYLES[row.state] else label,
            format_duration(row.elapsed(now)),
            f"{row.worker} slurm {row.slurm}" if row.slurm else row.worker,
            row.host,
            row.gpu,
            format_value(row.metric),
            row.error.splitlines()[0] if row.error else "",
        ]
        return cells

    def selection(self) -> Selection:
        key = self.table.cursor_key
        return Selection([self.search], RunDir(key) if key else None)

    def followed_runs(self) -> set[str]:
        return {row.path for row in self.rows.values() if row.state is State.RUNNING}

    def on_row_table_selected(self, message: RowTable.Selected) -> None:
        if message.key:
            from alfred_tui.screens.detail import RunDetailScreen

            self.app.push_screen(RunDetailScreen(RunDir(message.key)))

    def on_row_table_header_clicked(self, message: RowTable.HeaderClicked) -> None:
        self.sort_by(message.column)

    def sort_by(self, key: str) -> None:
        if key == self.sort_key:
            self.sort_reverse = not self.sort_reverse
        else:
            self.sort_key, self.sort_reverse = key, False
        self.set_columns()
        self.redraw()

    def action_sort(self) -> None:
        """Sort by the next column."""
        keys = ["run"] + [column.key for column in self.table.columns]
        keys = [key for key in dict.fromkeys(keys) if key not in ("experiment", "seed")]
        index = keys.index(self.sort_key) if self.sort_key in keys else -1
        self.sort_key, self.sort_reverse = keys[(index + 1) % len(keys)], False
        self.set_columns()
        self.redraw()

    def action_reverse(self) -> None:
        self.sort_reverse = not self.sort_reverse
        self.set_columns()
        self.redraw()

    def action_state_filter(self, key: str) -> None:
        self.state_filter = STATE_KEYS[key]
        self.redraw()

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        box.focus()

    @on(Input.Submitted, "#filter")
    def filter_submitted(self, event: Input.Submitted) -> None:
        self.text_filter = event.value.strip()
        event.input.display = bool(self.text_filter)
        self.table.focus()
        self.redraw()

    def on_key(self, event) -> None:
        box = self.query_one("#filter", Input)
        if event.key == "escape" and box.has_focus:
            event.stop()
            box.value = ""
            box.display = False
            self.text_filter = ""
            self.table.focus()
            self.redraw()


def matches(row: RunRow, text: str) -> bool:
    """Every word of the filter matches: `key=value` a column, other words any cell."""
    for word in text.split():
        if "=" in word:
            key, _, wanted = word.partition("=")
            key = key.strip().lower()
            if key == "state":
                if not (
                    STATE_LABELS[row.state].lower().startswith(wanted.lower())
                    or row.state.value.lower().startswith(wanted.lower())
                ):
                    return False
                continue
            value = {
                "exp": row.experiment,
                "experiment": row.experiment,
                "seed": row.seed,
                "host": row.host,
                "worker": row.worker,
                "gpu": row.gpu,
            }.get(key, row.params.get(key))
            if value is None or format_value(value) != wanted and str(value) != wanted:
                return False
            continue
        haystack = " ".join(
            [
                f"experiment{row.experiment}",
                f"seed{row.seed}",
                row.state.value,
                STATE_LABELS[row.state],
                row.host,
                row.worker,
                row.error,
                *[f"{k}={format_value(v)}" for k, v in row.params.items()],
            ]
        ).lower()
        if word.lower() not in haystack:
            return False
    return True
