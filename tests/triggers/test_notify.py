"""Alerts: a command and a URL notified, retried with backoff, recorded; a failing one blocks nothing."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentctl.errors import UsageError
from agentctl.protocol import Decide, SessionStatus
from agentctl.runtime import Runtime
from agentctl.triggers.clock import ManualClock
from agentctl.triggers.notify import load_notify_config
from tests.providers.fake_server import FakeModelServer, Reply
from tests.runtime.harness import call, create, final, write_recording
from tests.support.triggers import Host, events, settled, until, write_config


@pytest.fixture
def receiver() -> Iterator[FakeModelServer]:
    server = FakeModelServer()  # any POST, recorded: real HTTP on loopback
    server.start()
    yield server
    server.stop()


def deliveries(rt: Runtime, target: str) -> list[dict[str, object]]:
    return [e.data for e in events(rt, "alerts", "alert.delivery") if e.data["target"] == target]


async def test_a_failing_notifier_is_retried_with_backoff_and_never_blocks_a_session(
    tmp_path: Path, receiver: FakeModelServer
) -> None:
    failing = [
        sys.executable,
        "-c",
        "import sys; sys.stdin.read(); print('pager down', file=sys.stderr); sys.exit(3)",
    ]
    write_config(
        "[notify]\n"
        f"command = {json.dumps(failing)}\n"
        f'url = "{receiver.url}/alerts"\n'
        'events = ["approval.requested"]\n'
        'retries = 2\nbackoff = "10s"\ntimeout = "20s"\n'
    )
    receiver.script(Reply.error(500), Reply.json({"ok": True}))
    clock = ManualClock()
    rec = write_recording(tmp_path / "r.jsonl", [call("list_files", {}), final()])
    host = Host(clock)
    rt = await host.start()
    try:
        sid = await rt.create_session(create("ask me", rec, policy="strict", image="none"))
        await settled(rt, sid, SessionStatus.WAITING)
        await until(lambda: len(deliveries(rt, "command")) == 1 and len(deliveries(rt, "url")) == 1)
        # Both failed once and wait 10s (by the clock) to retry; the session does not wait.
        [approval] = rt.approvals(sid)
        await rt.decide(approval.id, Decide(decision="approve", approver="ops"))
        await settled(rt, sid, SessionStatus.COMPLETED)
        assert len(deliveries(rt, "command")) == 1
        await clock.advance(10)
        await until(lambda: len(deliveries(rt, "command")) == 2 and len(deliveries(rt, "url")) == 2)
        await clock.advance(20)
        await until(lambda: len(deliveries(rt, "command")) == 3)
        command = deliveries(rt, "command")
        assert [d["ok"] for d in command] == [False, False, False]
        assert [d["retry_in_s"] for d in command] == [10.0, 20.0, None]
        assert "exited 3: pager down" in str(command[0]["error"])
        url = deliveries(rt, "url")
        assert [d["ok"] for d in url] == [False, True]
        body = receiver.requests[-1].body
        assert body["kind"] == "approval.requested" and body["session"] == sid
        assert body["data"]["name"] == "list_files"
    finally:
        await host.stop()


async def test_alerts_cover_expiry_failure_and_budget(
    tmp_path: Path, receiver: FakeModelServer
) -> None:
    write_config(f'[notify]\nurl = "{receiver.url}/a"\nretries = 0\n')
    receiver.script(*[Reply.json({}) for _ in range(10)])
    clock = ManualClock()
    host = Host(clock)
    rt = await host.start()
    try:
        budget = write_recording(tmp_path / "b.jsonl", [call("list_files", {}), final()])
        from agentctl.protocol import Budget

        sid = await rt.create_session(
            create("stop early", budget, image="none", budget=Budget(max_steps=1))
        )
        await settled(rt, sid, SessionStatus.PAUSED)
        empty = write_recording(tmp_path / "e.jsonl", [])
        failed = await rt.create_session(create("fail", empty, image="none"))
        await settled(rt, failed, SessionStatus.FAILED)
        await until(
            lambda: (
                {r.body["kind"] for r in receiver.requests} >= {"budget.exceeded", "session.failed"}
            )
        )
    finally:
        await host.stop()


def test_a_bad_notify_section_is_a_clear_error(tmp_path: Path) -> None:
    path = write_config('[notify]\ncommand = "notify-send hi"\n')
    with pytest.raises(UsageError, match="list of strings"):
        load_notify_config(path)
    path.write_text('[notify]\nurl = "ftp://x"\n')
    with pytest.raises(UsageError, match="http"):
        load_notify_config(path)
    path.write_text('[notify]\nevents = ["session.exploded"]\n')
    with pytest.raises(UsageError, match="events must be"):
        load_notify_config(path)
