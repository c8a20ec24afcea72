"""Approver rules, SLAs and escalation chains, the halt tier; across a restart."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from agentctl.errors import ForbiddenError
from agentctl.protocol import Decide, SessionStatus
from agentctl.triggers.clock import ManualClock
from tests.runtime.harness import call, create, final, write_recording
from tests.support.triggers import Host, events, settled, until

CHAIN = """
[[rule]]
name = "deploys"
tool = "list_files"
tier = "ask"
approvers = ["alice", "group:oncall-t21"]
timeout = "10m"
escalate = [
  { approvers = ["bob"], timeout = "20m" },
  { approvers = ["carol"], timeout = "1h" },
]
on_expiry = "deny"

[[rule]]
tool = "read_file"
tier = "halt"
"""


@pytest.fixture
def policy(tmp_path: Path) -> str:
    path = tmp_path / "policy.toml"
    path.write_text(CHAIN)
    return str(path)


async def test_an_escalation_chain_moves_on_across_a_restart_then_expires(
    tmp_path: Path, policy: str
) -> None:
    clock = ManualClock()
    rec = write_recording(tmp_path / "r.jsonl", [call("list_files", {}, call_id="c1"), final()])
    host = Host(clock)
    rt = await host.start()
    try:
        sid = await rt.create_session(create("deploy", rec, policy=policy, image="none"))
        await settled(rt, sid, SessionStatus.WAITING)
        [approval] = rt.approvals(sid)
        assert approval.approvers == ["alice", "group:oncall-t21"]
        with pytest.raises(ForbiddenError, match="only by alice, group:oncall-t21; you are bob"):
            await rt.decide(approval.id, Decide(decision="approve", approver="bob"))
        await clock.advance(timedelta(minutes=10))
        await until(lambda: len(events(rt, sid, "approval.escalated")) == 1)
        [step1] = events(rt, sid, "approval.escalated")
        assert step1.data["step"] == 1 and step1.data["approvers"] == ["bob"]
        # Down for 25 minutes: past bob's 20-minute deadline, so it escalates at once on start.
        rt = await host.restart(after=timedelta(minutes=25))
        await until(lambda: rt.approvals(sid)[0].escalation_step == 2)  # committed and folded
        assert len(events(rt, sid, "approval.escalated")) == 2
        [approval] = rt.approvals(sid)
        assert approval.approvers == ["carol"] and approval.escalation_step == 2
        assert approval.expires_at == clock.now() + timedelta(hours=1)
        with pytest.raises(ForbiddenError, match=r"carol \(escalation step 2\)"):
            await rt.decide(approval.id, Decide(decision="approve", approver="alice"))
        await clock.advance(timedelta(hours=1))
        await settled(rt, sid, SessionStatus.COMPLETED)
        [decided] = events(rt, sid, "approval.decided")
        assert decided.data["decision"] == "expired"
        refusal = next(e for e in events(rt, sid, "tool.finished") if e.data["call_id"] == "c1")
        assert "expired" in refusal.data["error"]
    finally:
        await host.stop()


async def test_the_named_approver_decides_and_is_recorded(tmp_path: Path, policy: str) -> None:
    clock = ManualClock()
    rec = write_recording(tmp_path / "r.jsonl", [call("list_files", {}), final()])
    host = Host(clock)
    rt = await host.start()
    try:
        sid = await rt.create_session(create("deploy", rec, policy=policy, image="none"))
        await settled(rt, sid, SessionStatus.WAITING)
        [approval] = rt.approvals(sid)
        stored = await rt.decide(
            approval.id, Decide(decision="deny", approver="alice", reason="not now")
        )
        assert stored.data["approver"] == "alice" and stored.data["via"] == "in-process"
        await settled(rt, sid, SessionStatus.COMPLETED)
    finally:
        await host.stop()


async def test_halt_stops_the_session_at_once(tmp_path: Path, policy: str) -> None:
    clock = ManualClock()
    rec = write_recording(
        tmp_path / "r.jsonl", [call("read_file", {"path": "x"}, call_id="h1"), final("never")]
    )
    host = Host(clock)
    rt = await host.start()
    try:
        sid = await rt.create_session(create("look", rec, policy=policy, image="none"))
        await settled(rt, sid, SessionStatus.PAUSED)
        assert "halted by policy" in rt.session(sid).reason
        types = [e.type for e in events(rt, sid)]
        assert types[-3:] == ["tool.finished", "session.halted", "session.status"]
        assert "model.responded" in types and types.count("model.responded") == 1
        assert not any(e.type == "tool.started" for e in events(rt, sid))
    finally:
        await host.stop()
