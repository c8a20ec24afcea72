"""A session's waterfall: where its wall time went, built from its events alone.

Wall time is the last event's ts minus the first's. Every interval between
two consecutive events is put in exactly one category, decided by what was
in progress when it began (and, for a checkpoint or a sandbox, by the event
that ends it), so the categories add up to the wall time by construction:

- `approval`: an approval was pending (approval.requested -> approval.decided);
- `tool`: a tool was running (tool.started -> tool.finished);
- `model`: a model request was out (model.requested -> model.responded or
  model.failed), or the runtime was backing off before retrying one, or a
  context compaction's summary was being written (the interval ends with
  context.compacted);
- `sandbox`: the interval ends with checkpoint.created, sandbox.created or
  sandbox.restored: the runtime was committing or starting the container;
- `idle`: the session was not running (paused, ended then resumed, or the gap
  between a fork's copied prefix and its own first event);
- `overhead`: everything else — the runtime's own work between events
  (policy, commits, scheduling).

The spans (one per model attempt, backoff, tool call, approval wait,
checkpoint and sandbox start) are what the waterfall draws; they are
measured between the same events, so they agree with the categories.
Timestamps are those of the log: an event's ts is when the runtime submitted
it, which for a start event is just before the work begins.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from agentctl.protocol import (
    TRACE_CATEGORIES,
    ApprovalDecided,
    ApprovalRequested,
    CheckpointCreated,
    ContextCompacted,
    ModelFailed,
    ModelRequested,
    ModelResponded,
    SandboxCreated,
    SandboxRestored,
    SessionCreated,
    SessionStatus,
    SessionStatusChanged,
    SessionTrace,
    ToolFinished,
    ToolInterrupted,
    ToolStarted,
    TraceSpan,
    TraceStepSummary,
)
from agentctl.state import EventLike

_ENDED = {s.value for s in SessionStatus if s.ended}
_SANDBOX_EVENTS = {CheckpointCreated.TYPE, SandboxCreated.TYPE, SandboxRestored.TYPE}


@dataclass
class _Open:
    seq: int
    ts: datetime
    step: int
    name: str
    attrs: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Step:
    number: int
    start: datetime
    end: datetime
    seconds: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0


class _Builder:
    def __init__(self, session: str, events: Sequence[EventLike]) -> None:
        self.session = session
        self.events = events
        self.t0 = events[0].ts
        first = events[0].data if events[0].type == SessionCreated.TYPE else {}
        self.model = str(first.get("model", ""))
        parent = first.get("parent") or {}
        self.inherited = int(parent.get("seq", 0)) if isinstance(parent, dict) else 0
        self.status: str | None = None
        self.model_call: _Open | None = None
        self.backoff: _Open | None = None
        self.awaiting_model = False
        self.tools: dict[str, _Open] = {}
        self.approvals: dict[str, _Open] = {}
        self.step = 0
        self.steps: dict[int, _Step] = {0: _Step(0, self.t0, self.t0)}
        self.seconds: defaultdict[str, float] = defaultdict(float)
        self.spans: list[TraceSpan] = []
        self.latency_ms = 0.0
        self.retries = 0

    # -- categories -------------------------------------------------------------------

    def category(self, end: EventLike) -> str:
        if self.inherited and end.seq == self.inherited + 1:
            return "idle"  # from the parent's event to the fork's own first one
        if self.approvals:
            return "approval"
        if self.tools:
            return "tool"
        if self.model_call is not None or self.backoff is not None:
            return "model"
        if end.type in _SANDBOX_EVENTS:
            return "sandbox"
        if end.type == ContextCompacted.TYPE:  # the summary's model call
            return "model"
        if self.status is not None and self.status != SessionStatus.RUNNING.value:
            return "idle"
        return "overhead"

    # -- spans ------------------------------------------------------------------------

    def offset(self, ts: datetime) -> float:
        return (ts - self.t0).total_seconds()

    def close(self, kind: str, opened: _Open, end: EventLike, **attrs: Any) -> None:
        self.spans.append(
            TraceSpan(
                kind=kind,  # type: ignore[arg-type]
                name=opened.name,
                step=opened.step,
                start_s=round(self.offset(opened.ts), 6),
                duration_s=round((end.ts - opened.ts).total_seconds(), 6),
                seq_start=opened.seq,
                seq_end=end.seq,
                attrs={**opened.attrs, **attrs},
            )
        )

    def apply(self, e: EventLike, previous: EventLike | None) -> None:
        """Advance by one event: its type's handler (`_APPLY`) opens or closes spans."""
        handler = _APPLY.get(e.type)
        if handler is not None:
            handler(self, e, e.data, previous)

    # The handlers read the data leniently (`.get`): a trace is drawn from whatever a log holds.

    def _status(self, e: EventLike, d: dict[str, Any], previous: EventLike | None) -> None:
        self.status = str(d.get("status"))

    def _model_requested(self, e: EventLike, d: dict[str, Any], previous: EventLike | None) -> None:
        if self.backoff is not None:
            self.close("backoff", self.backoff, e)
            self.backoff = None
        if not self.awaiting_model:
            self.step += 1
            self.steps[self.step] = _Step(self.step, e.ts, e.ts)
        attempt = int(d.get("attempt", 1))
        if attempt > 1:
            self.retries += 1
        self.awaiting_model = True
        self.model_call = _Open(e.seq, e.ts, self.step, self.model, {"attempt": attempt})

    def _model_responded(self, e: EventLike, d: dict[str, Any], previous: EventLike | None) -> None:
        usage = d.get("usage") or {}
        input_tokens = int(usage.get("input_tokens", 0))
        output_tokens = int(usage.get("output_tokens", 0))
        cost = float(d.get("cost_usd") or 0.0)
        latency = float(d.get("latency_ms", 0.0))
        step = self.steps[self.step]
        step.input_tokens += input_tokens
        step.output_tokens += output_tokens
        step.cost_usd += cost
        self.latency_ms += latency
        self.awaiting_model = False
        opened = self.model_call or _Open(e.seq, e.ts, self.step, self.model)
        self.close(
            "model",
            opened,
            e,
            outcome="ok",
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cost_usd=cost,
            latency_ms=latency,
            tool_calls=len(d.get("tool_calls") or []),
        )
        self.model_call = None

    def _model_failed(self, e: EventLike, d: dict[str, Any], previous: EventLike | None) -> None:
        opened = self.model_call or _Open(e.seq, e.ts, self.step, self.model)
        self.close(
            "model", opened, e, outcome="failed", error=d.get("error"), retryable=d.get("retryable")
        )
        self.model_call = None
        if d.get("retry_in_ms") is not None:
            self.backoff = _Open(
                e.seq, e.ts, self.step, "backoff", {"retry_in_ms": d.get("retry_in_ms")}
            )

    def _tool_started(self, e: EventLike, d: dict[str, Any], previous: EventLike | None) -> None:
        call_id = str(d.get("call_id"))
        self.tools[call_id] = _Open(
            e.seq, e.ts, self.step, str(d.get("name")), {"call_id": call_id}
        )

    def _tool_finished(self, e: EventLike, d: dict[str, Any], previous: EventLike | None) -> None:
        opened = self.tools.pop(str(d.get("call_id")), None)
        if opened is None:
            return
        failed = (
            d.get("error") is not None
            or bool(d.get("timed_out"))
            or d.get("exit_code") not in (0, None)
        )
        self.close(
            "tool",
            opened,
            e,
            outcome="failed" if failed else "ok",
            exit_code=d.get("exit_code"),
            duration_ms=d.get("duration_ms"),
            error=d.get("error"),
        )

    def _tool_interrupted(
        self, e: EventLike, d: dict[str, Any], previous: EventLike | None
    ) -> None:
        opened = self.tools.pop(str(d.get("call_id")), None)
        if opened is not None:
            self.close("tool", opened, e, outcome="interrupted")

    def _approval_requested(
        self, e: EventLike, d: dict[str, Any], previous: EventLike | None
    ) -> None:
        approval_id = str(d.get("approval_id"))
        attrs = {"approval_id": approval_id, "call_id": d.get("call_id")}
        self.approvals[approval_id] = _Open(e.seq, e.ts, self.step, str(d.get("name")), attrs)

    def _approval_decided(
        self, e: EventLike, d: dict[str, Any], previous: EventLike | None
    ) -> None:
        opened = self.approvals.pop(str(d.get("approval_id")), None)
        if opened is not None:
            self.close(
                "approval", opened, e, decision=d.get("decision"), approver=d.get("approver")
            )

    def _sandbox(self, e: EventLike, d: dict[str, Any], previous: EventLike | None) -> None:
        """A checkpoint or a container start: measured from the event before it."""
        if previous is None:
            return
        kind = "checkpoint" if e.type == CheckpointCreated.TYPE else "sandbox"
        name = str(d.get("image") or "(no sandbox)")
        opened = _Open(previous.seq, previous.ts, self.step, name, {"event": e.type})
        self.close(kind, opened, e)

    def build(self) -> SessionTrace:
        previous: EventLike | None = None
        for event in self.events:
            if previous is not None:
                dt = (event.ts - previous.ts).total_seconds()
                category = self.category(event)
                self.seconds[category] += dt
                self.steps[self.step].seconds[category] += dt
                self.steps[self.step].end = event.ts
            self.apply(event, previous)
            previous = event
        last = self.events[-1]
        self._close_unfinished(last)
        return SessionTrace(
            session=self.session,
            status=SessionStatus(self.status) if self.status else None,
            model=self.model,
            started_at=self.t0,
            ended_at=last.ts,
            wall_s=round(self.offset(last.ts), 6),
            seconds={c: round(self.seconds.get(c, 0.0), 6) for c in TRACE_CATEGORIES},
            steps=[self._summary(s) for s in self.steps.values()],
            spans=sorted(self.spans, key=lambda s: (s.start_s, s.seq_start)),
            input_tokens=sum(s.input_tokens for s in self.steps.values()),
            output_tokens=sum(s.output_tokens for s in self.steps.values()),
            cost_usd=round(sum(s.cost_usd for s in self.steps.values()), 6),
            model_latency_ms=round(self.latency_ms, 3),
            retries=self.retries,
            inherited_until_seq=self.inherited,
        )

    def _close_unfinished(self, last: EventLike) -> None:
        """What is still in progress at the last event is drawn up to it, marked open."""
        if self.model_call is not None:
            self.close("model", self.model_call, last, outcome="open")
        if self.backoff is not None:
            self.close("backoff", self.backoff, last, outcome="open")
        for opened in self.tools.values():
            self.close("tool", opened, last, outcome="open")
        for opened in self.approvals.values():
            self.close("approval", opened, last, outcome="open")

    def _summary(self, step: _Step) -> TraceStepSummary:
        return TraceStepSummary(
            step=step.number,
            start_s=round(self.offset(step.start), 6),
            duration_s=round((step.end - step.start).total_seconds(), 6),
            seconds={c: round(step.seconds.get(c, 0.0), 6) for c in TRACE_CATEGORIES},
            input_tokens=step.input_tokens,
            output_tokens=step.output_tokens,
            cost_usd=round(step.cost_usd, 6),
        )


def build_trace(session: str, events: Sequence[EventLike]) -> SessionTrace:
    """The waterfall of `session` from its events (in seq order; at least one)."""
    if not events:
        raise ValueError(f"session {session} has no events")
    return _Builder(session, events).build()


def session_segment(events: Sequence[EventLike]) -> Sequence[EventLike]:
    """The events of a session's latest run: after its previous end and a fork's copied prefix.

    A session that ended, was resumed with a new message and ended again is
    two runs; an exporter that sends each run once takes this segment.
    """
    first = events[0].data if events and events[0].type == SessionCreated.TYPE else {}
    parent = first.get("parent") or {}
    start = int(parent.get("seq", 0)) if isinstance(parent, dict) else 0
    ends = [
        i
        for i, e in enumerate(events[:-1])
        if e.type == SessionStatusChanged.TYPE and e.data.get("status") in _ENDED
    ]
    if ends:
        start = max(start, events[ends[-1]].seq)
    return [e for e in events if e.seq > start]


_Apply = Callable[[_Builder, EventLike, dict[str, Any], EventLike | None], None]
_APPLY: dict[str, _Apply] = {
    SessionStatusChanged.TYPE: _Builder._status,
    ModelRequested.TYPE: _Builder._model_requested,
    ModelResponded.TYPE: _Builder._model_responded,
    ModelFailed.TYPE: _Builder._model_failed,
    ToolStarted.TYPE: _Builder._tool_started,
    ToolFinished.TYPE: _Builder._tool_finished,
    ToolInterrupted.TYPE: _Builder._tool_interrupted,
    ApprovalRequested.TYPE: _Builder._approval_requested,
    ApprovalDecided.TYPE: _Builder._approval_decided,
    **{t: _Builder._sandbox for t in _SANDBOX_EVENTS},
}
