"""The Searches view: every storage dir of the root with its counts and progress."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Static

from alfred_core.flags import State
from alfred_tui.model import SearchState, format_duration
from alfred_tui.screens.base import Selection, View
from alfred_tui.widgets.table import Column, RowTable

COUNT_COLUMNS = (
    (State.UNHATCHED, "ready", ""),
    (State.RUNNING, "run", "cyan"),
    (State.LOST, "lost", "bold yellow"),
    (State.COMPLETED, "done", "green"),
    (State.CRASH, "crash", "bold red"),
    (State.KILLED, "kill", "magenta"),
)
BAR_WIDTH = 6


def progress_bar(done: int, total: int) -> str:
    if not total:
        return " " * BAR_WIDTH + "   -"
    fraction = done / total
    eighths = round(fraction * BAR_WIDTH * 8)
    full, part = divmod(eighths, 8)
    bar = "█" * full + (" ▏▎▍▌▋▊▉"[part] if part else "")
    return f"{bar:░<{BAR_WIDTH}}{fraction * 100:>4.0f}%"


class SearchesScreen(View):
    """Searches of the root; Enter opens one, Space marks several for launch/clean."""

    BINDINGS = [
        Binding(
            "space",
            "mark",
            "Mark",
            show=False,
            tooltip="Mark or unmark the search (actions apply to every marked one)",
        ),
        Binding(
            "enter", "open", "Open", show=False, tooltip="Open the runs of the search"
        ),
    ]

    def compose(self) -> ComposeResult:
        yield Static("", id="topbar")
        yield RowTable(id="searches")
        yield Static("", id="launchers")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        table = self.query_one(RowTable)
        columns = [
            Column("mark", " ", width=1),
            Column("id", "id"),
            Column("alg", "alg"),
            Column("task", "task"),
        ]
        columns += [
            Column(state.value, label, align_right=True)
            for state, label, _ in COUNT_COLUMNS
        ]
        columns += [
            Column("progress", "progress", width=BAR_WIDTH + 5),
            Column("elapsed", "elapsed", align_right=True),
            Column("eta", "ETA", align_right=True),
            Column("type", "type"),
            Column("desc", "desc"),
            Column("launchers", "launchers"),
        ]
        table.set_columns(columns)
        self.marked: set[str] = set()
        self.redraw()
        table.focus()

    @property
    def table(self) -> RowTable:
        return self.query_one(RowTable)

    def redraw(self) -> None:
        """Rebuild the rows from the app's model (a few rows per search, cheap)."""
        app = self.app
        now = app.now()
        names = list(app.searches)
        rows = [self.row(app.searches[name], now) for name in names]
        self.table.set_rows(names, rows)
        self.update_bars()

    def row(self, state: SearchState, now: float) -> list:
        info = state.search.info
        counts = state.counts()
        total = sum(counts.values())
        finished = counts[State.COMPLETED] + counts[State.CRASH] + counts[State.KILLED]
        elapsed, eta = state.elapsed_and_eta(now)
        cells = [
            "*" if state.name in self.marked else "",
            info.id,
            info.alg_name,
            info.task_name,
        ]
        for column_state, _, style in COUNT_COLUMNS:
            count = counts[column_state]
            if not state.scanned:
                cells.append(("…", "dim"))
            else:
                cells.append(
                    (str(count), style)
                    if count and style
                    else (str(count), "dim")
                    if not count
                    else str(count)
                )
        launchers = self.app.launchers_of(state.name)
        cells += [
            progress_bar(finished, total) if state.scanned else "scanning",
            format_duration(elapsed),
            format_duration(eta),
            info.search_type,
            info.desc,
            launchers,
        ]
        return cells

    def update_bars(self) -> None:
        app = self.app
        runs = sum(len(state.states) for state in app.searches.values())
        self.query_one("#topbar", Static).update(
            f"alfred · {app.root} · {len(app.searches)} searches · {runs} runs · "
            f"{app.watch_mode}"
        )
        launchers = app.launchers
        if launchers:
            text = "launchers: " + " · ".join(
                f"{item.get('id')} ({item.get('executor', 'local')}, "
                f"{item.get('workers')} workers)"
                for item in launchers
            )
        else:
            text = (
                "no launcher working · Enter: runs · p: prepare · l: launch · ?: help"
            )
        current = self.table.cursor_key
        if current:
            text = f"{current}\n{text}"
        elif app.scan_complete and not app.searches:
            text = (
                f"no search in {app.root} yet: p prepares one from a schedule\n{text}"
            )
        self.query_one("#launchers", Static).update(text)

    def on_row_table_highlighted(self, message: RowTable.Highlighted) -> None:
        self.update_bars()

    def shown_count(self, name: str, state: str) -> str | None:
        """The count shown for a search and a state (for tests and the benchmark)."""
        row = self.table.row_of(name)
        if row is None:
            return None
        index = next(i for i, c in enumerate(self.table.columns) if c.key == state)
        cell = row[index]
        return cell if isinstance(cell, str) else cell[0]

    def model_changed(self, changes) -> None:
        self.redraw()

    def selection(self) -> Selection:
        app = self.app
        names = [name for name in app.searches if name in self.marked]
        if not names and self.table.cursor_key in app.searches:
            names = [self.table.cursor_key]
        return Selection([app.searches[name].search for name in names])

    def action_mark(self) -> None:
        key = self.table.cursor_key
        if key is None:
            return
        self.marked.symmetric_difference_update({key})
        self.redraw()
        self.table.action_cursor_down()

    def action_open(self) -> None:
        key = self.table.cursor_key
        if key in self.app.searches:
            from alfred_tui.screens.runs import RunsScreen

            self.app.push_screen(RunsScreen(self.app.searches[key].search))

    def on_row_table_selected(self, message: RowTable.Selected) -> None:
        self.action_open()
