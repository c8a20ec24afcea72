"""Cron schedules on a manual clock: firing, overlap rules, catch-up after downtime."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from agentctl.errors import ConflictError, NotFoundError, UsageError
from agentctl.protocol import AddSchedule, Decide, SessionStatus
from agentctl.runtime import Runtime
from agentctl.triggers.clock import ManualClock
from agentctl.triggers.schedules import next_due
from tests.runtime.harness import call, create, final, write_recording
from tests.support.triggers import Host, events, settled, until

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # a Monday


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


def fired(rt: Runtime, name: str) -> list[dict[str, object]]:
    return [e.data for e in events(rt, f"schedule:{name}", "schedule.fired")]


def sessions_of(rt: Runtime, name: str) -> list[str]:
    return [s.id for s in rt.sessions() if s.labels.get("schedule") == name]


async def add(rt: Runtime, name: str, rec: Path, cron: str = "*/5 * * * *", **kw: Any) -> None:
    policy = kw.pop("policy", "permissive")
    await rt.triggers.schedules.add(
        AddSchedule(name=name, cron=cron, run=create("tick", rec, policy=policy), **kw)
    )


async def test_each_firing_starts_a_labelled_session(tmp_path: Path, clock: ManualClock) -> None:
    host = Host(clock)
    rt = await host.start()
    try:
        rec = write_recording(tmp_path / "r.jsonl", [final("tick done")])
        await add(rt, "tick", rec)
        [view] = rt.triggers.schedules.views()
        assert view.next_at == START + timedelta(minutes=5)
        await clock.advance(timedelta(minutes=4, seconds=59))
        assert fired(rt, "tick") == []
        await clock.advance(1)
        await until(lambda: len(fired(rt, "tick")) == 1)
        [sid] = sessions_of(rt, "tick")
        await settled(rt, sid, SessionStatus.COMPLETED)
        created = events(rt, sid, "session.created")[0].data
        assert created["trigger"]["kind"] == "schedule" and created["labels"]["schedule"] == "tick"
        await clock.advance(timedelta(minutes=5))
        await until(lambda: len(fired(rt, "tick")) == 2)
        assert [f["outcome"] for f in fired(rt, "tick")] == ["started", "started"]
    finally:
        await host.stop()


async def test_overlap_skip_queue_allow(tmp_path: Path, clock: ManualClock) -> None:
    # Each session asks for approval (strict), so it stays live until a person decides.
    rec = write_recording(tmp_path / "r.jsonl", [call("list_files", {}), final()])
    host = Host(clock)
    rt = await host.start()
    try:
        for overlap in ("skip", "queue", "allow"):
            await add(rt, overlap, rec, overlap=overlap, policy="strict")
        await clock.advance(timedelta(minutes=5))
        await until(lambda: all(len(fired(rt, n)) == 1 for n in ("skip", "queue", "allow")))
        await clock.advance(timedelta(minutes=5))
        await until(lambda: all(len(fired(rt, n)) == 2 for n in ("skip", "queue", "allow")))
        assert [f["outcome"] for f in fired(rt, "skip")] == ["started", "skipped"]
        assert [f["outcome"] for f in fired(rt, "queue")] == ["started", "queued"]
        assert [f["outcome"] for f in fired(rt, "allow")] == ["started", "started"]
        assert len(sessions_of(rt, "allow")) == 2 and len(sessions_of(rt, "skip")) == 1
        # The queued firing starts when the live session ends.
        [first] = sessions_of(rt, "queue")
        await until(lambda: len(rt.approvals(first)) == 1)
        [approval] = rt.approvals(first)
        await rt.decide(approval.id, Decide(decision="deny", approver="ops", reason="no"))
        await settled(rt, first, SessionStatus.COMPLETED)
        await until(lambda: len(fired(rt, "queue")) == 3)
        assert len(sessions_of(rt, "queue")) == 2
        last = fired(rt, "queue")[-1]
        assert last["from_queue"] is True and last["outcome"] == "started"
        await until(lambda: rt.triggers.schedules.views()[1].queued == 0)
    finally:
        await host.stop()


async def test_firings_missed_while_down_fire_once_on_start(
    tmp_path: Path, clock: ManualClock
) -> None:
    rec = write_recording(tmp_path / "r.jsonl", [final()])
    host = Host(clock)
    rt = await host.start()
    try:
        await add(rt, "tick", rec)
        rt = await host.restart(after=timedelta(hours=1, minutes=2))  # 12 firings fell due
        await until(lambda: len(fired(rt, "tick")) == 1)
        [once] = fired(rt, "tick")
        assert once["outcome"] == "started"
        assert str(once["due_at"]).startswith("2026-01-05T10:00:00")
        assert once["missed"] == 11
        assert once["late_s"] == pytest.approx(120)
        assert "late" in str(once["reason"])
        assert len(sessions_of(rt, "tick")) == 1
        rt = await host.restart()  # started again at the same time: nothing more to fire
        await clock.advance(0)
        assert len(fired(rt, "tick")) == 1
        [view] = rt.triggers.schedules.views()
        assert view.next_at == START + timedelta(hours=1, minutes=5)
    finally:
        await host.stop()


async def test_pause_resume_remove_and_run_now(tmp_path: Path, clock: ManualClock) -> None:
    rec = write_recording(tmp_path / "r.jsonl", [final()])
    host = Host(clock)
    rt = await host.start()
    schedules = rt.triggers.schedules
    try:
        await add(rt, "tick", rec)
        await schedules.change("tick", "paused", "ops")
        await clock.advance(timedelta(minutes=20))
        assert fired(rt, "tick") == []
        rt = await host.restart(after=timedelta(minutes=20))  # paused survives a restart
        schedules = rt.triggers.schedules
        assert fired(rt, "tick") == [] and schedules.views()[0].paused
        started = await schedules.run_now("tick")
        assert started.outcome == "started" and started.session
        assert fired(rt, "tick")[0]["manual"] is True
        await schedules.change("tick", "resumed", "ops")
        await clock.advance(timedelta(minutes=5))
        await until(lambda: len(fired(rt, "tick")) == 2)
        await schedules.change("tick", "removed", "ops")
        assert schedules.views() == []
        with pytest.raises(NotFoundError):
            await schedules.run_now("tick")
    finally:
        await host.stop()


async def test_bad_schedules_are_refused(tmp_path: Path, clock: ManualClock) -> None:
    rec = write_recording(tmp_path / "r.jsonl", [final()])
    host = Host(clock)
    rt = await host.start()
    try:
        with pytest.raises(UsageError, match="bad cron expression"):
            await add(rt, "bad", rec, cron="every tuesday")
        with pytest.raises(UsageError, match="unknown time zone"):
            await add(rt, "bad", rec, tz="Mars/Olympus")
        await add(rt, "ok", rec)
        with pytest.raises(ConflictError, match="exists"):
            await add(rt, "ok", rec)
        assert [v.name for v in rt.triggers.schedules.views()] == ["ok"]
    finally:
        await host.stop()


def test_time_zones_follow_the_wall_clock_across_dst() -> None:
    # 09:00 in Paris is 08:00Z in winter and 07:00Z in summer.
    winter = next_due("0 9 * * *", "Europe/Paris", datetime(2026, 3, 1, tzinfo=UTC))
    summer = next_due("0 9 * * *", "Europe/Paris", datetime(2026, 4, 1, tzinfo=UTC))
    assert (winter.hour, summer.hour) == (8, 7)


async def test_a_firing_that_cannot_start_is_recorded_and_the_next_one_still_fires(
    tmp_path: Path, clock: ManualClock
) -> None:
    rec = write_recording(tmp_path / "r.jsonl", [final()])
    policy = tmp_path / "policy.toml"
    policy.write_text('default = "allow"\n')
    host = Host(clock)
    rt = await host.start()
    try:
        await add(rt, "tick", rec, policy=str(policy))
        policy.unlink()  # the run it was added with can no longer start
        await clock.advance(timedelta(minutes=5))
        await until(lambda: len(fired(rt, "tick")) == 1)
        [failed] = fired(rt, "tick")
        assert failed["outcome"] == "failed" and "could not start a session" in str(
            failed["reason"]
        )
        policy.write_text('default = "allow"\n')
        await clock.advance(timedelta(minutes=5))
        await until(lambda: len(fired(rt, "tick")) == 2)  # once per due time, not a hot loop
        assert fired(rt, "tick")[1]["outcome"] == "started"
    finally:
        await host.stop()
