"""The sessions pane: one row per session, kept live from the global follow.

Rows are keyed by session id. The app feeds it whole summaries (from
`client.sessions()` or `client.session(id)`); the pane lays them out with
the same status colours as `agentctl ls`, and decides which rows show and
in what order:

- a filter (`/`) keeps the sessions whose task, id, labels, profile or
  status contain every word typed;
- waiting sessions (someone must decide) always come first, then the
  chosen sort (`s` cycles: newest, status, cost, steps, task);
- the id is short (its random tail), the task and the profile come right
  after the status, so a narrow pane cuts the parent and the cost, not them;
- the title sums it up: sessions · waiting · cost today.

A change of order or of the filter lays the rows out again, keeping the
cursor on the session it was on.

The pane draws its rows itself, each row's line kept until that row, the
column widths, the cursor on it or the styles change: a session's update
repaints its own line, a focus move the cursor's line (a `DataTable` lays
out and paints every row again for either, which a live session does every
debounce).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import ClassVar

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from agentctl.protocol import SessionStatus, SessionSummary
from agentctl.render import STATUS_STYLE
from agentctl.terminal import clean_line

COLUMNS = (
    ("id", "SESSION"),
    ("status", "STATUS"),  # as wide as its longest value, so a change never truncates it
    ("task", "TASK"),
    ("profile", "PROFILE"),
    ("steps", "STEPS"),
    ("cost", "COST"),
    ("approvals", "WAIT"),
    ("parent", "PARENT"),
)
TASK_WIDTH = 36
STATUS_WIDTH = 9  # the longest status: a change never moves the columns after it
PADDING = 1  # blank cells either side of each column
SORTS = ("newest", "status", "cost", "steps", "task")


def short_id(value: str) -> str:
    """The random tail of a ULID id: enough to tell sessions apart in a narrow column."""
    return "…" + value[-8:] if len(value) > 12 else value


def task_line(s: SessionSummary, width: int = TASK_WIDTH) -> str:
    line = clean_line(s.task.splitlines()[0]) if s.task.strip() else ""  # the user's, or stdin's
    return line if len(line) <= width else line[: width - 1] + "…"


def row_of(s: SessionSummary) -> tuple[str | Text, ...]:
    return (
        short_id(s.id),
        Text(s.status.value, style=STATUS_STYLE.get(s.status.value, "")),
        Text(task_line(s)),
        Text(clean_line(s.agent or "-"), style="" if s.agent else "dim"),
        str(s.steps),
        f"${s.cost_usd:.4f}",
        Text(str(s.pending_approvals), style="bold yellow") if s.pending_approvals else "",
        f"{short_id(s.parent.session)}@{s.parent.seq}" if s.parent else "",
    )


def haystack(s: SessionSummary) -> str:
    """What the filter looks in: task, id, labels, profile, status."""
    labels = " ".join(f"{k}={v}" for k, v in s.labels.items())
    return " ".join((s.task, s.id, labels, s.agent or "", s.status.value)).lower()


def matches(s: SessionSummary, query: str) -> bool:
    return all(word in haystack(s) for word in query.lower().split())


def waiting(s: SessionSummary) -> bool:
    return s.status is SessionStatus.WAITING or s.pending_approvals > 0


def sort_key(sort: str) -> Callable[[SessionSummary], tuple[object, ...]]:
    """Waiting sessions first, then by `sort` (newest first for the time, cost and steps)."""

    def key(s: SessionSummary) -> tuple[object, ...]:
        first = not waiting(s)
        newest = -s.created_at.timestamp()
        if sort == "status":
            return (first, s.status.value, newest)
        if sort == "cost":
            return (first, -s.cost_usd, newest)
        if sort == "steps":
            return (first, -s.steps, newest)
        if sort == "task":
            return (first, task_line(s, 10_000).lower(), newest)
        return (first, newest, s.id)

    return key


Cell = str | Text
Row = tuple[Cell, ...]


def cell_text(cell: Cell) -> Text:
    return cell if isinstance(cell, Text) else Text(cell)


def cell_key(cell: Cell) -> object:
    """What decides a cell's look (`Text.__eq__` leaves its own style out)."""
    return (cell.plain, str(cell.style), tuple(cell.spans)) if isinstance(cell, Text) else cell


class SessionsPane(ScrollView, can_focus=True):
    """Sessions with status, task, profile, steps, cost, pending approvals and parent."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "sessions--header",
        "sessions--even-row",
        "sessions--cursor",
    }

    # The look of Textual's DataTable, which this pane was before, but for its tint
    # of the whole table with the focus: the focus shows in the border and the
    # cursor (as in the timeline), so that a focus move paints one row again.
    DEFAULT_CSS = """
    SessionsPane {
        height: 1fr;
        background: $surface;
        color: $foreground;
        &:focus > .sessions--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: $block-cursor-text-style;
        }
        & > .sessions--header {
            text-style: bold;
            background: $panel;
            color: $foreground;
        }
        & > .sessions--even-row {
            background: $surface-lighten-1 50%;
        }
        &:dark > .sessions--even-row {
            background: $surface-darken-1 40%;
        }
        & > .sessions--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "move(-1)", "Up", show=False),
        Binding("down,j", "move(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home,g", "edge(-1)", "First", show=False),
        Binding("end,G", "edge(1)", "Last", show=False),
    ]

    class Selected(Message):
        """The cursor moved to a session."""

        def __init__(self, session_id: str) -> None:
            super().__init__()
            self.session_id = session_id

    def __init__(
        self, *, clock: Callable[[], datetime] | None = None, id: str | None = None
    ) -> None:
        super().__init__(id=id)
        self.summaries: dict[str, SessionSummary] = {}
        self.query_text = ""
        self.sort_by = SORTS[0]
        self.order: list[str] = []  # the ids shown, in order
        self.cursor_row = 0  # an index into `order`
        self._rows: dict[str, Row] = {}  # as laid out
        self._widths: tuple[int, ...] = tuple(len(label) for _, label in COLUMNS)
        self._lines: dict[str, tuple[object, Strip]] = {}  # each row's line, and what made it
        self._header: tuple[object, Strip] | None = None
        self._clock = clock or (lambda: datetime.now().astimezone())

    def on_mount(self) -> None:
        self._title()

    # --- what the app feeds it ----------------------------------------------------

    def load(self, sessions: list[SessionSummary]) -> None:
        """Bring every row up to date (the first load, and after a reconnect)."""
        for summary in sessions:
            self.summaries[summary.id] = summary
        if not self._layout():
            for summary in sessions:
                self._update_row(summary)
        self._title()

    def upsert(self, summary: SessionSummary) -> None:
        self.summaries[summary.id] = summary
        if not self._layout():
            self._update_row(summary)
        self._title()

    def set_filter(self, query: str) -> None:
        self.query_text = query.strip()
        self._layout()
        self._title()

    def next_sort(self) -> str:
        self.sort_by = SORTS[(SORTS.index(self.sort_by) + 1) % len(SORTS)]
        self._layout()
        self._title()
        return self.sort_by

    def get_row(self, session_id: str) -> Row:
        """The cells of a shown session's row, as laid out."""
        return self._rows[session_id]

    @property
    def row_count(self) -> int:
        return len(self.order)

    # --- layout -------------------------------------------------------------------

    def _wanted_order(self) -> list[str]:
        shown = [s for s in self.summaries.values() if matches(s, self.query_text)]
        return [s.id for s in sorted(shown, key=sort_key(self.sort_by))]

    def _layout(self) -> bool:
        """Lay the rows out again if the order changed (a new session, a sort, the filter),
        the cursor staying on its session; whether it did.

        When the session it was on is filtered out, the cursor's new row is the
        selection. On the first layout the app chooses.
        """
        wanted = self._wanted_order()
        if wanted == self.order:
            return False
        keep = self.selected
        self.order = wanted
        self._rows = {sid: row_of(self.summaries[sid]) for sid in wanted}
        self._lines = {sid: line for sid, line in self._lines.items() if sid in self._rows}
        self.cursor_row = wanted.index(keep) if keep in wanted else 0
        self._measure()
        self._scroll_to_cursor()
        self.refresh()
        now = self.selected
        if keep is not None and now is not None and now != keep:
            self.post_message(self.Selected(now))
        return True

    def _update_row(self, summary: SessionSummary) -> None:
        """A shown session changed: its line is painted again, every line if a width changed."""
        if summary.id not in self._rows:
            return
        row = row_of(summary)
        if tuple(map(cell_key, row)) == tuple(map(cell_key, self._rows[summary.id])):
            return
        self._rows[summary.id] = row
        if self._measure():
            self.refresh()
        else:
            self.refresh_line(1 + self.order.index(summary.id))

    def _measure(self) -> bool:
        """The columns' widths from what they hold; whether they changed."""
        widths = [len(label) for _, label in COLUMNS]
        for row in self._rows.values():
            for i, cell in enumerate(row):
                width = cell_len(cell.plain if isinstance(cell, Text) else cell)
                widths[i] = max(widths[i], width)
        widths[1] = STATUS_WIDTH
        changed = tuple(widths) != self._widths
        self._widths = tuple(widths)
        self.virtual_size = Size(sum(widths) + 2 * PADDING * len(widths), 1 + len(self.order))
        return changed

    def _title(self) -> None:
        today = self._clock().astimezone().date()
        sessions = self.summaries.values()
        cost = sum(s.cost_usd for s in sessions if s.created_at.astimezone().date() == today)
        waits = sum(1 for s in sessions if waiting(s))
        title = f"Sessions · {len(self.summaries)} · {waits} waiting · ${cost:.2f} today"
        if self.query_text:
            title += f" · /{clean_line(self.query_text)} ({len(self.order)} shown)"
        if self.sort_by != SORTS[0]:
            title += f" · by {self.sort_by}"
        if title != self.border_title:
            self.border_title = title

    # --- painting -----------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        base = self.rich_style
        scroll_x = int(self.scroll_offset.x)
        width = self.size.width
        if y == 0:
            header = self.get_component_rich_style("sessions--header")
            key = (self._widths, header)
            if self._header is None or self._header[0] != key:
                cells = [Text(label) for _, label in COLUMNS]
                self._header = (key, self._strip(cells, header, None))
            line = self._header[1]
        else:
            index = int(self.scroll_offset.y) + y - 1
            if index >= len(self.order):
                return Strip.blank(width, base)
            line = self._row_line(index, base)
        return line.crop_extend(scroll_x, scroll_x + width, base)

    def _row_line(self, index: int, base: Style) -> Strip:
        session_id = self.order[index]
        row = self._rows[session_id]
        # zebra stripes from the first row, as a DataTable's
        under = base if index % 2 else self.get_component_rich_style("sessions--even-row")
        cursor = (
            self.get_component_rich_style("sessions--cursor") if index == self.cursor_row else None
        )
        key = (tuple(map(cell_key, row)), self._widths, under, cursor)
        cached = self._lines.get(session_id)
        if cached is not None and cached[0] == key:
            return cached[1]
        line = self._strip([cell_text(cell) for cell in row], under, cursor)
        self._lines[session_id] = (key, line)
        return line

    def _strip(self, cells: list[Text], under: Style, over: Style | None) -> Strip:
        """One line of cells, each cut or padded to its column's width."""
        line = Text(no_wrap=True, overflow="crop", end="")
        pad = " " * PADDING
        for cell, width in zip(cells, self._widths, strict=True):
            shown = cell.copy()
            shown.truncate(width, overflow="ellipsis", pad=True)
            line.append(pad)
            line.append_text(shown)
            line.append(pad)
        segments = list(Segment.apply_style(line.render(self.app.console), under, over))
        return Strip(segments, line.cell_len)

    # --- the cursor ---------------------------------------------------------------

    @property
    def selected(self) -> str | None:
        if not self.order:
            return None
        return self.order[min(self.cursor_row, len(self.order) - 1)]

    def select(self, session_id: str) -> bool:
        """Put the cursor on a session (the filter is cleared when it hides it)."""
        if session_id not in self.summaries:
            return False
        if session_id not in self.order and self.query_text:
            self.set_filter("")
        if session_id not in self.order:
            return False
        self._move_to(self.order.index(session_id), always=True)
        return True

    def _move_to(self, row: int, *, always: bool = False) -> None:
        """The cursor to `row` (kept inside the rows); says which session it is on."""
        if not self.order:
            return
        row = max(0, min(row, len(self.order) - 1))
        before = self.cursor_row
        self.cursor_row = row
        if row != before:
            self.refresh_line(1 + before)
            self.refresh_line(1 + row)
        self._scroll_to_cursor()
        if row != before or always:
            self.post_message(self.Selected(self.order[row]))

    def _scroll_to_cursor(self) -> None:
        rows = max(1, self.scrollable_content_region.height - 1)  # below the header
        top = int(self.scroll_offset.y)
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False)
        elif self.cursor_row >= top + rows:
            self.scroll_to(y=self.cursor_row - rows + 1, animate=False)

    def refresh_line(self, y: int) -> None:
        """Line `y` of the table (1 the first row) painted again, where it is on screen."""
        top = y - int(self.scroll_offset.y)
        if top >= 1:  # the header's line is the header's, whatever the scroll
            self.refresh(Region(0, top, self.size.width, 1))

    def on_resize(self, event: events.Resize) -> None:
        self._scroll_to_cursor()

    def action_move(self, delta: int) -> None:
        self._move_to(self.cursor_row + delta)

    def action_page(self, direction: int) -> None:
        rows = max(1, self.scrollable_content_region.height - 1)
        self._move_to(self.cursor_row + direction * rows)

    def action_edge(self, direction: int) -> None:
        self._move_to(0 if direction < 0 else len(self.order) - 1)

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y == 0:
            return
        row = int(self.scroll_offset.y) + offset.y - 1
        if row < len(self.order):
            self._move_to(row, always=True)
