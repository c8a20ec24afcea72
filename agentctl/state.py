"""From events to session state: one pure function, `fold_events`.

The log is the only truth; everything the runtime, the daemon's projections
and the clients know about a session is this fold of its events. It is pure
(no I/O, no clock), so resuming after a crash, rebuilding a projection and
folding a live stream one event at a time all give the same state — the
property tests check that folding a prefix and then the rest equals folding
everything, however the events were batched.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from agentctl.protocol import SessionStatus


class EventLike(Protocol):
    @property
    def seq(self) -> int: ...
    @property
    def ts(self) -> datetime: ...
    @property
    def type(self) -> str: ...
    @property
    def data(self) -> dict[str, Any]: ...


class CallPhase(StrEnum):
    NEW = "new"  # the model asked for it; not yet through the policy
    PROPOSED = "proposed"  # tier decided; allow → start, ask → approval next
    AWAITING = "awaiting"  # an approval is pending
    APPROVED = "approved"  # a person said yes; start next
    STARTED = "started"  # tool.started committed, tool.finished not yet
    INTERRUPTED = "interrupted"  # found in flight after a crash; back through approval
    FINISHED = "finished"


@dataclass
class ToolCallState:
    call_id: str
    name: str
    args: dict[str, Any] | str
    phase: CallPhase = CallPhase.NEW
    tier: str | None = None
    rule: str = ""
    approval_id: str | None = None
    run_args: dict[str, Any] | None = (
        None  # the arguments to execute (maybe edited by the approver)
    )
    idempotent: bool = False
    started_count: int = 0
    exit_code: int | None = None
    error: str | None = None
    executed: bool = False  # a tool.started preceded the finish: the tool really ran
    refusal: str | None = None  # refused as recorded (model.responded): never proposed


@dataclass
class ApprovalState:
    approval_id: str
    call_id: str
    name: str
    args: dict[str, Any]
    tier: str
    context: dict[str, Any]
    requested_seq: int
    requested_at: datetime
    expires_at: datetime | None
    on_expiry: str
    decision: str | None = None
    approver: str | None = None
    claimed: str | None = None  # the name the decider gave, when not the verified user
    reason: str = ""
    decided_args: dict[str, Any] | None = None
    decided_at: datetime | None = None
    approvers: list[str] = field(default_factory=list)  # who may decide now (empty: anyone)
    escalation: list[dict[str, Any]] = field(default_factory=list)  # the chain, in order
    escalation_step: int = 0  # how many escalations have happened
    kind: str = "call"  # or "elicitation": an MCP server's question, not the call's go-ahead

    @property
    def pending(self) -> bool:
        return self.decision is None

    @property
    def decided_by(self) -> str:
        """Who decided, as a person reads it: `root (as alice)` when a name was claimed."""
        who = self.approver or "?"
        return f"{who} (as {self.claimed})" if self.claimed else who


@dataclass
class Turn:
    """One message of the conversation as the model sees it."""

    role: str  # system | user | assistant | tool
    content: str
    tool_calls: tuple[tuple[str, str, dict[str, Any] | str], ...] = ()
    tool_call_id: str | None = None
    name: str | None = None


@dataclass
class TimerState:
    timer_id: str
    due_at: datetime
    purpose: str  # start | wait
    call_id: str | None = None


@dataclass
class CheckpointRef:
    seq: int
    image: str


@dataclass
class SessionState:
    session_id: str = ""
    created: dict[str, Any] = field(default_factory=dict)
    status: SessionStatus | None = None
    reason: str = ""
    last_seq: int = 0
    created_at: datetime | None = None
    updated_at: datetime | None = None
    transcript: list[Turn] = field(default_factory=list)
    steps: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    cost_unknown: bool = False  # a response had no known cost: cost_usd is a lower bound
    model_attempts: int = 0  # attempts of the model request in progress
    awaiting_model: bool = False  # model.requested without a response
    calls: dict[str, ToolCallState] = field(default_factory=dict)  # the current step's calls
    step_mutated: bool = False  # a non-idempotent tool ran in this step, no checkpoint yet
    checkpoints: list[CheckpointRef] = field(default_factory=list)
    approvals: dict[str, ApprovalState] = field(default_factory=dict)
    container: str | None = None
    image: str | None = None
    budget: dict[str, Any] = field(default_factory=dict)
    running_s: float = 0.0  # wall time spent in `running`, for the wall-time budget
    running_since: datetime | None = None
    last_assistant_text: str = ""
    model_retries: int = 0
    fault: str | None = None  # what paused the session, when it was a fault the daemon retries
    auto_resumes: int = 0  # retries of fault pauses since the session last ran on its own
    # (a decision or resume, a model response, a checkpoint)
    timers: dict[str, TimerState] = field(default_factory=dict)  # set, not yet fired
    timer_hold: str | None = None  # the timer a `waiting` session waits for
    mcp_listed: dict[str, dict[str, Any]] = field(default_factory=dict)  # server -> mcp.listed

    @property
    def mcp_unlisted(self) -> list[str]:
        """The session's MCP servers whose tools are not yet recorded."""
        return [s for s in self.created.get("mcp", []) if s not in self.mcp_listed]

    # -- derived views ------------------------------------------------------

    @property
    def pending_approvals(self) -> list[ApprovalState]:
        return [a for a in self.approvals.values() if a.pending]

    @property
    def latest_checkpoint(self) -> CheckpointRef | None:
        return self.checkpoints[-1] if self.checkpoints else None

    def clone(self) -> SessionState:
        return copy.deepcopy(self)


def fold_events(events: Iterable[EventLike], state: SessionState | None = None) -> SessionState:
    """Fold `events` (in seq order) onto a copy of `state` (or a new state)."""
    current = state.clone() if state is not None else SessionState()
    for event in events:
        apply_event(current, event)
    return current


def apply_event(state: SessionState, event: EventLike) -> None:
    """Apply one event in place. Only `fold_events` and projections call this."""
    if event.seq != state.last_seq + 1:
        raise ValueError(f"event seq {event.seq} does not follow {state.last_seq}")
    state.last_seq = event.seq
    state.updated_at = event.ts
    handler = _HANDLERS.get(event.type)
    if handler is not None:
        handler(state, event)


def _session_created(state: SessionState, event: EventLike) -> None:
    d = event.data
    state.session_id = str(getattr(event, "stream", None) or getattr(event, "session", ""))
    state.created = dict(d)
    state.created_at = event.ts
    state.budget = dict(d.get("budget") or {})
    system = d.get("system") or ""
    if system:
        state.transcript.append(Turn("system", system))
    state.transcript.append(Turn("user", d["task"]))


def _session_status(state: SessionState, event: EventLike) -> None:
    d = event.data
    new = SessionStatus(d["status"])
    if state.running_since is not None:
        state.running_s += (event.ts - state.running_since).total_seconds()
        state.running_since = None
    if new is SessionStatus.RUNNING:
        state.running_since = event.ts
    state.status = new
    state.reason = d.get("reason", "")
    state.fault = d.get("fault")
    if new is SessionStatus.RUNNING:
        state.auto_resumes = d.get("auto_resume") or 0
    state.timer_hold = d.get("timer")
    if d.get("budget"):
        state.budget = dict(d["budget"])


def _message_user(state: SessionState, event: EventLike) -> None:
    state.transcript.append(Turn("user", event.data["text"]))


def _model_requested(state: SessionState, event: EventLike) -> None:
    state.awaiting_model = True
    state.model_attempts = event.data["attempt"]


def _model_failed(state: SessionState, event: EventLike) -> None:
    state.model_retries += 1
    if not event.data.get("retryable") or event.data.get("retry_in_ms") is None:
        state.awaiting_model = False


def _model_responded(state: SessionState, event: EventLike) -> None:
    d = event.data
    state.auto_resumes = 0  # a step went on: the session ran on its own since any retry
    state.awaiting_model = False
    state.model_attempts = 0
    state.steps += 1
    usage = d.get("usage") or {}
    # never below zero, whatever an old log holds: a negative count would undo a budget
    state.input_tokens += max(int(usage.get("input_tokens", 0)), 0)
    state.output_tokens += max(int(usage.get("output_tokens", 0)), 0)
    cost = d.get("cost_usd", 0.0)
    if cost is None:
        state.cost_unknown = True
    else:
        state.cost_usd += float(cost)
    calls = d.get("tool_calls") or []
    refused = d.get("refused") or {}
    state.transcript.append(
        Turn(
            "assistant",
            d.get("text", ""),
            tool_calls=tuple((c["id"], c["name"], c["args"]) for c in calls),
        )
    )
    if d.get("text"):
        state.last_assistant_text = d["text"]
    state.calls = {
        c["id"]: ToolCallState(
            call_id=c["id"], name=c["name"], args=c["args"], refusal=refused.get(c["id"])
        )
        for c in calls
    }
    state.step_mutated = False


def _call(state: SessionState, event: EventLike) -> ToolCallState | None:
    return state.calls.get(event.data["call_id"])


def _tool_proposed(state: SessionState, event: EventLike) -> None:
    call = _call(state, event)
    if call is None:
        return
    call.phase = CallPhase.PROPOSED
    call.tier = event.data["tier"]
    call.rule = event.data.get("rule", "")
    if isinstance(event.data.get("args"), dict):
        call.run_args = dict(event.data["args"])


def _approval_requested(state: SessionState, event: EventLike) -> None:
    d = event.data
    expires = d.get("expires_at")
    state.approvals[d["approval_id"]] = ApprovalState(
        approval_id=d["approval_id"],
        call_id=d["call_id"],
        name=d["name"],
        args=dict(d["args"]),
        tier=d["tier"],
        context=dict(d.get("context") or {}),
        requested_seq=event.seq,
        requested_at=event.ts,
        expires_at=datetime.fromisoformat(expires) if isinstance(expires, str) else expires,
        on_expiry=d.get("on_expiry", "deny"),
        approvers=list(d.get("approvers") or []),
        escalation=list(d.get("escalation") or []),
        kind=d.get("kind") or "call",
    )
    call = _call(state, event)
    if call is not None and d.get("kind", "call") == "call":
        call.phase = CallPhase.AWAITING
        call.approval_id = d["approval_id"]


def _approval_decided(state: SessionState, event: EventLike) -> None:
    d = event.data
    approval = state.approvals.get(d["approval_id"])
    if approval is None or not approval.pending:
        return
    approval.decision = d["decision"]
    approval.approver = d.get("approver")
    approval.claimed = d.get("claimed")
    approval.reason = d.get("reason", "")
    approval.decided_args = d.get("args")
    approval.decided_at = event.ts
    call = state.calls.get(approval.call_id)
    if call is None or approval.kind != "call":  # an answer to a server: the call runs on
        return
    if approval.decision == "approved":
        call.phase = CallPhase.APPROVED
        call.run_args = dict(d.get("args") or approval.args)
    # denied / expired: the runtime records the refusal as a tool.finished next


def _approval_escalated(state: SessionState, event: EventLike) -> None:
    d = event.data
    approval = state.approvals.get(d["approval_id"])
    if approval is None or not approval.pending:
        return
    approval.escalation_step = d["step"]
    approval.approvers = list(d["approvers"])
    expires = d["expires_at"]
    approval.expires_at = datetime.fromisoformat(expires) if isinstance(expires, str) else expires


def _timer_set(state: SessionState, event: EventLike) -> None:
    d = event.data
    due = d["due_at"]
    state.timers[d["timer_id"]] = TimerState(
        timer_id=d["timer_id"],
        due_at=datetime.fromisoformat(due) if isinstance(due, str) else due,
        purpose=d["purpose"],
        call_id=d.get("call_id"),
    )


def _timer_fired(state: SessionState, event: EventLike) -> None:
    state.timers.pop(event.data["timer_id"], None)


def _tool_started(state: SessionState, event: EventLike) -> None:
    call = _call(state, event)
    if call is None:
        return
    call.phase = CallPhase.STARTED
    call.run_args = dict(event.data["args"])
    call.idempotent = bool(event.data.get("idempotent", False))
    call.started_count += 1


def _tool_interrupted(state: SessionState, event: EventLike) -> None:
    call = _call(state, event)
    if call is not None:
        call.phase = CallPhase.INTERRUPTED


def _tool_finished(state: SessionState, event: EventLike) -> None:
    d = event.data
    call = _call(state, event)
    name = call.name if call else ""
    if call is not None:
        call.executed = call.phase is CallPhase.STARTED
        call.phase = CallPhase.FINISHED
        call.exit_code = d.get("exit_code")
        call.error = d.get("error")
        if call.executed and not call.idempotent:
            state.step_mutated = True
    state.transcript.append(Turn("tool", tool_result_text(d), tool_call_id=d["call_id"], name=name))


def tool_result_text(data: dict[str, Any]) -> str:
    """What the model is told about a finished call."""
    if data.get("error"):
        return f"error: {data['error']}"
    parts = [data.get("output", "")]
    if data.get("truncated") and data.get("artifact"):
        parts.append(f"\n[output truncated; the whole output is kept as {data.get('artifact')}]")
    elif data.get("truncated"):
        parts.append("\n[output truncated]")
    if data.get("timed_out"):
        parts.append("\n[killed: the command timed out]")
    parts.append(f"\n[exit code {data.get('exit_code')}]")
    return "".join(parts)


def _checkpoint_created(state: SessionState, event: EventLike) -> None:
    state.checkpoints.append(CheckpointRef(seq=event.seq, image=event.data["image"]))
    state.step_mutated = False
    state.auto_resumes = 0  # a step was done: the session ran on its own since any retry


def _sandbox(state: SessionState, event: EventLike) -> None:
    state.container = event.data["container"]
    state.image = event.data["image"]


def _mcp_listed(state: SessionState, event: EventLike) -> None:
    state.mcp_listed[event.data["server"]] = dict(event.data)


_HANDLERS = {
    "mcp.listed": _mcp_listed,
    "session.created": _session_created,
    "session.status": _session_status,
    "message.user": _message_user,
    "model.requested": _model_requested,
    "model.failed": _model_failed,
    "model.responded": _model_responded,
    "tool.proposed": _tool_proposed,
    "approval.requested": _approval_requested,
    "approval.decided": _approval_decided,
    "approval.escalated": _approval_escalated,
    "timer.set": _timer_set,
    "timer.fired": _timer_fired,
    "tool.started": _tool_started,
    "tool.interrupted": _tool_interrupted,
    "tool.finished": _tool_finished,
    "checkpoint.created": _checkpoint_created,
    "sandbox.created": _sandbox,
    "sandbox.restored": _sandbox,
}
