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
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from rich.text import Text
from textual.message import Message
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist, RowDoesNotExist

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


class SessionsPane(DataTable[str | Text]):
    """Sessions with status, task, profile, steps, cost, pending approvals and parent."""

    DEFAULT_CSS = """
    SessionsPane { height: 1fr; }
    """

    class Selected(Message):
        """The cursor moved to a session."""

        def __init__(self, session_id: str) -> None:
            super().__init__()
            self.session_id = session_id

    def __init__(
        self, *, clock: Callable[[], datetime] | None = None, id: str | None = None
    ) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.summaries: dict[str, SessionSummary] = {}
        self.query_text = ""
        self.sort_by = SORTS[0]
        self.order: list[str] = []  # the ids shown, in order
        self._rows: dict[str, tuple[str | Text, ...]] = {}  # as laid out, to update what changed
        self._clock = clock or (lambda: datetime.now().astimezone())

    def on_mount(self) -> None:
        for key, label in COLUMNS:
            self.add_column(label, key=key, width=9 if key == "status" else None)
        self._title()

    # --- what the app feeds it ----------------------------------------------------

    def load(self, sessions: list[SessionSummary]) -> None:
        """Bring every row up to date (the first load, and after a reconnect)."""
        for summary in sessions:
            self.summaries[summary.id] = summary
        self._layout()

    def upsert(self, summary: SessionSummary) -> None:
        self.summaries[summary.id] = summary
        if self._wanted_order() != self.order:
            self._layout()
            return
        if summary.id in self.order:
            row = row_of(summary)
            before = self._rows.get(summary.id)
            for i, ((column, _), value) in enumerate(zip(COLUMNS, row, strict=True)):
                if before is None or before[i] != value:  # each update measures the columns
                    self.update_cell(summary.id, column, value, update_width=True)
            self._rows[summary.id] = row
        self._title()

    def set_filter(self, query: str) -> None:
        self.query_text = query.strip()
        self._layout()

    def next_sort(self) -> str:
        self.sort_by = SORTS[(SORTS.index(self.sort_by) + 1) % len(SORTS)]
        self._layout()
        return self.sort_by

    # --- layout -------------------------------------------------------------------

    def _wanted_order(self) -> list[str]:
        shown = [s for s in self.summaries.values() if matches(s, self.query_text)]
        return [s.id for s in sorted(shown, key=sort_key(self.sort_by))]

    def _layout(self) -> None:
        """Lay the rows out again (a new session, order or filter), the cursor staying put.

        Clearing moves the cursor, so the highlights it posts meanwhile are
        dropped (`on_data_table_row_highlighted` only passes on the row the
        cursor is on when it runs).
        """
        wanted = self._wanted_order()
        if wanted != self.order:
            keep = self.selected
            with self.prevent(DataTable.RowHighlighted):
                self.clear()
                self._rows.clear()
                for session_id in wanted:
                    row = self._rows[session_id] = row_of(self.summaries[session_id])
                    self.add_row(*row, key=session_id)
                self.order = wanted
                if keep in wanted:
                    self.move_cursor(row=wanted.index(keep), animate=False)
            now = self.selected
            # The one it was on is filtered out: the cursor's new row is the selection
            # (its highlight was held back above). On the first layout the app chooses.
            if keep is not None and now is not None and now != keep:
                self.post_message(self.Selected(now))
        self._title()

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
        if title != self.border_title:  # setting it repaints the whole table
            self.border_title = title

    # --- the cursor ---------------------------------------------------------------

    @property
    def selected(self) -> str | None:
        if not self.row_count:
            return None
        try:
            key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        except CellDoesNotExist:  # no valid cursor yet
            return None
        return key.value

    def select(self, session_id: str) -> bool:
        """Put the cursor on a session (the filter is cleared when it hides it)."""
        if session_id not in self.summaries:
            return False
        if session_id not in self.order and self.query_text:
            self.set_filter("")
        try:
            row = self.get_row_index(session_id)
        except RowDoesNotExist:
            return False
        if row == self.cursor_row and self.selected == session_id:
            self.post_message(self.Selected(session_id))  # no move, so no highlight: say it
        self.move_cursor(row=row)
        return True

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        key = event.row_key.value
        if key is not None and key == self.selected:  # a stale one, from a layout, is dropped
            self.post_message(self.Selected(key))
