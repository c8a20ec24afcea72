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
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol, TypeVar

from pydantic import ValidationError

from agentctl.handoff import Delegation
from agentctl.observe.projection.fold import StatsFold
from agentctl.protocol import (
    SUMMARY_HEADER,
    ApprovalDecided,
    ApprovalEscalated,
    ApprovalRequested,
    CheckpointCreated,
    ContextCompacted,
    Decision,
    DelegateEnded,
    DelegateRejected,
    EventData,
    McpListed,
    ModelFailed,
    ModelRequested,
    ModelResponded,
    SandboxCreated,
    SandboxEvent,
    SandboxRestored,
    SessionCreated,
    SessionStatus,
    SessionStatusChanged,
    TimerFired,
    TimerSet,
    ToolFinished,
    ToolInterrupted,
    ToolProposed,
    ToolStarted,
    UserMessage,
    parse_event,
)
from agentctl.results import tool_result_text


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
    seq: int = 0  # the event it comes from (a summary: its `context.compacted`)
    summary: bool = False  # the summary of earlier turns (`context.compacted`)


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
    # The size of the first `context_turns` turns (a response's usage, or a compaction's
    # estimate); 0 turns: none known (agentctl.runtime.context estimates the whole).
    context_tokens: int = 0
    context_turns: int = 0
    compactions: list[int] = field(default_factory=list)  # `steps` at each compaction
    delegation: Delegation = field(default_factory=Delegation)  # the `delegate` tool's children
    stats: StatsFold = field(default_factory=StatsFold)  # its share of `agentctl stats`

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
    """Apply one event in place. Only `fold_events` and projections call this.

    The event's data is parsed once, into its protocol model, and handed to
    the handler its type is registered with (`_HANDLERS`); a type the fold
    does not use costs no parse.
    """
    if event.seq != state.last_seq + 1:
        raise ValueError(f"event seq {event.seq} does not follow {state.last_seq}")
    state.last_seq = event.seq
    state.updated_at = event.ts
    state.stats.apply(event)
    handler = _HANDLERS.get(event.type)
    if handler is not None:
        handler(state, event, _parse(event))


def _parse(event: EventLike) -> EventData:
    try:
        data = parse_event(event.type, event.data)
    except ValidationError as exc:
        raise ValueError(f"event {event.seq} ({event.type}) does not fit its model: {exc}") from exc
    assert data is not None  # only registered types have a handler
    return data


_Handler = Callable[["SessionState", EventLike, Any], None]
_HANDLERS: dict[str, _Handler] = {}
_D = TypeVar("_D", bound=EventData)


def _on(
    *models: type[_D],
) -> Callable[[Callable[[SessionState, EventLike, _D], None]], Callable[..., None]]:
    """Register a handler for the events of `models` (keyed by each model's stored TYPE)."""

    def register(handler: Callable[[SessionState, EventLike, _D], None]) -> Callable[..., None]:
        for model in models:
            _HANDLERS[model.TYPE] = handler
        return handler

    return register


# The state keeps the dicts it holds (`created`, `budget`, an approval's
# `context` and `escalation`, `mcp_listed`) as the log stores them; what it
# decides from comes from the parsed model.


@_on(SessionCreated)
def _session_created(state: SessionState, event: EventLike, d: SessionCreated) -> None:
    state.session_id = str(getattr(event, "stream", None) or getattr(event, "session", ""))
    state.created = dict(event.data)
    state.created_at = event.ts
    state.budget = dict(event.data.get("budget") or {})
    if d.system:
        state.transcript.append(Turn("system", d.system, seq=event.seq))
    state.transcript.append(Turn("user", d.task, seq=event.seq))


@_on(SessionStatusChanged)
def _session_status(state: SessionState, event: EventLike, d: SessionStatusChanged) -> None:
    new = d.status
    if state.running_since is not None:
        state.running_s += (event.ts - state.running_since).total_seconds()
        state.running_since = None
    if new is SessionStatus.RUNNING:
        state.running_since = event.ts
    state.status = new
    state.reason = d.reason
    state.fault = d.fault
    if new is SessionStatus.RUNNING:
        state.auto_resumes = d.auto_resume or 0
    state.timer_hold = d.timer
    state.delegation.child = d.child
    if event.data.get("budget"):
        state.budget = dict(event.data["budget"])


@_on(UserMessage)
def _message_user(state: SessionState, event: EventLike, d: UserMessage) -> None:
    state.transcript.append(Turn("user", d.text, seq=event.seq))


@_on(ModelRequested)
def _model_requested(state: SessionState, event: EventLike, d: ModelRequested) -> None:
    state.awaiting_model = True
    state.model_attempts = d.attempt


@_on(ModelFailed)
def _model_failed(state: SessionState, event: EventLike, d: ModelFailed) -> None:
    state.model_retries += 1
    if not d.retryable or d.retry_in_ms is None:
        state.awaiting_model = False


@_on(ModelResponded)
def _model_responded(state: SessionState, event: EventLike, d: ModelResponded) -> None:
    state.auto_resumes = 0  # a step went on: the session ran on its own since any retry
    state.awaiting_model = False
    state.model_attempts = 0
    state.steps += 1
    # never below zero (the model refuses a negative count): it would undo a budget
    state.input_tokens += d.usage.input_tokens
    state.output_tokens += d.usage.output_tokens
    if d.cost_usd is None:
        state.cost_unknown = True
    else:
        state.cost_usd += d.cost_usd
    calls = d.tool_calls
    calling = tuple((c.id, c.name, c.args) for c in calls)
    state.transcript.append(Turn("assistant", d.text, tool_calls=calling, seq=event.seq))
    if d.usage.reported and d.usage.input_tokens:  # the request's size, as the server counted
        state.context_tokens = d.usage.input_tokens + d.usage.output_tokens
        state.context_turns = len(state.transcript)
    if d.text:
        state.last_assistant_text = d.text
    state.calls = {
        c.id: ToolCallState(call_id=c.id, name=c.name, args=c.args, refusal=d.refused.get(c.id))
        for c in calls
    }
    state.step_mutated = False


@_on(ToolProposed)
def _tool_proposed(state: SessionState, event: EventLike, d: ToolProposed) -> None:
    call = state.calls.get(d.call_id)
    if call is None:
        return
    call.phase = CallPhase.PROPOSED
    call.tier = d.tier
    call.rule = d.rule
    if isinstance(d.args, dict):
        call.run_args = dict(d.args)


@_on(ApprovalRequested)
def _approval_requested(state: SessionState, event: EventLike, d: ApprovalRequested) -> None:
    state.approvals[d.approval_id] = ApprovalState(
        approval_id=d.approval_id,
        call_id=d.call_id,
        name=d.name,
        args=dict(d.args),
        tier=d.tier,
        context=dict(event.data.get("context") or {}),
        requested_seq=event.seq,
        requested_at=event.ts,
        expires_at=d.expires_at,
        on_expiry=d.on_expiry,
        approvers=list(d.approvers),
        escalation=list(event.data.get("escalation") or []),
        kind=d.kind,
    )
    call = state.calls.get(d.call_id)
    if call is not None and d.kind == "call":
        call.phase = CallPhase.AWAITING
        call.approval_id = d.approval_id


@_on(ApprovalDecided)
def _approval_decided(state: SessionState, event: EventLike, d: ApprovalDecided) -> None:
    approval = state.approvals.get(d.approval_id)
    if approval is None or not approval.pending:
        return
    approval.decision = d.decision.value
    approval.approver = d.approver
    approval.claimed = d.claimed
    approval.reason = d.reason
    approval.decided_args = d.args
    approval.decided_at = event.ts
    call = state.calls.get(approval.call_id)
    if call is None or approval.kind != "call":  # an answer to a server: the call runs on
        return
    if d.decision is Decision.APPROVED:
        call.phase = CallPhase.APPROVED
        call.run_args = dict(d.args or approval.args)
    # denied / expired: the runtime records the refusal as a tool.finished next


@_on(ApprovalEscalated)
def _approval_escalated(state: SessionState, event: EventLike, d: ApprovalEscalated) -> None:
    approval = state.approvals.get(d.approval_id)
    if approval is None or not approval.pending:
        return
    approval.escalation_step = d.step
    approval.approvers = list(d.approvers)
    approval.expires_at = d.expires_at


@_on(TimerSet)
def _timer_set(state: SessionState, event: EventLike, d: TimerSet) -> None:
    state.timers[d.timer_id] = TimerState(
        timer_id=d.timer_id, due_at=d.due_at, purpose=d.purpose, call_id=d.call_id
    )


@_on(TimerFired)
def _timer_fired(state: SessionState, event: EventLike, d: TimerFired) -> None:
    state.timers.pop(d.timer_id, None)


@_on(ToolStarted)
def _tool_started(state: SessionState, event: EventLike, d: ToolStarted) -> None:
    call = state.calls.get(d.call_id)
    if call is None:
        return
    call.phase = CallPhase.STARTED
    call.run_args = dict(d.args)
    call.idempotent = d.idempotent
    call.started_count += 1


@_on(ToolInterrupted)
def _tool_interrupted(state: SessionState, event: EventLike, d: ToolInterrupted) -> None:
    call = state.calls.get(d.call_id)
    if call is not None:
        call.phase = CallPhase.INTERRUPTED


@_on(ToolFinished)
def _tool_finished(state: SessionState, event: EventLike, d: ToolFinished) -> None:
    call = state.calls.get(d.call_id)
    name = call.name if call else ""
    if call is not None:
        call.executed = call.phase is CallPhase.STARTED
        call.phase = CallPhase.FINISHED
        call.exit_code = d.exit_code
        call.error = d.error
        if call.executed and not call.idempotent:
            state.step_mutated = True
    text = tool_result_text(event.data)
    state.transcript.append(Turn("tool", text, tool_call_id=d.call_id, name=name, seq=event.seq))


@_on(CheckpointCreated)
def _checkpoint_created(state: SessionState, event: EventLike, d: CheckpointCreated) -> None:
    state.checkpoints.append(CheckpointRef(seq=event.seq, image=d.image))
    state.step_mutated = False
    state.auto_resumes = 0  # a step was done: the session ran on its own since any retry


@_on(SandboxCreated, SandboxRestored)
def _sandbox(state: SessionState, event: EventLike, d: SandboxEvent) -> None:
    state.container = d.container
    state.image = d.image


@_on(McpListed)
def _mcp_listed(state: SessionState, event: EventLike, d: McpListed) -> None:
    state.mcp_listed[d.server] = dict(event.data)


@_on(ContextCompacted)
def _context_compacted(state: SessionState, event: EventLike, d: ContextCompacted) -> None:
    """From here on: the system prompt and task, the summary, the turns from `kept_from_seq`."""
    pinned = [t for t in state.transcript if t.seq == 1]  # session.created's: system, task
    kept = [t for t in state.transcript if t.seq >= d.kept_from_seq and not t.summary]
    summary = Turn("user", f"{SUMMARY_HEADER}\n{d.summary}", seq=event.seq, summary=True)
    state.transcript = [*pinned, summary, *kept]
    state.context_tokens = d.tokens_after
    state.context_turns = len(state.transcript)
    state.compactions.append(state.steps)
    state.input_tokens += d.usage.input_tokens  # the summary's call counts against the budget
    state.output_tokens += d.usage.output_tokens
    state.cost_unknown |= d.cost_usd is None
    state.cost_usd += d.cost_usd or 0.0


@_on(DelegateRejected, DelegateEnded)
def _delegate(state: SessionState, event: EventLike, d: EventData) -> None:
    state.delegation.apply(d)
