"""The `delegate` tool in process: a real DuckDB log, replay recordings for the parent and
for each child profile, the real step machine, making and approvals.

A parent runs as the `boss` profile (the only one with `delegate` enabled); its children
run as `worker`, each with a recording of its own. What is checked is what the parent's
log and the child's log say: the child's answer as the call's result, a schema violation
given back once and then failing the call, a failed child, budgets capped and rolled up,
a cancel that reaches the child, and a retried call that finds the child it made.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from agentctl.errors import ConflictError
from agentctl.handoff import DelegateArgs, judge, request_id
from agentctl.paths import get_paths
from agentctl.protocol import Budget, CreateSession, SessionStatus
from agentctl.runtime import Runtime
from store import DuckDBEventStore

from .harness import call, final, start_runtime, write_recording

SCHEMA = {
    "type": "object",
    "properties": {"files": {"type": "integer"}, "ok": {"type": "boolean"}},
    "required": ["files", "ok"],
    "additionalProperties": False,
}


def profile(name: str, recording: list[dict[str, Any]], extra: str = "") -> Path:
    folder = get_paths().ensure().config / "agents"
    folder.mkdir(parents=True, exist_ok=True)
    write_recording(folder / f"{name}.jsonl", recording)
    path = folder / f"{name}.toml"
    path.write_text(
        f'model = "replay:{name}.jsonl"\nimage = "none"\npolicy = "permissive"\n{extra}\n'
    )
    return path


def delegating(*args: dict[str, Any], then: str = "all done") -> list[dict[str, Any]]:
    """A boss recording: one delegate call per step, then a final answer."""
    steps = [call("delegate", a, call_id=f"d{i}") for i, a in enumerate(args)]
    return [*steps, final(then)]


async def when(rt: Runtime, check: Callable[[], bool], timeout: float = 60.0) -> None:
    """Wait until `check()` holds, looking again at each event the log commits (no polling)."""
    changed = asyncio.Event()
    rt.journal.listeners.append(lambda event: changed.set())

    async def loop() -> None:
        while not check():
            changed.clear()
            await changed.wait()

    await asyncio.wait_for(loop(), timeout)


async def until(rt: Runtime, sid: str, *statuses: SessionStatus) -> SessionStatus:
    """Until the session is durably in one of `statuses` (default: any that ended), with
    no actor left; the status then."""
    wanted = set(statuses) or {s for s in SessionStatus if s.ended}
    await when(rt, lambda: rt.journal.durable_state(sid).status in wanted)
    await rt.wait_idle(sid)
    status = rt.journal.durable_state(sid).status
    assert status is not None
    return status


async def child_of(rt: Runtime, sid: str) -> str:
    """Until the parent waits for a child: that child."""
    await when(rt, lambda: rt.journal.durable_state(sid).delegation.child is not None)
    child = rt.journal.durable_state(sid).delegation.child
    assert child is not None
    return child


async def runtime(tmp_path: Path) -> Runtime:
    return await start_runtime(DuckDBEventStore(tmp_path / "events.duckdb"))


def boss(task: str = "delegate", **budget: Any) -> CreateSession:
    return CreateSession(task=task, agent="boss", budget=Budget(**budget))


def events(rt: Runtime, sid: str, type_: str) -> list[dict[str, Any]]:
    return [e.data for e in rt.store.read_stream(sid) if e.type == type_]


def children(rt: Runtime, parent: str) -> list[str]:
    return [
        s.id
        for s in rt.sessions()
        if s.delegated_by is not None and s.delegated_by.session == parent
    ]


def result(rt: Runtime, sid: str, call_id: str) -> dict[str, Any]:
    [finished] = [d for d in events(rt, sid, "tool.finished") if d["call_id"] == call_id]
    return finished


async def test_the_childs_valid_answer_is_the_calls_result(tmp_path: Path) -> None:
    profile("worker", [call("wait", {"seconds": 0.01}), final('{"files": 3, "ok": true}')])
    profile(
        "boss",
        delegating({"task": "count files", "profile": "worker", "output_schema": SCHEMA}),
        extra='tools = ["delegate"]',
    )
    rt = await runtime(tmp_path)
    sid = await rt.create_session(boss())
    assert await until(rt, sid) is SessionStatus.COMPLETED
    [child] = children(rt, sid)
    assert await until(rt, child) is SessionStatus.COMPLETED
    finished = result(rt, sid, "d0")
    assert finished["error"] is None and json.loads(finished["output"]) == {"files": 3, "ok": True}
    # the parent waited holding nothing, named the child, and recorded what it spent
    waiting = [d for d in events(rt, sid, "session.status") if d["status"] == "waiting"]
    assert [w["child"] for w in waiting] == [child]
    [ended] = events(rt, sid, "delegate.ended")
    assert ended["child"] == child and ended["status"] == "completed" and ended["steps"] == 2
    summary = rt.session(sid)
    assert (summary.steps, summary.children, summary.children_steps) == (2, 1, 2)
    created = events(rt, child, "session.created")[0]
    assert created["delegated_by"] == {"session": sid, "call_id": "d0"}
    assert created["output_schema"] == SCHEMA
    assert created["request_id"] == request_id(sid, "d0")
    assert rt.session(child).delegated_by is not None
    assert "delegate" not in created["tools"]  # a worker does not delegate: not named
    await rt.stop()


async def test_a_violation_is_fed_back_once_and_the_second_answer_counts(tmp_path: Path) -> None:
    profile(
        "worker",
        [final('{"files": "three"}'), final('```json\n{"files": 3, "ok": false}\n```')],
    )
    profile(
        "boss",
        delegating({"task": "count", "profile": "worker", "output_schema": SCHEMA}),
        extra='tools = ["delegate"]',
    )
    rt = await runtime(tmp_path)
    sid = await rt.create_session(boss())
    assert await until(rt, sid) is SessionStatus.COMPLETED
    [child] = children(rt, sid)
    [rejected] = events(rt, sid, "delegate.rejected")
    assert rejected["child"] == child and "files" in rejected["error"]
    feedback = events(rt, child, "message.user")
    assert len(feedback) == 1 and "does not satisfy the output schema" in feedback[0]["text"]
    assert json.loads(result(rt, sid, "d0")["output"]) == {"files": 3, "ok": False}
    await rt.stop()


async def test_a_second_violation_fails_the_call_and_the_parent_goes_on(tmp_path: Path) -> None:
    profile("worker", [final("three files"), final('{"files": 3}')])
    profile(
        "boss",
        delegating({"task": "count", "profile": "worker", "output_schema": SCHEMA}),
        extra='tools = ["delegate"]',
    )
    rt = await runtime(tmp_path)
    sid = await rt.create_session(boss())
    assert await until(rt, sid) is SessionStatus.COMPLETED
    [child] = children(rt, sid)
    assert len(events(rt, sid, "delegate.rejected")) == 1
    assert len(events(rt, child, "message.user")) == 1  # fed back once, not twice
    finished = result(rt, sid, "d0")
    assert finished["exit_code"] is None and "answered twice" in finished["error"]
    assert "'ok' is a required property" in finished["error"]
    # the model saw the error as the call's result
    [transcript_turn] = [t for t in rt.journal.state(sid).transcript if t.tool_call_id == "d0"]
    assert transcript_turn.content.startswith("error: the child session")
    await rt.stop()


async def test_a_failed_child_is_a_clear_error(tmp_path: Path) -> None:
    profile("worker", [call("wait", {"seconds": 0.01})])  # then its recording is exhausted
    profile("boss", delegating({"task": "t", "profile": "worker"}), extra='tools = ["delegate"]')
    rt = await runtime(tmp_path)
    sid = await rt.create_session(boss())
    assert await until(rt, sid) is SessionStatus.COMPLETED
    [child] = children(rt, sid)
    assert rt.session(child).status is SessionStatus.FAILED
    error = result(rt, sid, "d0")["error"]
    assert error.startswith(f"the child session {child} failed: model error")
    await rt.stop()


async def test_no_schema_gives_the_text_and_an_unknown_profile_is_an_error(tmp_path: Path) -> None:
    profile("worker", [final("plain words")])
    profile(
        "boss",
        delegating({"task": "a", "profile": "worker"}, {"task": "b", "profile": "nobody"}),
        extra='tools = ["delegate"]',
    )
    rt = await runtime(tmp_path)
    sid = await rt.create_session(boss())
    assert await until(rt, sid) is SessionStatus.COMPLETED
    assert result(rt, sid, "d0")["output"] == "plain words"
    unknown = result(rt, sid, "d1")["error"]
    assert "could not be started" in unknown and "nobody" in unknown
    assert len(children(rt, sid)) == 1
    await rt.stop()


async def test_delegate_is_off_unless_a_profile_names_it(tmp_path: Path) -> None:
    rec = write_recording(tmp_path / "r.jsonl", [call("delegate", {"task": "x"}), final()])
    rt = await runtime(tmp_path)
    sid = await rt.create_session(CreateSession(task="t", model=f"replay:{rec}", image="none"))
    assert await until(rt, sid) is SessionStatus.COMPLETED
    created = events(rt, sid, "session.created")[0]
    assert "delegate" not in created["tools"] and "wait" in created["tools"]
    assert "not enabled" in result(rt, sid, "c_delegate")["error"]
    assert children(rt, sid) == []
    await rt.stop()


async def test_budgets_cap_the_child_and_roll_up_to_the_parent(tmp_path: Path) -> None:
    profile(
        "worker",
        [call("wait", {"seconds": 0.01}, call_id=f"w{i}") for i in range(9)] + [final("{}")],
        extra="[budget]\nmax_steps = 50",
    )
    profile(
        "boss",
        [call("wait", {"seconds": 0.01}), *delegating({"task": "t", "profile": "worker"})],
        extra='tools = ["delegate", "wait"]',
    )
    rt = await runtime(tmp_path)
    sid = await rt.create_session(boss(max_steps=5))
    # The boss spent 2 steps (wait, delegate) when it delegated: the child gets 3, not 50.
    child = await child_of(rt, sid)
    assert events(rt, child, "session.created")[0]["budget"]["max_steps"] == 3
    assert (
        await until(rt, child, SessionStatus.PAUSED) is SessionStatus.PAUSED
    )  # its own budget: 3 steps
    assert rt.journal.state(sid).status is SessionStatus.WAITING  # the parent still waits
    with pytest.raises(ConflictError, match="waits for its child session"):
        await rt.post_message(sid, "hurry")
    await rt.cancel(child)  # a person gives up on the child: the parent's call fails
    assert (
        await until(rt, sid, SessionStatus.PAUSED) is SessionStatus.PAUSED
    )  # 2 own + 3 of the child's = 5 steps
    assert "cancelled" in result(rt, sid, "d0")["error"]
    [exceeded] = events(rt, sid, "budget.exceeded")
    assert exceeded == {"limit": "steps", "value": 5}
    summary = rt.session(sid)
    assert (summary.steps, summary.children_steps) == (2, 3)
    await rt.stop()


async def test_cancelling_the_parent_cancels_its_child(tmp_path: Path) -> None:
    profile("worker", [call("wait", {"seconds": 3600}), final("{}")])
    profile("boss", delegating({"task": "t", "profile": "worker"}), extra='tools = ["delegate"]')
    rt = await runtime(tmp_path)
    sid = await rt.create_session(boss())
    child = await child_of(rt, sid)
    await when(rt, lambda: rt.journal.durable_state(child).timer_hold is not None)
    assert rt.journal.state(sid).status is SessionStatus.WAITING
    for waiting in (sid, child):  # the parent waits holding no task, the child (a timer) too
        await rt.wait_idle(waiting)
    assert all(rt._tasks[s].done() for s in (sid, child) if s in rt._tasks)
    await rt.cancel(sid)
    assert rt.session(sid).status is SessionStatus.CANCELLED
    assert rt.session(child).status is SessionStatus.CANCELLED
    assert rt.session(child).reason == f"its parent {sid} was cancelled"
    assert events(rt, sid, "delegate.ended") == []  # nothing was delivered to a cancelled parent
    await rt.stop()


async def test_a_call_run_again_finds_the_child_it_made(tmp_path: Path) -> None:
    """What recovery does after a crash between making the child and recording `waiting`:
    the call is run again, and the request id finds the same child."""
    profile("worker", [call("wait", {"seconds": 3600}), final("{}")])
    profile("boss", delegating({"task": "t", "profile": "worker"}), extra='tools = ["delegate"]')
    rt = await runtime(tmp_path)
    sid = await rt.create_session(boss())
    child = await child_of(rt, sid)
    state = rt.journal.state(sid)
    again = await rt.delegations._make_child(
        sid, state, state.calls["d0"], DelegateArgs(task="t", profile="worker")
    )
    assert again == child and children(rt, sid) == [child]
    await rt.cancel(sid)
    await rt.stop()


def test_judge_reads_json_and_names_what_is_wrong() -> None:
    assert judge('{"files": 1, "ok": true}', SCHEMA) == ({"files": 1, "ok": True}, None)
    value, error = judge('{"files": 1, "ok": true, "x": 1}', SCHEMA)
    assert value is None and error is not None and "Additional properties" in error
    assert "not JSON" in (judge("no", SCHEMA)[1] or "")


def test_a_bad_schema_is_refused_as_the_calls_arguments() -> None:
    with pytest.raises(ValueError, match="not a JSON Schema"):
        DelegateArgs(task="t", output_schema={"type": 12})
    with pytest.raises(ValueError):
        DelegateArgs(task="t", sandbox="elsewhere")


def test_a_childs_budget_is_at_most_what_the_parent_has_left() -> None:
    from agentctl.runtime.delegation import remaining
    from agentctl.runtime.making import capped
    from agentctl.state import SessionState

    parent = SessionState(budget={"max_steps": 10, "max_cost_usd": 1.0}, steps=4, cost_usd=0.25)
    parent.delegation.steps, parent.delegation.cost_usd = 2, 0.5  # an earlier child's
    left = remaining(parent)
    assert (left.max_steps, left.max_cost_usd, left.max_tokens) == (4, 0.25, None)
    own = Budget(max_steps=50, max_tokens=1000)
    assert capped(own, left) == Budget(max_steps=4, max_tokens=1000, max_cost_usd=0.25)
    # the running time: what its clock has counted, and the stretch it is running now
    now = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    timed = SessionState(budget={"max_wall_s": 100.0}, running_s=30.0)
    timed.running_since = now - timedelta(seconds=10)
    assert remaining(timed, now).max_wall_s == 60.0
    assert remaining(timed).max_wall_s == 70.0  # without a now, what is counted so far
    assert capped(Budget(max_wall_s=3600), remaining(timed, now)).max_wall_s == 60.0


async def test_tree_shows_the_child_under_its_parent(tmp_path: Path) -> None:
    from agentctl.cli.inspect import family

    profile("worker", [final("{}")])
    profile("boss", delegating({"task": "t", "profile": "worker"}), extra='tools = ["delegate"]')
    rt = await runtime(tmp_path)
    sid = await rt.create_session(boss())
    assert await until(rt, sid) is SessionStatus.COMPLETED
    [child] = children(rt, sid)
    tree = family(rt.sessions(), child)  # asked from the child: the root is its parent
    assert tree["session"] == sid and not tree["delegated"]
    [node] = tree["forks"]
    assert (node["session"], node["delegated"], node["at"]) == (child, True, None)
    await rt.stop()


async def test_a_childs_approval_names_its_parent_and_show_names_the_children(
    tmp_path: Path,
) -> None:
    from datetime import UTC, datetime

    from rich.console import Console

    from agentctl.protocol import Decide
    from agentctl.views import approvals_view, session_panel

    profile("worker", [call("wait", {"seconds": 0.01}), final("{}")])
    (get_paths().config / "agents" / "ask.toml").write_text('default = "ask"\n')  # asks for all
    (get_paths().config / "agents" / "worker.toml").write_text(
        'model = "replay:worker.jsonl"\nimage = "none"\npolicy = "ask.toml"\n'
    )
    profile("boss", delegating({"task": "t", "profile": "worker"}), extra='tools = ["delegate"]')
    rt = await runtime(tmp_path)
    sid = await rt.create_session(boss())
    child = await child_of(rt, sid)
    await until(rt, child, SessionStatus.WAITING)
    [approval] = rt.approvals()
    assert (approval.session, approval.delegated_by) == (child, sid)
    console = Console(record=True, width=200)
    console.print(approvals_view([approval], datetime.now(UTC)))
    assert f"{child} (child of {sid})" in console.export_text()
    await rt.decide(approval.id, Decide(decision="approve", approver="me"))
    assert await until(rt, sid) is SessionStatus.COMPLETED
    console.print(session_panel(rt.session(sid)))
    console.print(session_panel(rt.session(child)))
    text = console.export_text()
    assert "children  1: 2 steps, $0.0000" in text
    assert f"delegated by  {sid} (call d0)" in text
    await rt.stop()
