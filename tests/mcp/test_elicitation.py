"""A server's question during a call (elicitation) is an approval in the same queue, durable."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from rich.console import Console

from agentctl.errors import UsageError
from agentctl.protocol import Decide, SessionStatus
from agentctl.render import approvals_view
from agentctl.runtime import Runtime
from store import DuckDBEventStore
from tests.support.mcp import add_server

from ..runtime.harness import call, create, final, settle, start_runtime, write_recording
from .test_host_servers import events

pytestmark = pytest.mark.asyncio


async def _question(rt: Runtime, sid: str) -> str:
    """The id of the session's pending elicitation, once it is asked."""
    async with asyncio.timeout(60):
        while True:
            pending = [a for a in rt.approvals(sid) if a.context.question]
            if pending:
                return pending[0].id
            state = rt.journal.state(sid)
            if state.status not in (SessionStatus.RUNNING, SessionStatus.WAITING):
                raise AssertionError(
                    f"no question asked: {[(e.type, e.data) for e in rt.store.read_stream(sid)]}"
                )
            await asyncio.sleep(0.02)


def _setup(tmp_path: Path, fault_server: tuple[list[str], Path], timeout_s: float) -> Path:
    command, log = fault_server
    add_server(
        name="faults",
        command=command,
        scope="host",
        env={"FAULT_LOG": str(log)},
        timeout_s=timeout_s,
    )
    policy = tmp_path / "policy.toml"
    policy.write_text('[[rule]]\ntool = "mcp__faults__*"\ntier = "allow"\n')
    return policy


async def test_the_answer_comes_from_the_approval_queue(
    tmp_path: Path, fault_server: tuple[list[str], Path]
) -> None:
    policy = _setup(tmp_path, fault_server, timeout_s=1)
    recording = write_recording(
        tmp_path / "rec.jsonl",
        [call("mcp__faults__ask", {"question": "Which colour?"}, "q1"), final()],
    )
    rt = await start_runtime(DuckDBEventStore(tmp_path / "db.duckdb"))
    try:
        sid = await rt.create_session(create("ask", recording, policy=str(policy)))
        approval_id = await _question(rt, sid)
        (view,) = rt.approvals(sid)
        assert view.context.question == "Which colour?"
        assert view.context.answer_schema and "answer" in view.context.answer_schema["properties"]
        assert rt.journal.state(sid).status is SessionStatus.WAITING
        shown = Console(width=200, record=True, file=io.StringIO())
        shown.print(approvals_view([view], datetime.now(UTC)))
        text = shown.export_text()
        assert "the server asks: Which colour?" in text and '"answer"' in text
        await asyncio.sleep(
            1.5
        )  # past the call's 1 s timeout: its clock stops while a person is asked
        with pytest.raises(UsageError, match="does not fit"):
            await rt.decide(
                approval_id, Decide(decision="approve", args={"answer": 3}, approver="t")
            )
        await rt.decide(
            approval_id, Decide(decision="approve", args={"answer": "blue"}, approver="t")
        )
        assert await settle(rt, sid) is SessionStatus.COMPLETED
        (finished,) = events(rt, sid, "tool.finished")
        assert finished["exit_code"] == 0 and "answered blue" in finished["output"]
        assert fault_server[1].read_text() == "answer blue\n"
    finally:
        await rt.stop()


async def test_a_question_open_when_the_daemon_stops_is_still_there_and_asked_once(
    tmp_path: Path, fault_server: tuple[list[str], Path]
) -> None:
    policy = _setup(tmp_path, fault_server, timeout_s=30)
    recording = write_recording(
        tmp_path / "rec.jsonl", [call("mcp__faults__ask", {"question": "Go?"}, "q1"), final()]
    )
    db = tmp_path / "db.duckdb"
    rt = await start_runtime(DuckDBEventStore(db))
    sid = await rt.create_session(create("ask", recording, policy=str(policy)))
    approval_id = await _question(rt, sid)
    await rt.stop(grace_s=0.5)
    rt.store.close()

    rt = await start_runtime(DuckDBEventStore(db))
    try:
        assert [a.id for a in rt.approvals(sid)] == [approval_id]  # durable
        await rt.decide(
            approval_id, Decide(decision="approve", args={"answer": "yes"}, approver="t")
        )
        # The call was in flight when the daemon stopped and is not idempotent: a person
        # says it may run again; the server asks the same question and gets the answer given.
        async with asyncio.timeout(60):
            while not [a for a in rt.approvals(sid) if a.context.question is None]:
                await asyncio.sleep(0.02)
        (again,) = rt.approvals(sid)
        assert "interrupted" in again.context.reason
        await rt.decide(again.id, Decide(decision="approve", approver="t"))
        assert await settle(rt, sid) is SessionStatus.COMPLETED
        asked = [e for e in events(rt, sid, "approval.requested") if e["kind"] == "elicitation"]
        assert len(asked) == 1  # asked once, answered once
        (finished,) = events(rt, sid, "tool.finished")
        assert "answered yes" in finished["output"]
        assert fault_server[1].read_text() == "answer yes\n"
    finally:
        await rt.stop()


async def test_the_reference_servers_question_is_answered_from_the_queue(
    tmp_path: Path, everything: list[str]
) -> None:
    add_server(name="everything", command=everything, scope="host")
    policy = tmp_path / "policy.toml"
    policy.write_text('[[rule]]\ntool = "mcp__everything__*"\ntier = "allow"\n')
    recording = write_recording(
        tmp_path / "rec.jsonl",
        [call("mcp__everything__trigger-elicitation-request", {}, "e1"), final()],
    )
    rt = await start_runtime(DuckDBEventStore(tmp_path / "db.duckdb"))
    try:
        sid = await rt.create_session(create("ask", recording, policy=str(policy)))
        approval_id = await _question(rt, sid)
        (view,) = rt.approvals(sid)
        assert view.context.answer_schema and "name" in view.context.answer_schema["properties"]
        answer = {"name": "Ada Lovelace", "check": True, "email": "ada@example.com"}
        with pytest.raises(UsageError, match="email"):  # the schema's format is checked
            await rt.decide(
                approval_id,
                Decide(decision="approve", args={**answer, "email": "nope"}, approver="t"),
            )
        await rt.decide(approval_id, Decide(decision="approve", args=answer, approver="t"))
        assert await settle(rt, sid) is SessionStatus.COMPLETED
        (finished,) = events(rt, sid, "tool.finished")
        assert finished["exit_code"] == 0 and "Ada Lovelace" in finished["output"], finished
    finally:
        await rt.stop()
