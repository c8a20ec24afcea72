"""What `ls` and `approvals` print, as lines of (text, style) segments: no rich here.

`agentctl.views` makes rich `Text` of these lines; the quick path
(agentctl/cli/quick.py) writes them as they are when the output has no
styles (piped, NO_COLOR), without importing rich at all. One description of
the layout, two ways to print it (tests/cli/test_quick.py checks both give
the same characters). Every string a session or an approval carries may
come from the model, a tool or a file: it goes through `agentctl.terminal`.
"""

from __future__ import annotations

from datetime import datetime

from agentctl.terminal import clean, clean_line, exact

TYPE_CHECKING = False  # as typing's, without importing typing
if TYPE_CHECKING:
    from agentctl.protocol import ApprovalView, SessionSummary

# A line: the style of the whole line, and its parts with their own styles ("" for none).
Line = tuple[str, list[tuple[str, str]]]

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


def cost_text(s: SessionSummary) -> str:
    """A session's cost; "unknown" (or a known part and "+") when a model had no price."""
    if s.cost_known:
        return f"${s.cost_usd:.4f}"
    return f"${s.cost_usd:.4f}+?" if s.cost_usd else "unknown"


TASK_MIN = 12  # fewer columns than this for the task, and it is left out

_LS_HEAD = ("SESSION", "STATUS", "AGE", "STEPS", "COST", "APPROVALS", "PARENT")
_LS_RIGHT = (3, 4)  # STEPS and COST are right-justified


def ls_lines(sessions: list[SessionSummary], now: datetime, width: int) -> list[Line] | None:
    """`agentctl ls` as lines when every column fits `width` whole (each at its widest, two
    spaces apart); None when one must give way (rich's table does that)."""
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
        return None

    # Once per row of 10,000: each column's justification chosen before the loop.
    just = [str.rjust if i in _LS_RIGHT else str.ljust for i in range(len(_LS_HEAD))]
    columns = list(zip(just, widths, strict=True))
    gap = ("  ", "")
    head: list[tuple[str, str]] = []
    for name, (fit, width_) in zip(_LS_HEAD, columns, strict=True):
        head += [(fit(name, width_), "bold"), gap]
    head.append(("TASK".ljust(task), "bold"))
    lines: list[Line] = [("", head)]
    for row in rows:
        parts: list[tuple[str, str]] = []
        for i, (fit, width_) in enumerate(columns):
            parts.append((fit(row[i], width_), STATUS_STYLE.get(row[1], "") if i == 1 else ""))
            parts.append(gap)
        parts.append((row[7].ljust(task), ""))
        lines.append(("", parts))
    return lines


def approval_blocks(approvals: list[ApprovalView], now: datetime) -> list[list[Line]]:
    """`agentctl approvals`: a block of lines per approval, the last one empty."""
    blocks: list[list[Line]] = []
    for a in approvals:
        head = [
            (a.id, ""),
            (f"  {a.session}", "cyan"),
            (f" (child of {a.delegated_by})" if a.delegated_by else "", "cyan"),
            (f"  tier {a.tier}", "yellow"),
            (f"  waiting {age(a.requested_at, now)}", "dim"),
        ]
        if a.expires_at:
            left = age(now, a.expires_at) if a.expires_at > now else "now"
            head.append((f"  expires in {left} ({a.on_expiry})", "dim"))
        # what is approved is shown whole, nothing hidden
        call = [("  ", ""), (clean_line(a.tool), "bold"), (f" {exact(a.args)}", "")]
        lines: list[Line] = [("bold", head), ("", call)]
        if a.context.last_message.strip():
            first = a.context.last_message.strip().splitlines()[0]
            lines.append(("dim", [(f"  agent: {clean_line(first)}", "")]))
        if a.context.reason and a.context.reason != "policy":
            lines.append(("magenta", [(f"  {clean(a.context.reason)}", "")]))
        if a.context.question is not None:  # an MCP server asks (elicitation)
            lines.append(("bold", [(f"  the server asks: {clean(a.context.question)}", "")]))
            if a.context.url:
                lines.append(("", [(f"  open: {clean_line(a.context.url)}", "")]))
            if a.context.answer_schema:
                lines.append(("dim", [(f"  answer as: {exact(a.context.answer_schema)}", "")]))
        rule = a.rule or a.context.rule
        if rule:
            lines.append(("dim", [(f"  rule: {clean_line(rule)}", "")]))
        lines.append(("", []))
        blocks.append(lines)
    return blocks


def plain(lines: list[Line]) -> str:
    """The lines as the characters a console without styles prints, the last newline included."""
    return "".join("".join(part for part, _ in segments) + "\n" for _, segments in lines)
