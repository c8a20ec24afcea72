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
from collections.abc import Callable
from typing import Any

from rich.console import Group, RenderableType
from rich.syntax import Syntax
from rich.text import Text

from agentctl.lines import STATUS_STYLE, TASK_MIN, age, cost_text
from agentctl.protocol import (
    ApprovalDecided,
    ApprovalRequested,
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
    ToolFinished,
    ToolInterrupted,
    ToolProposed,
    ToolStarted,
    UserMessage,
)
from agentctl.terminal import clean_data, clean_line, exact
from agentctl.views import (
    approvals_view,
    session_panel,
    sessions_table,
    sessions_view,
)

__all__ = [
    "FOLD_LINES",
    "STATUS_STYLE",
    "TASK_MIN",
    "age",
    "approvals_view",
    "cost_text",
    "fold_output",
    "render_event",
    "session_panel",
    "sessions_table",
    "sessions_view",
    "short_args",
]

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
