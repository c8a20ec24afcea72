"""The sessions pane: one row per session, kept live from the global follow.

Rows are keyed by session id. The app feeds it whole summaries (from
`client.sessions()` or `client.session(id)`); the pane only lays them out,
with the same status colours as `agentctl ls`.
"""

from __future__ import annotations

from rich.text import Text
from textual.message import Message
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist, RowDoesNotExist

from agentctl.protocol import SessionSummary
from agentctl.render import STATUS_STYLE
from agentctl.terminal import clean_line

COLUMNS = (
    ("id", "SESSION"),
    ("status", "STATUS"),  # as wide as its longest value, so a change never truncates it
    ("steps", "STEPS"),
    ("cost", "COST"),
    ("approvals", "APPROVALS"),
    ("parent", "PARENT"),
    ("task", "TASK"),
)


def short_id(value: str) -> str:
    """The random tail of a ULID id: enough to tell sessions apart in a narrow column."""
    return "…" + value[-8:] if len(value) > 12 else value


def row_of(s: SessionSummary) -> tuple[str | Text, ...]:
    return (
        s.id,
        Text(s.status.value, style=STATUS_STYLE.get(s.status.value, "")),
        str(s.steps),
        f"${s.cost_usd:.4f}",
        Text(str(s.pending_approvals), style="bold yellow") if s.pending_approvals else "",
        f"{short_id(s.parent.session)}@{s.parent.seq}" if s.parent else "",
        Text(clean_line(s.task.splitlines()[0]))
        if s.task.strip()
        else "",  # the user's, or stdin's
    )


class SessionsPane(DataTable[str | Text]):
    """Sessions with status, steps, cost, pending approvals and parent."""

    DEFAULT_CSS = """
    SessionsPane { height: 1fr; }
    """

    class Selected(Message):
        """The cursor moved to a session."""

        def __init__(self, session_id: str) -> None:
            super().__init__()
            self.session_id = session_id

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.summaries: dict[str, SessionSummary] = {}

    def on_mount(self) -> None:
        for key, label in COLUMNS:
            self.add_column(label, key=key, width=9 if key == "status" else None)
        self.border_title = "Sessions"

    def load(self, sessions: list[SessionSummary]) -> None:
        """Bring every row up to date (the first load, and after a reconnect).

        Rows are updated in place, never cleared: clearing would move the cursor
        and re-select sessions under the person's hands. The log never deletes
        a session, so no row goes away.
        """
        for summary in sessions:
            self.upsert(summary)

    def upsert(self, summary: SessionSummary) -> None:
        known = summary.id in self.summaries
        self.summaries[summary.id] = summary
        if not known:
            self.add_row(*row_of(summary), key=summary.id)
            return
        for (column, _), value in zip(COLUMNS, row_of(summary), strict=True):
            self.update_cell(summary.id, column, value, update_width=True)

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
        try:
            row = self.get_row_index(session_id)
        except RowDoesNotExist:
            return False
        self.move_cursor(row=row)
        return True

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.post_message(self.Selected(event.row_key.value))
