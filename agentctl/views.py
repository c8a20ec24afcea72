"""How sessions and approvals look to a person: `ls`, `show`, `approvals`.

Split from `agentctl.render` so that those commands' quick path
(`agentctl/cli/quick.py`) renders with rich alone: the protocol's models are
named for type checkers only, and anything with their attributes will do
(the quick path passes plain objects made from the daemon's JSON). Every
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

from agentctl.terminal import clean, clean_line, exact

if TYPE_CHECKING:
    from agentctl.protocol import ApprovalView, SessionSummary

STATUS_STYLE = {
    "running": "bold blue",
    "waiting": "bold yellow",
    "paused": "bold magenta",
    "completed": "bold green",
    "failed": "bold red",
    "cancelled": "dim",
}


def age(ts: datetime, now: datetime) -> str:
    seconds = max(0, int((now - ts).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _id_column(table: Table, name: str, ids: list[str]) -> None:
    """A column that is never cut: ids are what people copy into the next command."""
    table.add_column(name, no_wrap=True, min_width=max([len(name), *map(len, ids)]))


def cost_text(s: SessionSummary) -> str:
    """A session's cost; "unknown" (or a known part and "+") when a model had no price."""
    if s.cost_known:
        return f"${s.cost_usd:.4f}"
    return f"${s.cost_usd:.4f}+?" if s.cost_usd else "unknown"


TASK_MIN = 12  # fewer columns than this for the task, and it is left out


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


_LS_HEAD = ("SESSION", "STATUS", "AGE", "STEPS", "COST", "APPROVALS", "PARENT")
_LS_RIGHT = (3, 4)  # STEPS and COST are right-justified


def sessions_view(sessions: list[SessionSummary], now: datetime, width: int) -> RenderableType:
    """`sessions_table` as lines of text when it fits `width` whole (the same characters).

    A rich Table measures every cell, which takes seconds for thousands of
    sessions; when no column has to give way, the layout is simply each
    column at its widest, two spaces apart, and this writes it directly. A
    table that must be squeezed goes to rich, which knows how.
    """
    rows = [
        (
            s.id,
            s.status.value,
            age(s.created_at, now),
            str(s.steps),
            cost_text(s),
            str(s.pending_approvals) if s.pending_approvals else "",
            f"{s.parent.session}@{s.parent.seq}" if s.parent else "",
            clean_line(s.task.splitlines()[0]) if s.task.strip() else "",
        )
        for s in sessions
    ]
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(_LS_HEAD)]
    task = max([len("TASK"), *(len(r[7]) for r in rows)])
    if sum(widths) + 2 * len(widths) + task > width:
        return sessions_table(sessions, now, width=width)

    def cell(i: int, text: str) -> str:
        return text.rjust(widths[i]) if i in _LS_RIGHT else text.ljust(widths[i])

    head = Text()
    for i, name in enumerate(_LS_HEAD):
        head.append(cell(i, name), style="bold")
        head.append("  ")
    head.append("TASK".ljust(task), style="bold")
    lines = [head]
    for row in rows:
        line = Text()
        for i in range(len(_LS_HEAD)):
            line.append(cell(i, row[i]), style=STATUS_STYLE.get(row[1], "") if i == 1 else "")
            line.append("  ")
        line.append(row[7].ljust(task))  # Text: no markup
        lines.append(line)
    return Text("\n").join(lines)


def approvals_view(approvals: list[ApprovalView], now: datetime) -> Group:
    """`agentctl approvals`: a block per approval, since the call and its context need the room."""
    blocks: list[RenderableType] = []
    for a in approvals:
        head = Text(a.id, style="bold")
        head.append(f"  {a.session}", style="cyan")
        head.append(f"  tier {a.tier}", style="yellow")
        head.append(f"  waiting {age(a.requested_at, now)}", style="dim")
        if a.expires_at:
            left = age(now, a.expires_at) if a.expires_at > now else "now"
            head.append(f"  expires in {left} ({a.on_expiry})", style="dim")
        call = Text("  ")
        call.append(clean_line(a.tool), style="bold")
        call.append(f" {exact(a.args)}")  # what is approved is shown whole, nothing hidden
        parts: list[RenderableType] = [head, call]
        if a.context.last_message.strip():
            first = a.context.last_message.strip().splitlines()[0]
            parts.append(Text(f"  agent: {clean_line(first)}", style="dim"))
        if a.context.reason and a.context.reason != "policy":
            parts.append(Text(f"  {clean(a.context.reason)}", style="magenta"))
        if a.context.question is not None:  # an MCP server asks (elicitation)
            parts.append(Text(f"  the server asks: {clean(a.context.question)}", style="bold"))
            if a.context.url:
                parts.append(Text(f"  open: {clean_line(a.context.url)}"))
            if a.context.answer_schema:
                parts.append(Text(f"  answer as: {exact(a.context.answer_schema)}", style="dim"))
        rule = a.rule or a.context.rule
        if rule:
            parts.append(Text(f"  rule: {clean_line(rule)}", style="dim"))
        blocks.append(Group(*parts, Text("")))
    return Group(*blocks)


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
