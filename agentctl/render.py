"""How events look to a person: one Rich renderable per event.

The CLI's timeline and the TUI's timeline both render through `render_event`,
so a session reads the same in both. Checkpoints show their seq, because that
is what `agentctl fork --at SEQ` takes. Every string an event carries may come
from the model, a tool or a file, so all of it goes through
`agentctl.terminal` before it reaches a renderable; the arguments of a call
waiting for approval are shown whole and exact (`terminal.exact`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Literal

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from agentctl.protocol import (
    ApprovalDecided,
    ApprovalRequested,
    ApprovalView,
    BudgetExceeded,
    CheckpointCreated,
    ContextCompacted,
    Envelope,
    ModelFailed,
    ModelRequested,
    ModelResponded,
    SandboxCreated,
    SandboxRestored,
    SessionCreated,
    SessionStatusChanged,
    SessionSummary,
    ToolFinished,
    ToolInterrupted,
    ToolProposed,
    ToolStarted,
    UserMessage,
)
from agentctl.terminal import clean, clean_data, clean_line, exact

STATUS_STYLE = {
    "running": "bold blue",
    "waiting": "bold yellow",
    "paused": "bold magenta",
    "completed": "bold green",
    "failed": "bold red",
    "cancelled": "dim",
}

FOLD_LINES = 12


def fold_output(output: str, lines: int = FOLD_LINES) -> str:
    """The last `lines` lines of a tool's output, saying how many were folded away."""
    parts = output.rstrip("\n").splitlines()
    if len(parts) <= lines:
        return "\n".join(parts)
    return f"… {len(parts) - lines} more lines\n" + "\n".join(parts[-lines:])


def short_args(args: Any, limit: int = 120) -> str:
    if isinstance(args, dict):
        if "command" in args:
            text = str(args["command"])
        elif "path" in args and len(args) <= 2:
            text = str(args["path"])
        else:
            text = json.dumps(args, ensure_ascii=False)
    else:
        text = str(args)
    text = text.replace("\n", "⏎ ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _head(event: Envelope, label: str, style: str) -> Text:
    ts = event.ts.strftime("%H:%M:%S")
    head = Text(f"{event.seq:>4} ", style="dim")
    head.append(f"{ts} ", style="dim")
    head.append(label, style=style)
    return head


def render_event(event: Envelope, *, fold: bool = True) -> RenderableType | None:
    """A renderable for one event, or None for events a person need not see.

    Each type has its handler (`_RENDERERS`, keyed by the models' `TYPE`); a
    type without one shows as its name. The handlers read the cleaned data
    leniently (`.get` with defaults): a timeline draws whatever a log holds.
    """
    d = clean_data(event.data)  # untrusted text: no control sequence reaches the terminal
    renderer = _RENDERERS.get(event.type)
    if renderer is None:
        return _head(event, clean_line(event.type), "dim")
    return renderer(event, d, fold)


def _session_created(event: Envelope, d: dict[str, Any], fold: bool) -> RenderableType:
    head = _head(event, "session ", "bold")
    head.append(f"{event.session} ", style="cyan")
    head.append(f"model {d.get('model')}", style="dim")
    parent = d.get("parent")
    if parent:
        head.append(f"  forked from {parent['session']}@{parent['seq']}", style="magenta")
    return Group(head, Text("       task: ", style="dim") + Text(d.get("task", "")))


def _session_status(event: Envelope, d: dict[str, Any], fold: bool) -> RenderableType:
    status = d.get("status", "")
    head = _head(event, f"● {status}", STATUS_STYLE.get(status, "bold"))
    if d.get("reason"):
        head.append(f"  {d['reason']}", style="dim")
    return head


def _message_user(event: Envelope, d: dict[str, Any], fold: bool) -> RenderableType:
    return _head(event, "user ", "bold cyan") + Text(d.get("text", ""))


def _model_requested(event: Envelope, d: dict[str, Any], fold: bool) -> RenderableType | None:
    if d.get("attempt", 1) > 1:
        return _head(event, f"model retry (attempt {d['attempt']})", "yellow")
    return None


def _model_failed(event: Envelope, d: dict[str, Any], fold: bool) -> RenderableType:
    head = _head(event, "model failed ", "red")
    head.append(d.get("error", ""))
    if d.get("retry_in_ms") is not None:
        head.append(f"  retry in {d['retry_in_ms'] / 1000:.1f}s", style="dim")
    return head


def _model_responded(event: Envelope, d: dict[str, Any], fold: bool) -> RenderableType:
    head = _head(event, "assistant ", "bold green")
    head.append(d.get("text", "") or "(no text)")
    usage = d.get("usage") or {}
    head.append(
        f"  [{usage.get('input_tokens', 0)}→{usage.get('output_tokens', 0)} tok, "
        f"{d.get('latency_ms', 0):.0f} ms]",
        style="dim",
    )
    return head


def _tool_proposed(event: Envelope, d: dict[str, Any], fold: bool) -> RenderableType | None:
    if d.get("tier") == "allow":
        return None
    head = _head(event, f"proposed {d.get('name')} ", "yellow")
    head.append(short_args(d.get("args")))
    head.append(f"  tier {d.get('tier')}: {d.get('rule')}", style="dim")
    return head


def _approval_requested(event: Envelope, d: dict[str, Any], fold: bool) -> RenderableType:
    head = _head(event, "approval needed ", "bold yellow")
    head.append(f"{d.get('name')} {exact(event.data.get('args'))}")
    head.append(f"  id {d.get('approval_id')}", style="dim")
    if d.get("expires_at"):
        head.append(f"  expires {d['expires_at']}", style="dim")
    parts: list[RenderableType] = [head]
    diff = (d.get("context") or {}).get("diff")
    if diff:
        parts.append(Syntax(diff, "diff", theme="ansi_dark", background_color="default"))
    return Group(*parts)


def _approval_decided(event: Envelope, d: dict[str, Any], fold: bool) -> RenderableType:
    decision = d.get("decision", "")
    style = {"approved": "green", "denied": "red"}.get(decision, "magenta")
    edited = d.get("args") is not None
    head = _head(event, f"{decision}{' (edited)' if edited else ''} ", f"bold {style}")
    head.append(f"by {d.get('approver')}" + (f" (as {d['claimed']})" if d.get("claimed") else ""))
    if d.get("reason"):
        head.append(f": {d['reason']}", style="dim")
    if edited:  # what runs is not what the model asked: say so, and show it exactly
        head.append("  runs with edited arguments ", style="yellow")
        head.append(exact(event.data.get("args")))
    return head


def _tool_started(event: Envelope, d: dict[str, Any], fold: bool) -> RenderableType:
    head = _head(event, f"$ {d.get('name')} ", "bold")
    head.append(short_args(d.get("args"), 200))
    return head


def _tool_finished(event: Envelope, d: dict[str, Any], fold: bool) -> RenderableType:
    if d.get("error"):
        return _head(event, "✗ refused ", "red") + Text(d["error"])
    code = d.get("exit_code")
    style = "green" if code == 0 else "red"
    head = _head(event, f"{'✓' if code == 0 else '✗'} exit {code} ", style)
    head.append(f"{d.get('duration_ms', 0):.0f} ms", style="dim")
    if d.get("truncated"):
        head.append(f"  truncated; whole output: {d.get('artifact')}", style="yellow")
    if d.get("timed_out"):
        head.append("  timed out", style="red")
    output = d.get("output", "")
    if not output.strip():
        return head
    body = fold_output(output) if fold else output.rstrip("\n")
    return Group(head, Text(_indent(body), style="dim"))


def _tool_interrupted(event: Envelope, d: dict[str, Any], fold: bool) -> RenderableType:
    return _head(event, "daemon restarted ", "bold magenta") + Text(
        f"call {d.get('call_id')} was running when it stopped; it goes back through "
        "approval, then runs again"
    )


def _checkpoint_created(event: Envelope, d: dict[str, Any], fold: bool) -> RenderableType:
    return _head(event, "◆ checkpoint ", "bold magenta") + Text(
        f"fork here: agentctl fork {event.session} --at {event.seq}", style="dim"
    )


def _sandbox(verb: str) -> _Renderer:
    def render(event: Envelope, d: dict[str, Any], fold: bool) -> RenderableType:
        return _head(event, f"{verb} ", "dim") + Text(
            f"{d.get('container')} ({d.get('image')})", style="dim"
        )

    return render


def _budget_exceeded(event: Envelope, d: dict[str, Any], fold: bool) -> RenderableType:
    return _head(event, "budget exceeded ", "bold magenta") + Text(
        f"{d.get('limit')} = {d.get('value')}"
    )


def _context_compacted(event: Envelope, d: dict[str, Any], fold: bool) -> RenderableType:
    head = _head(event, "context compacted ", "bold blue")
    head.append(
        f"{d.get('turns_replaced')} turns (seq {d.get('replaced_from_seq')}-"
        f"{d.get('replaced_to_seq')}) summarised: ~{d.get('tokens_before')} -> "
        f"~{d.get('tokens_after')} tokens of {d.get('window')}",
        style="dim",
    )
    summary = str(d.get("summary", ""))
    return Group(head, Text(_indent(fold_output(summary) if fold else summary)))


_Renderer = Callable[[Envelope, dict[str, Any], bool], RenderableType | None]
_RENDERERS: dict[str, _Renderer] = {
    SessionCreated.TYPE: _session_created,
    SessionStatusChanged.TYPE: _session_status,
    UserMessage.TYPE: _message_user,
    ModelRequested.TYPE: _model_requested,
    ModelFailed.TYPE: _model_failed,
    ModelResponded.TYPE: _model_responded,
    ToolProposed.TYPE: _tool_proposed,
    ApprovalRequested.TYPE: _approval_requested,
    ApprovalDecided.TYPE: _approval_decided,
    ToolStarted.TYPE: _tool_started,
    ToolFinished.TYPE: _tool_finished,
    ToolInterrupted.TYPE: _tool_interrupted,
    CheckpointCreated.TYPE: _checkpoint_created,
    SandboxCreated.TYPE: _sandbox("sandbox"),
    SandboxRestored.TYPE: _sandbox("sandbox restored"),
    BudgetExceeded.TYPE: _budget_exceeded,
    ContextCompacted.TYPE: _context_compacted,
}


def _indent(text: str) -> str:
    # Plain text for a `Text`, which never reads markup: escaping it here would show
    # the escape (`list\\[float]`).
    return "\n".join("       │ " + line for line in text.splitlines())


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
        if a.delegated_by:
            head.append(f" (child of {a.delegated_by})", style="cyan")
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
    if s.delegated_by:
        grid.add_row(
            "delegated by", f"{s.delegated_by.session} (call {clean_line(s.delegated_by.call_id)})"
        )
    if s.children:
        grid.add_row(
            "children", f"{s.children}: {s.children_steps} steps, ${s.children_cost_usd:.4f}"
        )
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
