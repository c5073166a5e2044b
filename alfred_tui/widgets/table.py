"""A table that draws only the rows on screen, so 100,000 runs cost no more than 30."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Hashable, Sequence, Union

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

Cell = Union[str, tuple[str, str]]
"""Text, or (text, rich style) for a coloured cell."""

GAP = 1


@dataclass
class Column:
    key: str
    label: str
    width: int | None = None
    align_right: bool = False
    max_width: int = 40


class RowTable(ScrollView, can_focus=True):
    """Rows of cells with a fixed header, a row cursor and keyboard scrolling."""

    DEFAULT_CSS = """
    RowTable {
        background: $surface;
        height: 1fr;
    }
    RowTable > .row-table--header {
        text-style: bold;
        color: $text-accent;
        background: $panel;
    }
    RowTable > .row-table--cursor {
        background: $block-cursor-background;
        color: $block-cursor-foreground;
        text-style: bold;
    }
    RowTable:blur > .row-table--cursor {
        background: $block-cursor-blurred-background;
        text-style: none;
    }
    """
    COMPONENT_CLASSES = {"row-table--header", "row-table--cursor"}
    BINDINGS = [
        Binding("up,k", "cursor_up", "Up", show=False),
        Binding("down,j", "cursor_down", "Down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home", "first", "First", show=False),
        Binding("end", "last", "Last", show=False),
        Binding("enter", "select", "Open", show=False),
    ]

    cursor = reactive(0, always_update=True)

    class Highlighted(Message):
        def __init__(self, table: "RowTable", key: Hashable | None) -> None:
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> "RowTable":
            return self.table

    class Selected(Highlighted):
        """Enter (or a double click) on a row."""

    class HeaderClicked(Message):
        def __init__(self, table: "RowTable", column: str) -> None:
            super().__init__()
            self.table = table
            self.column = column

        @property
        def control(self) -> "RowTable":
            return self.table

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.columns: list[Column] = []
        self.keys: list[Hashable] = []
        self.rows: list = []
        self.widths: list[int] = []
        self._index: dict[Hashable, int] = {}
        self.cells_of = None

    @property
    def row_count(self) -> int:
        return len(self.rows)

    @property
    def cursor_key(self) -> Hashable | None:
        if 0 <= self.cursor < len(self.keys):
            return self.keys[self.cursor]
        return None

    def set_columns(self, columns: list[Column]) -> None:
        self.columns = columns

    def set_rows(
        self, keys: list[Hashable], rows: list, keep_key: bool = True, cells_of=None
    ) -> None:
        """Replace every row; the cursor stays on the same key when it is still there.

        Rows are lists of cells, or any objects with `cells_of(row)` giving their cells,
        called only for the rows drawn (and a sample measured).
        """
        current = self.cursor_key if keep_key else None
        self.keys = keys
        self.rows = rows
        self.cells_of = cells_of
        self._index = {key: index for index, key in enumerate(keys)}
        self._measure()
        if current in self._index:
            self.cursor = self._index[current]
        else:
            self.cursor = min(self.cursor, max(0, len(rows) - 1))
        self.refresh()

    def update_row(self, key: Hashable, cells: Sequence[Cell]) -> bool:
        """Change one row in place; False when the key is not shown."""
        index = self._index.get(key)
        if index is None:
            return False
        self.rows[index] = cells
        self.refresh()
        return True

    def row_of(self, key: Hashable) -> Sequence[Cell] | None:
        """The cells shown for a key, or None when it is not shown."""
        index = self._index.get(key)
        return None if index is None else self.cells_at(index)

    def cells_at(self, index: int) -> Sequence[Cell]:
        row = self.rows[index]
        return row if self.cells_of is None else self.cells_of(row)

    def move_to(self, key: Hashable) -> None:
        if key in self._index:
            self.cursor = self._index[key]

    def _measure(self) -> None:
        indexes = (
            range(len(self.rows))
            if len(self.rows) <= 2000
            else [*range(1000), *range(len(self.rows) - 1000, len(self.rows))]
        )
        sample = [self.cells_at(index) for index in indexes]
        widths = []
        for index, column in enumerate(self.columns):
            if column.width is not None:
                widths.append(column.width)
                continue
            longest = max((cell_len(text_of(row[index])) for row in sample), default=0)
            widths.append(min(column.max_width, max(cell_len(column.label), longest)))
        self.widths = widths
        total = sum(widths) + GAP * max(0, len(widths) - 1) + 1
        self.virtual_size = Size(total, len(self.rows) + 1)

    @property
    def visible_rows(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    def watch_cursor(self, old: int, new: int) -> None:
        self._scroll_to_cursor()
        self.refresh()
        self.post_message(self.Highlighted(self, self.cursor_key))

    def validate_cursor(self, value: int) -> int:
        return max(0, min(value, len(self.rows) - 1)) if self.rows else 0

    def _scroll_to_cursor(self) -> None:
        top = int(self.scroll_y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + self.visible_rows:
            self.scroll_to(
                y=self.cursor - self.visible_rows + 1, animate=False, immediate=True
            )

    def on_resize(self, event: events.Resize) -> None:
        self._scroll_to_cursor()

    def action_cursor_up(self) -> None:
        self.cursor -= 1

    def action_cursor_down(self) -> None:
        self.cursor += 1

    def action_page_up(self) -> None:
        self.cursor -= self.visible_rows

    def action_page_down(self) -> None:
        self.cursor += self.visible_rows

    def action_first(self) -> None:
        self.cursor = 0

    def action_last(self) -> None:
        self.cursor = len(self.rows) - 1

    def action_select(self) -> None:
        if self.rows:
            self.post_message(self.Selected(self, self.cursor_key))

    def on_click(self, event: events.Click) -> None:
        if event.y == 0:
            column = self._column_at(event.x + int(self.scroll_x))
            if column is not None:
                self.post_message(self.HeaderClicked(self, column))
            return
        index = int(self.scroll_y) + event.y - 1
        if 0 <= index < len(self.rows):
            self.cursor = index
            if event.chain >= 2:
                self.action_select()

    def _column_at(self, x: int) -> str | None:
        left = 0
        for column, width in zip(self.columns, self.widths):
            if left <= x < left + width + GAP:
                return column.key
            left += width + GAP
        return None

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        scroll_x = int(self.scroll_x)
        base = self.rich_style
        if y == 0:
            style = base + self.get_component_rich_style("row-table--header")
            cells = [column.label for column in self.columns]
            return self._strip(cells, style, scroll_x, width)

        index = int(self.scroll_y) + y - 1
        if index >= len(self.rows):
            return Strip.blank(width, base)
        style = base
        if index == self.cursor:
            style = base + self.get_component_rich_style("row-table--cursor")
        return self._strip(self.cells_at(index), style, scroll_x, width)

    def _strip(
        self, cells: Sequence[Cell], style: Style, scroll_x: int, width: int
    ) -> Strip:
        segments = []
        for index, (column, cell_width) in enumerate(zip(self.columns, self.widths)):
            text, cell_style = (
                (cell, None) if isinstance(cell := cells[index], str) else cell
            )
            if cell_len(text) > cell_width:
                text = set_cell_size(text, cell_width - 1) + "…"
            elif column.align_right:
                text = " " * (cell_width - cell_len(text)) + text
            else:
                text = set_cell_size(text, cell_width)
            own = style + Style.parse(cell_style) if cell_style else style
            if cell_style and style is not self.rich_style:
                own = style  # the cursor row keeps one colour, readable in 16 colours
            segments.append(Segment(text, own))
            segments.append(Segment(" " * GAP, style))
        strip = Strip(segments)
        return strip.crop_extend(scroll_x, scroll_x + width, style)


def text_of(cell: Cell) -> str:
    return cell if isinstance(cell, str) else cell[0]
