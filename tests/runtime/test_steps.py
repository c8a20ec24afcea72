"""The step machine's rules, each proved against an in-process runtime and a real store."""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from agentctl.errors import ConflictError, UsageError
from agentctl.protocol import Budget, Decide, ResumeSession, SessionStatus
from agentctl.runtime import Runtime
from agentctl.tools import Tool, ToolContext, ToolOutcome
from agentctl.triggers.clock import ManualClock
from store import DuckDBEventStore, InMemoryEventStore
from tests.support.triggers import until

from .harness import (
    Counter,
    NoopArgs,
    call,
    create,
    final,
    registry,
    settle,
    start_runtime,
    types,
    write_recording,
)


def finished(rt: Runtime, sid: str) -> list[dict[str, Any]]:
    return [e.data for e in rt.store.read_stream(sid) if e.type == "tool.finished"]


@pytest.mark.parametrize(
    ("bad_call", "expected"),
    [
        (call("count", "{not json"), "not valid JSON"),
        (call("nonexistent", {}), "unknown tool 'nonexistent'"),
        (call("count", {"n": "many"}), "invalid arguments for count: n"),
        (call("count", {"n": 1, "extra": True}), "extra"),
        (call("count", "[1, 2]"), "must be a JSON object"),
    ],
)
async def test_malformed_model_output_becomes_an_error_result_not_a_crash(
    tmp_path: Path, bad_call: dict[str, Any], expected: str
) -> None:
    counter = Counter()
    rec = write_recording(tmp_path / "r.jsonl", [bad_call, call("count", {"n": 7}), final()])
    rt = await start_runtime(InMemoryEventStore(), registry(counter.tool()))
    sid = await rt.create_session(create("t", rec))
    assert await settle(rt, sid) is SessionStatus.COMPLETED
    results = finished(rt, sid)
    assert expected in results[0]["error"]
    assert results[0]["exit_code"] is None
    assert counter.runs == [7]  # the bad call never reached the tool; the session went on
    # the model was told: the next request's transcript carries the error
    state = rt.journal.state(sid)
    tool_turns = [t.content for t in state.transcript if t.role == "tool"]
    assert expected in tool_turns[0]
    await rt.stop()


async def test_deny_tier_refuses_and_feeds_back(tmp_path: Path) -> None:
    policy = tmp_path / "p.toml"
    policy.write_text('[[rule]]\ntool = "count"\ntier = "deny"\nname = "no counting"\n')
    counter = Counter()
    rec = write_recording(tmp_path / "r.jsonl", [call("count", {"n": 1}), final()])
    rt = await start_runtime(InMemoryEventStore(), registry(counter.tool()))
    sid = await rt.create_session(create("t", rec, policy=str(policy)))
    assert await settle(rt, sid) is SessionStatus.COMPLETED
    assert counter.runs == []
    assert "denied by policy (no counting)" in finished(rt, sid)[0]["error"]
    await rt.stop()


async def test_approve_deny_edit_and_late_decision_conflict(tmp_path: Path) -> None:
    counter = Counter()
    rec = write_recording(
        tmp_path / "r.jsonl",
        [
            call("count", {"n": 1}, "a"),
            call("count", {"n": 2}, "b"),
            call("count", {"n": 3}, "c"),
            final(),
        ],
    )
    rt = await start_runtime(InMemoryEventStore(), registry(counter.tool()))
    sid = await rt.create_session(create("t", rec, policy="strict"))

    assert await settle(rt, sid) is SessionStatus.WAITING
    assert rt._tasks[sid].done()  # a waiting session holds no task: it is state in the log
    [first] = rt.approvals(sid)
    assert first.tool == "count" and first.args == {"n": 1} and first.tier == "ask"
    await rt.decide(first.id, Decide(decision="approve", approver="alice"))
    with pytest.raises(ConflictError, match="already approved by alice"):
        await rt.decide(first.id, Decide(decision="deny", approver="bob", reason="late"))

    assert await settle(rt, sid) is SessionStatus.WAITING
    [second] = rt.approvals(sid)
    await rt.decide(second.id, Decide(decision="deny", approver="bob", reason="not two"))

    assert await settle(rt, sid) is SessionStatus.WAITING
    [third] = rt.approvals(sid)
    with pytest.raises(UsageError, match="invalid arguments"):
        await rt.decide(third.id, Decide(decision="approve", approver="carol", args={"n": "x"}))
    await rt.decide(third.id, Decide(decision="approve", approver="carol", args={"n": 30}))

    assert await settle(rt, sid) is SessionStatus.COMPLETED
    assert counter.runs == [1, 30]  # the denied call never ran; the edited one ran edited
    results = finished(rt, sid)
    assert results[1]["error"] == "the call was denied by bob: not two"
    events = rt.store.read_stream(sid)
    decided = [e.data for e in events if e.type == "approval.decided"]
    assert [(d["decision"], d["approver"]) for d in decided] == [
        ("approved", "alice"),
        ("denied", "bob"),
        ("approved", "carol"),
    ]
    started = [e.data for e in events if e.type == "tool.started"]
    assert started[-1]["args"] == {"n": 30}
    await rt.stop()


async def test_racing_deciders_exactly_one_wins(tmp_path: Path) -> None:
    counter = Counter()
    rec = write_recording(tmp_path / "r.jsonl", [call("count", {"n": 1}), final()])
    for _ in range(10):
        rt = await start_runtime(InMemoryEventStore(), registry(counter.tool()))
        sid = await rt.create_session(create("t", rec, policy="strict"))
        assert await settle(rt, sid) is SessionStatus.WAITING
        [approval] = rt.approvals(sid)
        results = await asyncio.gather(
            *(
                rt.decide(approval.id, Decide(decision="approve", approver=f"u{i}"))
                for i in range(5)
            ),
            return_exceptions=True,
        )
        assert sum(not isinstance(r, Exception) for r in results) == 1
        assert all(isinstance(r, ConflictError) for r in results if isinstance(r, Exception))
        await settle(rt, sid)
        await rt.stop()


async def test_budget_pauses_and_a_raised_budget_continues(tmp_path: Path) -> None:
    counter = Counter()
    rec = write_recording(
        tmp_path / "r.jsonl", [call("count", {"n": i}, f"c{i}") for i in range(4)] + [final()]
    )
    rt = await start_runtime(InMemoryEventStore(), registry(counter.tool()))
    sid = await rt.create_session(create("t", rec, budget=Budget(max_steps=2)))
    assert await settle(rt, sid) is SessionStatus.PAUSED
    assert counter.runs == [0, 1]
    exceeded = [e.data for e in rt.store.read_stream(sid) if e.type == "budget.exceeded"]
    assert exceeded == [{"limit": "steps", "value": 2.0}]
    await rt.resume(sid, ResumeSession(budget=Budget(max_steps=10)))
    assert await settle(rt, sid) is SessionStatus.COMPLETED
    assert counter.runs == [0, 1, 2, 3]
    await rt.stop()


async def test_token_and_cost_budgets(tmp_path: Path) -> None:
    rec = write_recording(
        tmp_path / "r.jsonl", [call("count", {"n": i}, f"c{i}") for i in range(4)] + [final()]
    )
    rt = await start_runtime(InMemoryEventStore(), registry(Counter().tool()))
    sid = await rt.create_session(create("t", rec, budget=Budget(max_tokens=30)))
    assert await settle(rt, sid) is SessionStatus.PAUSED
    assert rt.journal.state(sid).reason.startswith("budget: tokens")
    await rt.stop()


class _Gate:
    """An in-process tool that blocks until released: a call 'in flight'."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.runs = 0

    def tool(self, idempotent: bool) -> Tool:
        def run(ctx: ToolContext, args: NoopArgs) -> ToolOutcome:
            self.runs += 1
            self.entered.set()
            self.release.wait(10)
            return ToolOutcome(exit_code=0, output="gate")

        return Tool("gate", "blocks", NoopArgs, idempotent=idempotent, run=run, needs_sandbox=False)


@pytest.mark.parametrize("idempotent", [False, True])
async def test_a_call_found_in_flight_reruns_only_if_idempotent(
    tmp_path: Path, idempotent: bool
) -> None:
    gate = _Gate()
    rec = write_recording(tmp_path / "r.jsonl", [call("gate", {}), final()])
    store = DuckDBEventStore(tmp_path / "e.duckdb")
    rt = await start_runtime(store, registry(gate.tool(idempotent)))
    sid = await rt.create_session(create("t", rec))
    await asyncio.to_thread(gate.entered.wait, 10)
    await rt.stop(grace_s=0.05)  # the daemon "dies" with the call in flight
    gate.release.set()
    assert types(rt, sid)[-1] == "tool.started"

    rt2 = await start_runtime(store, registry(gate.tool(idempotent)))
    status = await settle(rt2, sid)
    if idempotent:
        assert status is SessionStatus.COMPLETED
        assert gate.runs == 2
        assert "tool.interrupted" not in types(rt2, sid)
    else:
        assert status is SessionStatus.WAITING
        assert gate.runs == 1  # not repeated silently
        [approval] = rt2.approvals(sid)
        assert approval.context.reason.startswith("interrupted")
        assert types(rt2, sid)[-3:] == ["tool.interrupted", "approval.requested", "session.status"]
        await rt2.decide(approval.id, Decide(decision="approve", approver="ops"))
        assert await settle(rt2, sid) is SessionStatus.COMPLETED
        assert gate.runs == 2  # a person decided to run it again
    await rt2.stop()
    store.close()


async def test_a_completed_call_never_runs_again_on_resume(tmp_path: Path) -> None:
    counter = Counter()
    rec = write_recording(tmp_path / "r.jsonl", [call("count", {"n": 1}), final()])
    store = DuckDBEventStore(tmp_path / "e.duckdb")
    rt = await start_runtime(store, registry(counter.tool()))
    sid = await rt.create_session(create("t", rec, budget=Budget(max_steps=1)))
    assert await settle(rt, sid) is SessionStatus.PAUSED
    await rt.stop()
    rt2 = await start_runtime(store, registry(counter.tool()))
    await rt2.resume(sid, ResumeSession(budget=Budget(max_steps=5)))
    assert await settle(rt2, sid) is SessionStatus.COMPLETED
    assert counter.runs == [1]
    await rt2.stop()
    store.close()


async def test_a_model_request_without_response_is_asked_again(tmp_path: Path) -> None:
    from agentctl.protocol import ModelRequested, event_data
    from store import NewEvent

    counter = Counter()
    rec = write_recording(tmp_path / "r.jsonl", [call("count", {"n": 1}), final()])
    store = InMemoryEventStore()
    rt = await start_runtime(store, registry(counter.tool()))
    sid = await rt.create_session(create("t", rec, budget=Budget(max_steps=0)))
    await settle(rt, sid)
    await rt.stop()
    # the log as a crash right after `model.requested` leaves it: running, request without response
    from agentctl.protocol import SessionStatusChanged

    n = store.last_seq(sid)
    store.append(
        sid,
        [
            NewEvent(
                SessionStatusChanged.TYPE,
                event_data(
                    SessionStatusChanged(status=SessionStatus.RUNNING, budget=Budget(max_steps=9))
                ),
            ),
            NewEvent(ModelRequested.TYPE, event_data(ModelRequested(attempt=1))),
        ],
        n + 1,
    )
    rt2 = await start_runtime(store, registry(counter.tool()))
    assert await settle(rt2, sid) is SessionStatus.COMPLETED
    kinds = types(rt2, sid)
    assert kinds[n + 1 : n + 4] == ["model.requested", "model.requested", "model.responded"]
    attempts = [e.data["attempt"] for e in store.read_stream(sid) if e.type == "model.requested"]
    assert attempts == [1, 2, 1]  # the re-ask is recorded as the request's next attempt
    assert counter.runs == [1]
    await rt2.stop()


async def test_approval_deadline_expires_with_its_action(tmp_path: Path) -> None:
    policy = tmp_path / "p.toml"
    policy.write_text(
        '[[rule]]\ntool = "count"\ntier = "ask"\ntimeout = 0.3\non_expiry = "deny"\n'
        '[[rule]]\ntool = "gate"\ntier = "ask"\ntimeout = 0.3\non_expiry = "pause"\n'
    )
    counter = Counter()
    rec = write_recording(tmp_path / "r.jsonl", [call("count", {"n": 1}), final()])
    clock = ManualClock()
    rt = await start_runtime(InMemoryEventStore(), registry(counter.tool()), clock=clock)
    sid = await rt.create_session(create("t", rec, policy=str(policy)))
    assert await settle(rt, sid) is SessionStatus.WAITING
    await clock.advance(0.29)
    assert rt.journal.state(sid).status is SessionStatus.WAITING  # not yet due
    await clock.advance(0.01)
    # The expiry records `running` and then starts the actor: wait for where it ends.
    ended = (SessionStatus.COMPLETED, SessionStatus.PAUSED, SessionStatus.FAILED)
    await until(lambda: rt.journal.state(sid).status in ended)
    assert await settle(rt, sid) is SessionStatus.COMPLETED
    assert counter.runs == []
    decided = [e.data for e in rt.store.read_stream(sid) if e.type == "approval.decided"]
    assert decided[0]["decision"] == "expired" and "on expiry: deny" in decided[0]["reason"]
    await rt.stop()


async def test_expiry_across_a_restart_pauses_at_once(tmp_path: Path) -> None:
    policy = tmp_path / "p.toml"
    policy.write_text(
        '[[rule]]\ntool = "count"\ntier = "ask"\ntimeout = 0.2\non_expiry = "pause"\n'
    )
    rec = write_recording(tmp_path / "r.jsonl", [call("count", {"n": 1}), final()])
    store = DuckDBEventStore(tmp_path / "e.duckdb")
    clock = ManualClock()
    rt = await start_runtime(store, registry(Counter().tool()), clock=clock)
    sid = await rt.create_session(create("t", rec, policy=str(policy)))
    assert await settle(rt, sid) is SessionStatus.WAITING
    await rt.stop()  # daemon down past the deadline
    clock.set(clock.now() + timedelta(seconds=0.4))
    rt2 = await start_runtime(store, registry(Counter().tool()), clock=clock)
    await until(lambda: rt2.journal.state(sid).status is not SessionStatus.WAITING)
    state = rt2.journal.state(sid)
    assert state.status is SessionStatus.PAUSED
    assert "expired" in state.reason
    await rt2.stop()
    store.close()


async def test_secrets_never_enter_the_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_SERVICE_TOKEN", "tok-very-secret-123")

    def leak(ctx: ToolContext, args: NoopArgs) -> ToolOutcome:
        return ToolOutcome(exit_code=0, output="the token is tok-very-secret-123")

    tool = Tool("leak", "leaks", NoopArgs, idempotent=True, run=leak, needs_sandbox=False)
    rec = write_recording(tmp_path / "r.jsonl", [call("leak", {}), final("tok-very-secret-123")])
    store = InMemoryEventStore()
    rt = await start_runtime(store, registry(tool))
    sid = await rt.create_session(create("t", rec))
    await settle(rt, sid)
    dump = repr([e.data for e in store.read_stream(sid)])
    assert "tok-very-secret-123" not in dump
    assert "[REDACTED:MY_SERVICE_TOKEN]" in dump
    await rt.stop()


async def test_model_endpoint_down_retries_then_pauses(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: connections are refused
    from agentctl.protocol import CreateSession

    rt = await start_runtime(InMemoryEventStore())
    sid = await rt.create_session(
        CreateSession(
            task="t", model="openai:m", base_url=f"http://127.0.0.1:{port}/v1", image="none"
        )
    )
    assert await settle(rt, sid) is SessionStatus.PAUSED
    kinds = types(rt, sid)
    assert kinds.count("model.requested") == 3 and kinds.count("model.failed") == 3
    assert "model error" in rt.journal.state(sid).reason
    await rt.stop()


async def test_a_non_retryable_model_error_fails_the_session(tmp_path: Path) -> None:
    counter = Counter()
    rec = write_recording(tmp_path / "r.jsonl", [call("count", {"n": 1})])  # no final answer
    rt = await start_runtime(InMemoryEventStore(), registry(counter.tool()))
    sid = await rt.create_session(create("t", rec))
    assert await settle(rt, sid) is SessionStatus.FAILED
    state = rt.journal.state(sid)
    assert "recording exhausted" in state.reason
    failures = [e.data for e in rt.store.read_stream(sid) if e.type == "model.failed"]
    assert len(failures) == 1 and failures[0]["retryable"] is False  # no retry on a final "no"
    await rt.stop()


async def test_wall_time_budget(tmp_path: Path) -> None:
    clock = ManualClock()

    def unused(ctx: ToolContext, args: NoopArgs) -> ToolOutcome:
        raise AssertionError("runs as a coroutine")

    async def slow(ctx: ToolContext, args: NoopArgs) -> ToolOutcome:
        await clock.advance(0.2)  # the call takes 0.2 s of the runtime's time
        return ToolOutcome(exit_code=0)

    tool = Tool(
        "slow", "takes time", NoopArgs, idempotent=True, run=unused, arun=slow, needs_sandbox=False
    )
    rec = write_recording(
        tmp_path / "r.jsonl", [call("slow", {}, f"s{i}") for i in range(10)] + [final()]
    )
    rt = await start_runtime(InMemoryEventStore(), registry(tool), clock=clock)
    sid = await rt.create_session(create("t", rec, budget=Budget(max_wall_s=0.5)))
    assert await settle(rt, sid) is SessionStatus.PAUSED
    state = rt.journal.state(sid)
    # 0.4 s after two calls is under the budget: a third model call; after it 0.6 s is not.
    assert state.reason == "budget: wall_s reached (0.6)"
    assert state.steps == 3
    await rt.stop()
