"""Replay: re-run a session on its recorded model responses and find where it diverges.

A replay is client-side by design: it only needs what any client can do. It
reads the original's events, writes its recording (docs/design.md §8) under the data
folder where the daemon can read it, starts a fresh session with the same
task, sandbox and policy on `replay:<that file>`, answers each approval the
way the original's approver did, gives it the same later user messages, and
then compares the two logs.

The comparison (`agentctl.divergence.compare`) is a pure function over two
event lists. What it compares is what the world did, not what the model said (the model's side is
the same by construction): the sequence of executed tool calls as (step, tool
name, sha256 of the canonical JSON of the arguments that ran, exit code),
then the final status. The first difference is the divergence.

The policy is replayed as recorded: `session.created` keeps the whole policy
the original was judged by, so it is written back to a TOML file and the
replay is judged by the same rules — a call that asked a person asks again
(and gets the original's answer), a call the policy denied is denied again.
Running the replay under a permissive policy instead would execute calls the
original refused and report divergences that are not there.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from agentctl.divergence import (
    Divergence,
    compare,
    executed_calls,
    final_status,
)
from agentctl.errors import RecordingError, UsageError
from agentctl.policy import policy_toml
from agentctl.protocol import (
    ApprovalDecided,
    ApprovalRequested,
    Budget,
    ContextCompacted,
    CreateSession,
    Decide,
    Limits,
    ModelResponded,
    ResumeSession,
    SessionCreated,
    SessionStatusChanged,
    ToolStarted,
    UserMessage,
)
from agentctl.providers.base import ModelResponse, Usage
from agentctl.providers.recording import RecordingHeader, response_from_data, write_recording
from agentctl.state import EventLike

if TYPE_CHECKING:
    from agentctl.client import Client

ENDED = ("completed", "failed", "cancelled")
REPLAY_APPROVER = "replay"
REPLAY_LABEL = "replay_of"


# --- what the original did, as the replay needs it ---------------------------------------


def recording_header(events: Sequence[EventLike], session_id: str) -> RecordingHeader:
    created = _created(events, session_id)
    first = events[0]
    ts = getattr(first, "ts", None)
    return RecordingHeader(
        task=created.task,
        model=created.model,
        session=session_id,
        created=ts.isoformat().replace("+00:00", "Z") if ts is not None else None,
    )


_RESPONSE_FIELDS = ("text", "tool_calls", "usage", "cost_usd", "latency_ms")


def write_session_recording(events: Sequence[EventLike], session_id: str, fp: TextIO) -> int:
    """Write the recording of a session's log; returns the number of responses."""
    header = recording_header(events, session_id)
    responses = []
    compactions = []
    for event in events:
        if event.type == ContextCompacted.TYPE:
            compactions.append(_compaction(event))
            continue
        if event.type != ModelResponded.TYPE:
            continue
        data = {k: v for k, v in event.data.items() if k in _RESPONSE_FIELDS}
        data["cost_usd"] = float(data.get("cost_usd") or 0.0)  # unknown is recorded as 0
        usage = data.get("usage") or {}
        data["usage"] = {k: v for k, v in usage.items() if k in ("input_tokens", "output_tokens")}
        data["latency_ms"] = float(data.get("latency_ms", 0.0))
        try:
            responses.append(response_from_data(data))
        except RecordingError as exc:
            raise RecordingError(f"{session_id} seq {event.seq}: {exc.message}") from None
    write_recording(header, responses, fp, compactions)
    return len(responses)


def _compaction(event: EventLike) -> ModelResponse:
    """A `context.compacted`'s summary call, as the recording's compaction line serves it."""
    d = ContextCompacted.model_validate(event.data)
    return ModelResponse(
        text=d.summary,
        tool_calls=(),
        usage=Usage(d.usage.input_tokens, d.usage.output_tokens),
        cost_usd=float(d.cost_usd or 0.0),
        latency_ms=d.latency_ms,
    )


def _created(events: Sequence[EventLike], session_id: str) -> SessionCreated:
    if not events or events[0].type != SessionCreated.TYPE:
        raise UsageError(f"session {session_id} has no session.created event")
    return SessionCreated.model_validate(events[0].data)


@dataclass(frozen=True)
class Answer:
    """How the original's approver answered a call: the replay answers the same."""

    approve: bool
    args: dict[str, Any] | None
    reason: str
    cancel: bool = False  # the original was cancelled while this call waited


@dataclass(frozen=True)
class Wake:
    """A user message or raised budget the original got after it stopped at `step`."""

    step: int
    message: str | None
    budget: Budget | None


@dataclass
class Script:
    """Everything a replay must do the way the original did, keyed by (step, call id)."""

    answers: dict[tuple[int, str], Answer] = field(default_factory=dict)
    wakes: list[Wake] = field(default_factory=list)
    ran: dict[tuple[int, str], dict[str, Any]] = field(default_factory=dict)  # args that ran

    def answer(self, step: int, call_id: str) -> Answer:
        found = self.answers.get((step, call_id))
        if found is not None:
            return found
        if (step, call_id) in self.ran:  # the original ran it without asking (another policy)
            return Answer(True, self.ran[(step, call_id)], "the original ran this call")
        return Answer(False, None, "replay: the original did not run this call")


def script_of(events: Sequence[EventLike]) -> Script:
    script = Script()
    step = 0
    requested: dict[str, tuple[int, str]] = {}  # approval id -> (step, call id)
    decided: dict[str, tuple[int, str]] = {}
    first_status = True
    for i, event in enumerate(events):
        d = event.data
        if event.type == ModelResponded.TYPE:
            step += 1
        elif event.type == ApprovalRequested.TYPE:
            requested[d["approval_id"]] = (step, d["call_id"])
        elif event.type == ApprovalDecided.TYPE and d["approval_id"] in requested:
            key = requested[d["approval_id"]]
            if d["decision"] == "approved":
                script.answers[key] = Answer(True, d.get("args"), d.get("reason", ""))
            else:
                cancelled = d.get("approver") == "agentctl" and _cancel_follows(events, i + 1)
                reason = d.get("reason", "") or f"{d['decision']} in the original"
                script.answers[key] = Answer(False, None, reason, cancel=cancelled)
            decided[d["approval_id"]] = key
        elif event.type == ToolStarted.TYPE:
            script.ran[(step, d["call_id"])] = dict(d["args"])
        elif event.type == UserMessage.TYPE:
            script.wakes.append(Wake(step, d["text"], None))
        elif event.type == SessionStatusChanged.TYPE and d["status"] == "running":
            if first_status:
                first_status = False
                continue
            if d.get("budget"):
                budget = Budget.model_validate(d["budget"])
                last = script.wakes[-1] if script.wakes else None
                if (
                    last is not None
                    and last.step == step
                    and last.budget is None
                    and events[i - 1].type == UserMessage.TYPE
                ):
                    script.wakes[-1] = Wake(step, last.message, budget)
                else:
                    script.wakes.append(Wake(step, None, budget))
    return script


def _cancel_follows(events: Sequence[EventLike], start: int) -> bool:
    """A cancel denies the pending approvals, then says `cancelled`, in one batch."""
    for event in events[start:]:
        if event.type == ApprovalDecided.TYPE:
            continue
        return event.type == SessionStatusChanged.TYPE and event.data["status"] == "cancelled"
    return False


def replay_request(
    events: Sequence[EventLike],
    session_id: str,
    recording: Path,
    policy_file: Path,
    image: str | None,
) -> CreateSession:
    """The session that re-runs `session_id`: same task, sandbox, budget and policy; recorded model."""
    created = _created(events, session_id)
    sandbox = created.sandbox
    return CreateSession(
        task=created.task,
        model=f"replay:{recording}",
        policy=str(policy_file),
        image=image or sandbox.image or "none",
        network=sandbox.network,
        workspace=sandbox.workspace,
        mount_workspace=sandbox.mount_workspace,
        budget=created.budget,
        labels={**created.labels, REPLAY_LABEL: session_id},
        limits=Limits.model_validate(sandbox.limits.model_dump()),
        # the same window and threshold; the summaries come from the recording
        context=created.context.model_copy(update={"summary_model": None}),
    )


# --- running a replay through the client ---------------------------------------------------


@dataclass(frozen=True)
class ReplayReport:
    original: str
    replay: str
    recording: str
    calls: int  # executed calls of the original
    replay_calls: int
    original_status: str | None
    replay_status: str | None
    divergence: Divergence | None
    decisions: int  # approvals answered for the replay

    @property
    def identical(self) -> bool:
        return self.divergence is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "identical": self.identical,
            "original": self.original,
            "replay": self.replay,
            "recording": self.recording,
            "calls": self.calls,
            "replay_calls": self.replay_calls,
            "original_status": self.original_status,
            "replay_status": self.replay_status,
            "decisions": self.decisions,
            "divergence": self.divergence.to_dict() if self.divergence else None,
        }


Progress = Callable[[str], None]


def replay_session(
    client: Client,
    session_id: str,
    *,
    data_dir: Path,
    image: str | None = None,
    progress: Progress | None = None,
) -> ReplayReport:
    """Re-run `session_id` in a fresh sandbox on its recording; compare the two runs."""
    say = progress or (lambda _: None)
    summary = client.session(session_id)
    if summary.status.value in ("running", "waiting"):
        raise UsageError(
            f"session {session_id} is still {summary.status.value}; replay compares finished runs",
            hint="wait for it to end, or cancel it",
        )
    original = list(client.events(session_id))
    folder = data_dir / "recordings"
    folder.mkdir(parents=True, exist_ok=True)
    recording = folder / f"{session_id}.jsonl"
    with recording.open("w", encoding="utf-8") as fp:
        write_session_recording(original, session_id, fp)
    policy_file = folder / f"{session_id}.policy.toml"
    policy_file.write_text(policy_toml(_created(original, session_id).policy), encoding="utf-8")
    script = script_of(original)

    started = client.create_session(
        replay_request(original, session_id, recording, policy_file, image)
    )
    rid = started.id
    say(f"replaying {session_id} as {rid}")
    decisions = _drive(client, rid, script, say)
    replayed = list(client.events(rid))
    divergence = compare(original, replayed)
    return ReplayReport(
        original=session_id,
        replay=rid,
        recording=str(recording),
        calls=len(executed_calls(original)),
        replay_calls=len(executed_calls(replayed)),
        original_status=final_status(original)[0],
        replay_status=final_status(replayed)[0],
        divergence=divergence,
        decisions=decisions,
    )


def _drive(client: Client, rid: str, script: Script, say: Progress) -> int:
    """Follow the replay to its end, answering approvals and waking it as the original was."""
    cursor, step, decisions = 0, 0, 0
    wakes = list(script.wakes)
    answered: set[str] = set()
    while True:
        stopped: str | None = None
        for event in client.events(rid, after=cursor, follow=True):
            cursor = event.seq
            if event.type == ModelResponded.TYPE:
                step += 1
            if event.type != SessionStatusChanged.TYPE:
                continue
            status = event.data["status"]
            if status == "waiting":
                answers = _answer_pending(client, rid, script, step, answered, say)
                decisions += answers
            elif status in ("paused", *ENDED):
                stopped = status
                break
        if stopped is None:
            continue  # the stream closed under us (daemon restart): go on from the cursor
        while wakes and wakes[0].step < step:
            wakes.pop(0)  # the original was woken while running: nothing to give here
        if stopped in ("paused", "completed") and wakes and wakes[0].step == step:
            wake = wakes.pop(0)
            say(
                f"step {step}: {'new message' if wake.message else 'raised budget'}, as in the original"
            )
            client.resume(rid, ResumeSession(message=wake.message, budget=wake.budget))
            continue
        return decisions


def _answer_pending(
    client: Client, rid: str, script: Script, step: int, answered: set[str], say: Progress
) -> int:
    count = 0
    for approval in client.approvals(session=rid):
        if approval.id in answered:
            continue
        answered.add(approval.id)
        answer = script.answer(step, approval.call_id)
        if answer.cancel:
            say(f"step {step}: {approval.tool} — the original was cancelled here")
            client.cancel(rid, answer.reason or "cancelled, as in the original")
            return count
        if answer.approve:
            say(f"step {step}: approve {approval.tool} ({approval.call_id}), as in the original")
            client.decide(
                approval.id,
                Decide(
                    decision="approve",
                    approver=REPLAY_APPROVER,
                    args=answer.args,
                    reason=answer.reason,
                ),
            )
        else:
            say(f"step {step}: deny {approval.tool} ({approval.call_id}): {answer.reason}")
            client.decide(
                approval.id, Decide(decision="deny", approver=REPLAY_APPROVER, reason=answer.reason)
            )
        count += 1
    return count
