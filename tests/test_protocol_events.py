"""Typed events: each stored type has one model, and a model goes to its stored form and back.

The stored form (type string and JSON data) is what existing logs and
recordings hold, so it must not change: `event_data` dumps every field,
nulls included, exactly as the journal always wrote them.
"""

from __future__ import annotations

import ast
import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

import agentctl.protocol as protocol
from agentctl.crashpoints import CrashPoints
from agentctl.observe import trace
from agentctl.protocol import (
    EVENT_DATA,
    EVENT_MODELS,
    LIVE_DELTA,
    AlertDelivery,
    ApprovalContext,
    ApprovalDecided,
    ApprovalEscalated,
    ApprovalRequested,
    BudgetExceeded,
    CheckpointCreated,
    ContextCompacted,
    Decision,
    DelegateEnded,
    DelegateRejected,
    Envelope,
    EventData,
    HookAdded,
    HookDelivered,
    HookRemoved,
    McpListed,
    ModelFailed,
    ModelRequested,
    ModelResponded,
    SandboxConfig,
    SandboxCreated,
    SandboxEvent,
    SandboxRestored,
    ScheduleAdded,
    ScheduleChanged,
    ScheduleFired,
    SchedulePaused,
    ScheduleRemoved,
    ScheduleResumed,
    SessionCreated,
    SessionHalted,
    SessionStatus,
    SessionStatusChanged,
    TimerFired,
    TimerSet,
    ToolCallData,
    ToolFinished,
    ToolInterrupted,
    ToolProposed,
    ToolStarted,
    UsageData,
    UserMessage,
    WorkspaceCopied,
    event_data,
    parse_event,
)
from agentctl.redact import Redactor
from agentctl.render import _RENDERERS, render_event
from agentctl.runtime.journal import Journal
from agentctl.state import _HANDLERS, SessionState, apply_event
from store import InMemoryEventStore, StoredEvent

T = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)

EXAMPLES: list[EventData] = [
    SessionCreated(
        task="fix it",
        model="replay:r.jsonl",
        tools=["shell"],
        policy={"rules": []},
        sandbox=SandboxConfig(image="agentctl/sandbox:1", workspace="/w"),
        version="1.2.3",
    ),
    SessionStatusChanged(status=SessionStatus.PAUSED, reason="r", fault="sandbox"),
    UserMessage(text="more"),
    ModelRequested(attempt=2),
    ModelResponded(
        text="ok",
        tool_calls=[ToolCallData(id="c1", name="shell", args={"command": "ls"})],
        usage=UsageData(input_tokens=3, output_tokens=4),
        cost_usd=None,
        refused={"c2": "too large"},
    ),
    ModelFailed(error="429", retryable=True, attempt=1, retry_in_ms=250.0),
    ToolProposed(call_id="c1", name="shell", args="{broken", tier="ask", rule="r1"),
    ApprovalRequested(
        approval_id="apr_1",
        call_id="c1",
        name="shell",
        args={"command": "rm -rf x"},
        tier="ask",
        context=ApprovalContext(diff="--- a\n+++ b\n"),
        expires_at=T,
    ),
    ApprovalDecided(approval_id="apr_1", decision=Decision.APPROVED, approver="ann", args={"n": 1}),
    ToolStarted(call_id="c1", name="shell", args={"command": "ls"}, idempotency_key="k"),
    ToolFinished(call_id="c1", exit_code=None, output="", error="refused", attachments=["a/b"]),
    ToolInterrupted(call_id="c1"),
    CheckpointCreated(image="agentctl-ckpt:1", parent_checkpoint=None),
    SandboxCreated(container="agentctl-ses_1", image="img"),
    SandboxRestored(container="agentctl-ses_1", image="agentctl-ckpt:1"),
    BudgetExceeded(limit="tokens", value=1000),
    ApprovalEscalated(approval_id="apr_1", step=1, approvers=["bob"], expires_at=T),
    TimerSet(timer_id="t1", due_at=T, purpose="wait", call_id="c1"),
    TimerFired(timer_id="t1", due_at=T, late_s=0.5),
    SessionHalted(call_id="c1", rule="halt-rule"),
    ScheduleAdded(name="nightly", cron="0 3 * * *", run={"task": "t"}, added_at=T),
    SchedulePaused(by="ann"),
    ScheduleResumed(by="ann"),
    ScheduleRemoved(),
    ScheduleFired(due_at=T, outcome="queued", session=None, missed=2),
    HookAdded(name="gh", task_template="{{x}}", run={}, secret_sha256="ab", max_body=10),
    HookRemoved(by="ann"),
    HookDelivered(delivery="d1", session="ses_1", payload="p", sha256="cd", auth="token"),
    AlertDelivery(
        alert_id="al1", kind="budget.exceeded", session="ses_1", target="url", attempt=1, ok=False
    ),
    WorkspaceCopied(path="/workspace/x", bytes=12),
    McpListed(server="fs", scope="host", tools=[{"name": "read"}], skipped=["w: no"]),
    ContextCompacted(
        summary="listed the files; a.txt holds the answer",
        replaced_from_seq=3,
        replaced_to_seq=9,
        turns_replaced=4,
        kept_from_seq=10,
        tokens_before=420,
        tokens_after=150,
        window=512,
        model="local:smol",
        usage=UsageData(input_tokens=300, output_tokens=40),
    ),
    DelegateRejected(call_id="d1", child="ses_2", child_seq=7, error="ok: required"),
    DelegateEnded(
        call_id="d1",
        child="ses_2",
        status=SessionStatus.COMPLETED,
        steps=3,
        input_tokens=30,
        output_tokens=9,
        cost_usd=0.01,
    ),
]


def stored(event: EventData) -> tuple[str, str]:
    """The stored form as the log keeps it: the type, and the data's JSON text."""
    return event.TYPE, json.dumps(event_data(event), ensure_ascii=False)


def test_the_examples_cover_every_stored_type_once() -> None:
    assert [type(e) for e in EXAMPLES] == list(EVENT_MODELS)
    assert list(EVENT_DATA) == [m.TYPE for m in EVENT_MODELS]
    assert len(set(EVENT_DATA)) == len(EVENT_MODELS), "two models claim one type"


@pytest.mark.parametrize("event", EXAMPLES, ids=lambda e: e.TYPE)
def test_every_model_round_trips_through_its_stored_form(event: EventData) -> None:
    type_, text = stored(event)
    back = parse_event(type_, json.loads(text))
    assert type(back) is type(event)
    assert back == event
    assert stored(back) == (type_, text)  # and is stored the same again


def test_the_stored_form_is_the_one_logs_already_hold() -> None:
    """Every field is written, nulls too: the JSON of the journal before typed events."""
    assert stored(SandboxRestored(container="c", image="i")) == (
        "sandbox.restored",
        '{"container": "c", "image": "i"}',
    )
    assert stored(SchedulePaused(by="ann")) == ("schedule.paused", '{"by": "ann"}')
    assert event_data(CheckpointCreated(image="x")) == {"image": "x", "parent_checkpoint": None}
    assert event_data(ModelFailed(error="e", retryable=False, attempt=1)) == {
        "error": "e",
        "retryable": False,
        "attempt": 1,
        "retry_in_ms": None,
    }
    assert event_data(TimerFired(timer_id="t", due_at=T, late_s=0.0)) == {
        "timer_id": "t",
        "due_at": "2026-01-02T03:04:05.678901Z",
        "late_s": 0.0,
    }


def test_one_shape_of_several_types_parses_as_the_model_of_its_type() -> None:
    data = {"container": "c", "image": "i"}
    assert type(parse_event("sandbox.created", data)) is SandboxCreated
    assert type(parse_event("sandbox.restored", data)) is SandboxRestored
    for type_, model in [
        ("schedule.paused", SchedulePaused),
        ("schedule.resumed", ScheduleResumed),
        ("schedule.removed", ScheduleRemoved),
    ]:
        parsed = parse_event(type_, {"by": "x"})
        assert type(parsed) is model and isinstance(parsed, ScheduleChanged)


def test_an_unknown_type_parses_to_nothing_and_bad_data_is_refused() -> None:
    assert parse_event("from.the.future", {"x": 1}) is None
    assert parse_event(LIVE_DELTA, {"text": "t"}) is None  # never stored
    with pytest.raises(ValidationError):
        parse_event("tool.finished", {"output": "no call id"})


class _Stray(EventData):
    TYPE = "stray.event"
    x: int = 0


class _Sneaky(ToolFinished):  # claims tool.finished's type without being its model
    pass


@pytest.mark.parametrize(
    "event",
    [
        _Stray(),
        _Sneaky(call_id="c", exit_code=0, output=""),
        SandboxEvent(container="c", image="i"),  # the shared base: which of the two?
        ScheduleChanged(by="x"),
        protocol.ModelDelta(text="live only"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_a_model_that_is_not_a_stored_event_is_refused(event: EventData) -> None:
    with pytest.raises(TypeError, match=f"{type(event).__name__} is not an event of the protocol"):
        event_data(event)


def test_the_journal_refuses_an_unknown_event_class_and_appends_nothing() -> None:
    store = InMemoryEventStore()
    journal = Journal(store, crash=CrashPoints(""), redact=Redactor({}))

    async def submit() -> None:
        journal.submit("ses_1", [UserMessage(text="hi"), _Stray(x=1)])

    with pytest.raises(TypeError, match="_Stray is not an event of the protocol"):
        asyncio.run(submit())
    assert store.read_stream("ses_1") == []
    assert journal.find("ses_1") is None


def test_the_journal_appends_models_in_their_stored_form() -> None:
    store = InMemoryEventStore()
    journal = Journal(store, crash=CrashPoints(""), redact=Redactor({"API_KEY": "sk-secret-123"}))
    created, running = EXAMPLES[0], SessionStatusChanged(status=SessionStatus.RUNNING)
    said = UserMessage(text="my key is sk-secret-123")

    async def append() -> list[StoredEvent]:
        return await journal.append("ses_1", [created, running, said])

    got = asyncio.run(append())
    assert [(e.type, e.data) for e in got] == [
        (created.TYPE, event_data(created)),
        (running.TYPE, event_data(running)),
        (said.TYPE, {"text": "my key is [REDACTED:API_KEY]"}),
    ]
    state = journal.durable_state("ses_1")
    assert state.status is SessionStatus.RUNNING and state.transcript[-1].content.endswith("]")


def test_the_fold_refuses_a_stored_event_its_model_refuses() -> None:
    state = SessionState()
    bad = StoredEvent(stream="s", seq=1, offset=1, ts=T, type="model.requested", data={})
    with pytest.raises(ValueError, match=r"event 1 \(model\.requested\) does not fit its model"):
        apply_event(state, bad)


def test_every_dispatch_table_is_keyed_by_stored_types() -> None:
    tables: dict[str, set[str]] = {
        "fold": set(_HANDLERS),
        "render": set(_RENDERERS),
        "trace": set(trace._APPLY),
    }
    for name, types in tables.items():
        assert types <= set(EVENT_DATA), f"{name} handles types the protocol lacks"


def test_each_sandbox_type_renders_as_itself_and_an_unknown_type_as_its_name() -> None:
    def text(type_: str, data: dict[str, Any]) -> str:
        event = Envelope(session="ses_1", seq=3, offset=3, ts=T, type=type_, data=data)
        rendered = render_event(event)
        assert rendered is not None
        return str(getattr(rendered, "plain", rendered))

    data = {"container": "box", "image": "img"}
    assert "sandbox restored box (img)" in text("sandbox.restored", data)
    created = text("sandbox.created", data)
    assert "sandbox box (img)" in created and "restored" not in created
    unknown = text("from.\x1b[31mfuture", {})
    assert unknown.startswith("   3 03:04:05 from.") and unknown.endswith("future")
    assert "\x1b" not in unknown  # the name is cleaned: shown, never obeyed


def test_no_code_builds_event_tuples_or_spells_types_the_models_own() -> None:
    """The journal takes models: no `("tool.finished", data)` pairs left in the code that appends."""
    root = Path(__file__).resolve().parents[1] / "agentctl"
    pairs = []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Tuple)
                and len(node.elts) == 2
                and isinstance(node.elts[0], ast.Constant)
                and node.elts[0].value in EVENT_DATA
                and not isinstance(node.elts[1], ast.Constant)
            ):
                pairs.append(f"{path.relative_to(root)}:{node.lineno}")
    assert not pairs, f"(type, data) pairs: {pairs}"


def test_the_protocol_package_is_pure() -> None:
    """It imports the standard library, pydantic and itself: nothing of the runtime or the UIs."""
    import sys

    root = Path(protocol.__file__).parent
    foreign = []
    for path in sorted(root.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                inside = name == "agentctl.protocol" or name.startswith("agentctl.protocol.")
                if not (inside or top == "pydantic" or top in sys.stdlib_module_names):
                    foreign.append(f"{path.name}: {name}")
    assert not foreign, foreign
    assert len(list(root.glob("*.py"))) >= 5  # the package, not an empty folder
