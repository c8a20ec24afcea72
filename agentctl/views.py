"""How sessions and approvals look to a person: `ls`, `show`, `approvals`.

Split from `agentctl.render` so that those commands' quick path
(`agentctl/cli/quick.py`) renders with rich alone: the protocol's models are
named for type checkers only, and anything with their attributes will do
(the quick path passes plain objects made from the daemon's JSON). The lines
of `ls` and `approvals` are laid out in `agentctl.lines`, without rich. Every
string a session or an approval carries may come from the model, a tool or a
file, so all of it goes through `agentctl.terminal` first.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from agentctl.lines import (
    STATUS_STYLE,
    TASK_MIN,
    Line,
    age,
    approval_blocks,
    cost_text,
    ls_lines,
)
from agentctl.terminal import clean, clean_line, exact

if TYPE_CHECKING:
    from agentctl.protocol import ApprovalView, SessionSummary


def _id_column(table: Table, name: str, ids: list[str]) -> None:
    """A column that is never cut: ids are what people copy into the next command."""
    table.add_column(name, no_wrap=True, min_width=max([len(name), *map(len, ids)]))


def sessions_table(
    sessions: list[SessionSummary], now: datetime, width: int | None = None
) -> Table:
    """`agentctl ls`: one row per session, newest last.

    Every column but the task is as wide as its widest value and never cut
    (STATUS stays whole: `waitin…` tells nothing); the task takes what is
    left, and when under `TASK_MIN` columns are left (`width`, the
    terminal's), it is dropped first.
    """
    rows = [
        (
            s.id,
            Text(s.status.value, style=STATUS_STYLE.get(s.status.value, "")),
            age(s.created_at, now),
            str(s.steps),
            cost_text(s),
            str(s.pending_approvals) if s.pending_approvals else "",
            f"{s.parent.session}@{s.parent.seq}" if s.parent else "",
        )
        for s in sessions
    ]
    names = ("SESSION", "STATUS", "AGE", "STEPS", "COST", "APPROVALS", "PARENT")

    def widths_of(rows: Sequence[tuple[str | Text, ...]]) -> list[int]:
        return [
            max([len(name), *(len(str(row[i])) for row in rows)]) for i, name in enumerate(names)
        ]

    widths = widths_of(rows)
    if width is not None and sum(widths) + len(widths) > width:  # the parent's tail is enough
        rows = [
            (*row[:6], f"…{s.parent.session[-8:]}@{s.parent.seq}" if s.parent else "")
            for s, row in zip(sessions, rows, strict=True)
        ]
        widths = widths_of(rows)
    table = Table(box=None, header_style="bold", pad_edge=False)
    for name, wide in zip(names, widths, strict=True):
        justify: Literal["left", "right"] = "right" if name in ("STEPS", "COST") else "left"
        table.add_column(name, no_wrap=True, min_width=wide, justify=justify)
    fixed = sum(widths) + len(widths)  # a space between columns
    with_task = width is None or width - fixed >= TASK_MIN
    if with_task:
        table.add_column("TASK", no_wrap=True, overflow="ellipsis", ratio=1)
    for s, row in zip(sessions, rows, strict=True):
        task = Text(clean_line(s.task.splitlines()[0])) if s.task.strip() else ""  # no markup
        table.add_row(*row, task) if with_task else table.add_row(*row)
    return table


def sessions_view(sessions: list[SessionSummary], now: datetime, width: int) -> RenderableType:
    """`sessions_table` as lines of text when it fits `width` whole (the same characters).

    A rich Table measures every cell, which takes seconds for thousands of
    sessions; when no column has to give way, the layout is simply each
    column at its widest, two spaces apart (`agentctl.lines.ls_lines`), and
    this writes it directly. A table that must be squeezed goes to rich,
    which knows how.
    """
    lines = ls_lines(sessions, now, width)
    if lines is None:
        return sessions_table(sessions, now, width=width)
    return Text("\n").join(_text(line) for line in lines)


def approvals_view(approvals: list[ApprovalView], now: datetime) -> Group:
    """`agentctl approvals`: a block per approval, since the call and its context need the room."""
    return Group(*(Group(*map(_text, block)) for block in approval_blocks(approvals, now)))


def _text(line: Line) -> Text:
    base, segments = line
    text = Text(style=base)
    for part, style in segments:
        text.append(part, style=style)
    return text


def session_panel(s: SessionSummary, approvals: list[ApprovalView] | None = None) -> Panel:
    """`agentctl show`: the summary of one session, and what to do next."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    grid.add_row(
        "status",
        Text(f"{s.status.value}  {clean(s.reason)}", style=STATUS_STYLE.get(s.status.value, "")),
    )
    grid.add_row("task", Text(clean(s.task)))
    grid.add_row("model", Text(clean_line(s.model)))
    grid.add_row("steps", str(s.steps))
    grid.add_row("tokens", f"{s.input_tokens} in, {s.output_tokens} out")
    grid.add_row("cost", cost_text(s))
    grid.add_row("events", str(s.last_seq))
    if s.parent:
        grid.add_row("parent", f"{s.parent.session} at seq {s.parent.seq}")
    if s.delegated_by:
        call = clean_line(s.delegated_by.call_id)
        grid.add_row("delegated by", f"{s.delegated_by.session} (call {call})")
    if s.children:
        spent = f"{s.children_steps} steps, ${s.children_cost_usd:.4f}"
        grid.add_row("children", f"{s.children}: {spent}")
    if s.container:
        grid.add_row("container", s.container)
    if s.labels:
        grid.add_row("labels", Text(", ".join(clean_line(f"{k}={v}") for k, v in s.labels.items())))
    grid.add_row("created", s.created_at.isoformat())
    grid.add_row("updated", s.updated_at.isoformat())
    for a in approvals or []:
        grid.add_row(
            "approval", Text(f"{a.id}  {clean_line(a.tool)} {exact(a.args)}", style="yellow")
        )
    hint = _next_step(s, approvals or [])
    if hint:
        grid.add_row("next", Text(hint, style="dim"))
    return Panel(grid, title=s.id, title_align="left", expand=False)


def _next_step(s: SessionSummary, approvals: list[ApprovalView]) -> str:
    status = s.status.value
    if status == "waiting" and approvals:
        return (
            f"agentctl approve {approvals[0].id}   (or: agentctl deny {approvals[0].id} --reason …)"
        )
    if status == "paused":
        return f"agentctl resume {s.id} --max-steps N   (raise the budget, or add a message)"
    if status in ("running", "waiting"):
        return f"agentctl attach {s.id}"
    return f"agentctl log {s.id}"
