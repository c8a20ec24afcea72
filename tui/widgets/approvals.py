"""The approval queue across all sessions, and the context of the selected one.

The queue is a table (session, tool, arguments, deadline), soonest deadline
first, the countdown turning yellow then red as it nears; under it, the
selected approval in full: the call and its arguments, the diff of a file
write (syntax-highlighted), the agent's last message, the tier and the rule
that asked, and a countdown to the deadline that ticks every second. The
clock is injected so snapshots are stable.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from rich.console import Group, RenderableType
from rich.syntax import Syntax
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Static
from textual.widgets.data_table import CellDoesNotExist

from agentctl.protocol import ApprovalView
from agentctl.render import short_args
from agentctl.terminal import clean, clean_line, exact
from tui.widgets.sessions import short_id

Clock = Callable[[], datetime]


def countdown(expires_at: datetime | None, now: datetime) -> str:
    if expires_at is None:
        return "no deadline"
    seconds = int((expires_at - now).total_seconds())
    if seconds <= 0:
        return "expired"
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02}:{secs:02}" if hours else f"{minutes}:{secs:02}"


def countdown_style(expires_at: datetime | None, now: datetime) -> str:
    """The countdown's colour: plain, then yellow under 5 minutes, red under one."""
    if expires_at is None:
        return "dim"
    seconds = (expires_at - now).total_seconds()
    if seconds <= 60:
        return "bold red"
    if seconds <= 300:
        return "yellow"
    return ""


def countdown_text(expires_at: datetime | None, now: datetime) -> Text:
    return Text(countdown(expires_at, now), style=countdown_style(expires_at, now))


def by_deadline(a: ApprovalView) -> tuple[bool, datetime, datetime]:
    """Soonest deadline first; approvals without one after, oldest first."""
    return (a.expires_at is None, a.expires_at or a.requested_at, a.requested_at)


def _section(title: str) -> Text:
    return Text(f"── {title} ", style="bold dim")


def approval_context(a: ApprovalView, now: datetime) -> RenderableType:
    # Everything here but the ids came from the model, a tool or a file: cleaned, and the
    # arguments shown whole and exact (terminal.exact), so what is approved is what is seen.
    head = Text.assemble((clean_line(a.tool), "bold yellow"), " ", (exact(a.args), ""))
    where = Text(f"session {a.session} · seq {a.seq} · approval {a.id}", style="dim")
    tier = Text.assemble(
        ("tier ", "dim"), (a.tier, "bold"), ("  rule ", "dim"), clean_line(a.rule or "-")
    )
    left = countdown(a.expires_at, now)
    deadline = Text.assemble(
        ("deadline ", "dim"), (left, countdown_style(a.expires_at, now) or "bold")
    )
    if a.expires_at is not None:
        deadline.append(f"  then {a.on_expiry}", style="dim")
    parts: list[RenderableType] = [head, where, tier, deadline]
    if a.context.reason and a.context.reason != "policy":
        parts.append(Text.assemble(("why ", "dim"), clean(a.context.reason)))
    if a.escalation_step:
        who = ", ".join(clean_line(x) for x in a.approvers) or "anyone"
        parts.append(Text(f"escalated (step {a.escalation_step}): now for {who}", style="bold red"))
    parts += [_section("the agent said"), Text(clean(a.context.last_message) or "(nothing)")]
    parts += [_section("arguments"), _syntax(exact(a.args, indent=2), "json")]
    if a.context.diff:
        parts += [_section("diff"), _syntax(clean(a.context.diff), "diff")]
    return Group(*parts)


def _syntax(code: str, lexer: str) -> Syntax:
    return Syntax(code, lexer, theme="ansi_dark", background_color="default", word_wrap=True)


class ApprovalsPane(Vertical):
    """Pending approvals; `a`, `d` and `e` act on the highlighted one of the session on screen."""

    DEFAULT_CSS = """
    ApprovalsPane > DataTable { height: auto; max-height: 12; }
    ApprovalsPane > VerticalScroll { height: 1fr; }
    """

    class Highlighted(Message):
        """The queue's cursor moved to an approval."""

        def __init__(self, approval: ApprovalView, by_person: bool) -> None:
            super().__init__()
            self.approval = approval
            self.by_person = by_person  # the queue had the focus: the person moved it

    def __init__(self, clock: Clock, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.clock = clock
        self.pending: dict[str, ApprovalView] = {}
        self.ordered: list[ApprovalView] = []  # as in the table: soonest deadline first
        self.table: DataTable[str | Text] = DataTable(id="approval-queue", cursor_type="row")
        self.context = Static(id="approval-context")

    def compose(self) -> ComposeResult:
        yield self.table
        with VerticalScroll(id="approval-context-scroll"):
            yield self.context

    def on_mount(self) -> None:
        self.border_title = "Approvals"
        for key in ("SESSION", "TOOL", "DEADLINE", "ARGS"):
            self.table.add_column(key, key=key.lower())
        self.set_interval(1.0, self.tick)
        self._show_context()

    def load(self, approvals: list[ApprovalView], session: str | None = None) -> list[ApprovalView]:
        """Replace the queue; returns the approvals that are new since the last load.

        The cursor stays on the highlighted approval if it is still pending, else
        goes to the first one of `session` (the session on screen).
        """
        current = self.selected
        new = [a for a in approvals if a.id not in self.pending]
        self.ordered = sorted(approvals, key=by_deadline)
        self.pending = {a.id: a for a in self.ordered}
        table = self.table
        table.clear()
        now = self.clock()
        for a in self.ordered:
            escalated = Text(" ⚠", style="bold red") if a.escalation_step else Text("")
            table.add_row(
                short_id(a.session),
                Text(clean_line(a.tool)) + escalated,
                countdown_text(a.expires_at, now),
                Text(clean_line(short_args(a.args, 32))),
                key=a.id,
            )
        if current is not None and current.id in self.pending:
            table.move_cursor(row=table.get_row_index(current.id))
        elif session is not None:
            self.select_session(session)
        self.border_title = f"Approvals · {len(approvals)} pending"
        self._show_context()
        return new

    def of_session(self, session_id: str | None) -> list[ApprovalView]:
        return [a for a in self.ordered if a.session == session_id]

    def select_session(self, session_id: str) -> bool:
        """Move the cursor to the session's first approval (unless it is on one already)."""
        selected = self.selected
        if selected is not None and selected.session == session_id:
            return True
        mine = self.of_session(session_id)
        if not mine:
            return False
        self.table.move_cursor(row=self.table.get_row_index(mine[0].id))
        self._show_context()
        return True

    @property
    def selected(self) -> ApprovalView | None:
        table = self.table
        if not table.row_count:
            return None
        try:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        except CellDoesNotExist:
            return None
        return self.pending.get(key.value or "")

    def tick(self) -> None:
        now = self.clock()
        for a in self.pending.values():
            if a.expires_at is not None:
                self.table.update_cell(a.id, "deadline", countdown_text(a.expires_at, now))
        selected = self.selected
        if selected is not None and selected.expires_at is not None:
            self._show_context()

    def _show_context(self) -> None:
        selected = self.selected
        body: RenderableType = (
            approval_context(selected, self.clock())
            if selected is not None
            else Text("no pending approval", style="dim")
        )
        self.context.update(body)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self._show_context()
        approval = self.pending.get(event.row_key.value or "")
        if approval is not None:
            self.post_message(self.Highlighted(approval, by_person=self.table.has_focus))
