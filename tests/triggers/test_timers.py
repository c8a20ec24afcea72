"""Durable timers: `run --at` and the `wait` tool, on a manual clock, across restarts."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from agentctl.errors import ConflictError
from agentctl.protocol import ResumeSession, SessionStatus
from agentctl.triggers.clock import ManualClock, parse_when
from tests.runtime.harness import call, create, final, write_recording
from tests.support.triggers import Host, events, settled, status


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


async def test_run_at_creates_now_and_starts_at_its_time(
    tmp_path: Path, clock: ManualClock
) -> None:
    host = Host(clock)
    rt = await host.start()
    try:
        rec = write_recording(tmp_path / "r.jsonl", [final("morning")])
        due = clock.now() + timedelta(minutes=30)
        sid = await rt.create_session(create("later", rec, start_at=due))
        assert status(rt, sid) is SessionStatus.WAITING
        assert rt._tasks.get(sid) is None  # no task while it waits
        assert "starts at" in rt.session(sid).reason
        await clock.advance(timedelta(minutes=29, seconds=59))
        assert status(rt, sid) is SessionStatus.WAITING
        await clock.advance(1)
        await settled(rt, sid, SessionStatus.COMPLETED)
        [fired] = events(rt, sid, "timer.fired")
        assert fired.data["late_s"] == 0
        assert [e.type for e in events(rt, sid)][:4] == [
            "session.created",
            "timer.set",
            "session.status",
            "timer.fired",
        ]
    finally:
        await host.stop()


async def test_a_timer_due_while_the_daemon_was_down_fires_once_on_start_and_says_late(
    tmp_path: Path, clock: ManualClock
) -> None:
    host = Host(clock)
    rt = await host.start()
    rec = write_recording(tmp_path / "r.jsonl", [final()])
    sid = await rt.create_session(create("later", rec, start_at=clock.now() + timedelta(minutes=5)))
    try:
        rt = await host.restart(after=timedelta(hours=2))
        await settled(rt, sid, SessionStatus.COMPLETED)
        [fired] = events(rt, sid, "timer.fired")
        assert fired.data["late_s"] == pytest.approx(7200 - 300)
        running = [e for e in events(rt, sid, "session.status") if e.data["status"] == "running"]
        assert "late" in running[0].data["reason"]
        rt = await host.restart(after=timedelta(hours=1))
        await clock.advance(1)
        assert len(events(rt, sid, "timer.fired")) == 1  # once
    finally:
        await host.stop()


async def test_wait_tool_sleeps_holding_nothing_and_resumes_after_a_restart(
    tmp_path: Path, clock: ManualClock
) -> None:
    rec = write_recording(
        tmp_path / "r.jsonl",
        [call("wait", {"seconds": 600}, call_id="w1"), final("after the wait")],
    )
    host = Host(clock)
    rt = await host.start()
    try:
        sid = await rt.create_session(create("wait ten minutes", rec, policy="default"))
        await settled(rt, sid, SessionStatus.WAITING)
        assert "wait: until" in rt.session(sid).reason
        assert rt.approvals(sid) == []  # waiting for time, not for a person
        with pytest.raises(ConflictError, match="wait: until"):
            await rt.resume(sid, ResumeSession())
        await clock.advance(300)
        assert status(rt, sid) is SessionStatus.WAITING
        rt = await host.restart()  # the timer is in the log, not in the old runtime
        await clock.advance(301)
        await settled(rt, sid, SessionStatus.COMPLETED)
        finished = [e for e in events(rt, sid, "tool.finished") if e.data["call_id"] == "w1"]
        assert finished[0].data["exit_code"] == 0
        assert finished[0].data["output"].startswith("waited until")
        assert len(events(rt, sid, "timer.fired")) == 1
    finally:
        await host.stop()


async def test_a_cancel_wins_over_a_timer(tmp_path: Path, clock: ManualClock) -> None:
    host = Host(clock)
    rt = await host.start()
    try:
        rec = write_recording(tmp_path / "r.jsonl", [final()])
        sid = await rt.create_session(
            create("later", rec, start_at=clock.now() + timedelta(minutes=1))
        )
        await rt.cancel(sid)
        await clock.advance(120)
        assert status(rt, sid) is SessionStatus.CANCELLED
        assert events(rt, sid, "timer.fired") == []
    finally:
        await host.stop()


def test_when_parses_iso_and_relative_times() -> None:
    now = ManualClock().now()
    assert parse_when("+30m", now) == now + timedelta(minutes=30)
    assert parse_when("+1h30m", now) == now + timedelta(minutes=90)
    assert parse_when("2026-12-24T09:00:00Z", now).isoformat() == "2026-12-24T09:00:00+00:00"
    assert parse_when("2026-12-24T09:00:00", now).tzinfo is not None
    with pytest.raises(ValueError, match="ISO time"):
        parse_when("tomorrow", now)
