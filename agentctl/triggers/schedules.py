"""Cron schedules: each firing starts a session labelled with its schedule.

A schedule is the stream `schedule:NAME`: `schedule.added` (cron, zone,
overlap rule, the run it starts), `paused` / `resumed` / `removed`, and one
`schedule.fired` per firing (its due time, how late, what happened). Cron
expressions are croniter's (5 fields, or 6 with seconds), evaluated in the
schedule's time zone (zoneinfo), so a daily 09:00 stays 09:00 across DST.

Overlap, as Temporal schedules have it, decides a firing while the schedule's
previous session is still live (not completed, failed or cancelled):
`skip` records the firing as skipped; `queue` records it as queued and starts
it when the live one ends (in order, one at a time); `allow` starts it anyway.

Each firing's session is created with the request id `sch:NAME:DUE`, before
its `schedule.fired` is appended: a daemon killed between the two fires the
same due time again on start, and the request id returns the session the
first attempt made. On start, the firings that fell due while the daemon was
down are fired once, at the most recent due time, with `late_s` and `missed`
(how many earlier ones it stands for) recorded.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from agentctl.errors import AgentctlError, ConflictError, NotFoundError, UsageError
from agentctl.protocol import (
    AddSchedule,
    CreateSession,
    EventData,
    ScheduleAdded,
    ScheduleChanged,
    ScheduleFired,
    SchedulePaused,
    ScheduleRemoved,
    ScheduleResumed,
    ScheduleView,
    SessionStatus,
    SessionStatusChanged,
    TriggerStarted,
    parse_event,
)
from agentctl.triggers.clock import Handle
from agentctl.triggers.timers import late_note
from store import StoredEvent

if TYPE_CHECKING:
    from agentctl.runtime.host import Host

log = logging.getLogger(__name__)

PREFIX = "schedule:"
CATCH_UP_LIMIT = 100_000  # missed firings counted one by one; beyond this, "at least"
_CHANGES: dict[str, type[ScheduleChanged]] = {
    "paused": SchedulePaused,
    "resumed": ScheduleResumed,
    "removed": ScheduleRemoved,
}


def stream_of(name: str) -> str:
    return PREFIX + name


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(
            f"unknown time zone {name!r}", hint="an IANA name, like Europe/Paris"
        ) from None


def check_cron(expr: str) -> None:
    from croniter import croniter  # loaded with the first schedule, not with the daemon

    if not croniter.is_valid(expr):
        raise UsageError(
            f"bad cron expression {expr!r}",
            hint='five fields: minute hour day-of-month month day-of-week, e.g. "*/15 9-17 * * 1-5"',
        )


def next_due(expr: str, tz: str, after: datetime) -> datetime:
    """The first firing strictly after `after`, in UTC."""
    from croniter import croniter

    it = croniter(expr, after.astimezone(zone(tz)))
    nxt: datetime = it.get_next(datetime)
    return nxt.astimezone(UTC)


@dataclass
class Schedule:
    name: str
    cron: str
    tz: str
    overlap: str
    run: dict[str, Any]
    added_at: datetime
    paused: bool = False
    removed: bool = False
    last_due: datetime | None = None  # the latest due time fired (not run-now, not the queue)
    sessions: list[str] = field(default_factory=list)
    queued: list[datetime] = field(default_factory=list)
    fired: int = 0

    def apply(self, event: StoredEvent) -> None:
        match parse_event(event.type, event.data):
            case SchedulePaused():
                self.paused = True
            case ScheduleResumed():
                self.paused = False
            case ScheduleRemoved():
                self.removed = True
            case ScheduleFired() as fired:
                self._fired(fired)

    def _fired(self, fired: ScheduleFired) -> None:
        self.fired += 1
        if not fired.manual and not fired.from_queue:
            self.last_due = max(self.last_due or fired.due_at, fired.due_at)
        if fired.session:
            self.sessions.append(fired.session)
        if fired.outcome == "queued":
            self.queued.append(fired.due_at)
        if fired.from_queue and self.queued:
            self.queued.pop(0)


def _dt(value: Any) -> datetime:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def fold_schedule(events: list[StoredEvent]) -> Schedule | None:
    schedule: Schedule | None = None
    for event in events:
        if event.type == ScheduleAdded.TYPE:  # read as stored: an old one may lack added_at
            d = event.data
            added_at = _dt(d.get("added_at") or event.ts)
            schedule = Schedule(d["name"], d["cron"], d["tz"], d["overlap"], d["run"], added_at)
        elif schedule is not None:
            schedule.apply(event)
    return schedule


class Scheduler:
    def __init__(self, runtime: Host) -> None:
        self.rt = runtime
        self.schedules: dict[str, Schedule] = {}
        self._handles: dict[str, Handle] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._owner: dict[str, str] = {}  # session id -> schedule name

    def _lock(self, name: str) -> asyncio.Lock:
        return self._locks.setdefault(name, asyncio.Lock())

    # -- start and stop --------------------------------------------------------------

    async def start(self) -> None:
        for stream in [s for s in self.rt.journal.states if s.startswith(PREFIX)]:
            events = await asyncio.to_thread(self.rt.store.read_stream, stream)
            schedule = fold_schedule(events)
            if schedule is None or schedule.removed:
                continue
            self.schedules[schedule.name] = schedule
            for sid in schedule.sessions:
                self._owner[sid] = schedule.name
        self.rt.journal.listeners.append(self._on_event)
        for schedule in list(self.schedules.values()):
            # In the background: a daemon with many schedules to catch up answers meanwhile.
            self.rt.background(self._resume(schedule), f"schedule:{schedule.name}:start")

    async def _resume(self, schedule: Schedule) -> None:
        await self._catch_up(schedule)
        self._arm(schedule)
        if schedule.queued and not self._live(schedule):
            await self._dequeue(schedule.name)

    def stop(self) -> None:
        for handle in self._handles.values():
            handle.cancel()
        self._handles.clear()

    async def _catch_up(self, schedule: Schedule) -> None:
        """Fire once what fell due while the daemon was down, marked late."""
        if schedule.paused:
            return
        now = self.rt.clock.now()
        after = schedule.last_due or schedule.added_at
        due = next_due(schedule.cron, schedule.tz, after)
        if due > now:
            return
        missed = 0
        while True:
            following = next_due(schedule.cron, schedule.tz, due)
            if following > now or missed >= CATCH_UP_LIMIT:
                break
            due, missed = following, missed + 1
        await self.fire(schedule.name, due, missed=missed)

    def _arm(self, schedule: Schedule) -> None:
        old = self._handles.pop(schedule.name, None)
        if old is not None:
            old.cancel()
        if schedule.paused or schedule.removed or self.rt.stopping:
            return
        # From the last firing, not from now: a firing due while the one before was
        # still being made fires at once (late) instead of being lost.
        due = next_due(schedule.cron, schedule.tz, schedule.last_due or schedule.added_at)
        name = schedule.name
        self._handles[name] = self.rt.clock.call_at(
            due, lambda: self.rt.background(self._fire_and_rearm(name, due), f"schedule:{name}")
        )

    async def _fire_and_rearm(self, name: str, due: datetime) -> None:
        self._handles.pop(name, None)
        try:
            await self.fire(name, due)
        finally:
            schedule = self.schedules.get(name)
            if schedule is not None:
                self._arm(schedule)

    # -- firing ----------------------------------------------------------------------

    def _live(self, schedule: Schedule) -> list[str]:
        live = []
        for sid in schedule.sessions:
            state = self.rt.journal.states.get(sid)
            if state is not None and state.status is not None and not state.status.ended:
                live.append(sid)
        return live

    async def fire(
        self, name: str, due: datetime, *, manual: bool = False, missed: int = 0
    ) -> TriggerStarted:
        async with self._lock(name):
            schedule = self.schedules.get(name)
            if schedule is None:
                raise NotFoundError(f"no schedule {name!r}", hint="see `agentctl schedule ls`")
            if not manual and (schedule.paused or (schedule.last_due and due <= schedule.last_due)):
                return TriggerStarted(session=None, outcome="already fired")
            late_s = max(0.0, (self.rt.clock.now() - due).total_seconds())
            live = self._live(schedule)
            fired = ScheduleFired(
                due_at=due, late_s=round(late_s, 3), outcome="started", manual=manual, missed=missed
            )
            if live and schedule.overlap == "skip":
                fired.outcome = "skipped"
                fired.reason = f"{live[-1]} is still {self.rt.journal.state(live[-1]).status}"
            elif live and schedule.overlap == "queue":
                fired.outcome = "queued"
                fired.reason = f"after {live[-1]}"
            else:
                key = f"sch:{name}:{due:%Y%m%dT%H%M%S}" + (f":m{schedule.fired}" if manual else "")
                try:
                    fired.session = await self._start(schedule, due, key)
                except AgentctlError as exc:  # e.g. its policy file is gone: say so, fire next time
                    fired.outcome = "failed"
                    fired.reason = f"could not start a session: {exc}"
                    log.warning("schedule %s: %s", name, fired.reason)
                else:
                    fired.reason = f"fired{late_note(late_s)}" + (
                        f"; stands for {missed} earlier firings missed while the daemon was down"
                        if missed
                        else ""
                    )
            await self._record(schedule, [fired])
            if late_s > 1 and not manual:
                log.info("schedule %s fired %s%s", name, fired.outcome, late_note(late_s))
            return TriggerStarted(session=fired.session, outcome=fired.outcome)

    async def _start(self, schedule: Schedule, due: datetime, request_id: str) -> str:
        run = dict(schedule.run)
        labels = {**(run.get("labels") or {}), "schedule": schedule.name}
        trigger = {"kind": "schedule", "name": schedule.name, "due_at": due.isoformat()}
        req = CreateSession.model_validate(
            {**run, "labels": labels, "trigger": trigger, "request_id": request_id}
        )
        sid = await self.rt.create_session(req)
        self._owner[sid] = schedule.name
        return sid

    async def _record(self, schedule: Schedule, items: list[EventData]) -> None:
        stream = stream_of(schedule.name)
        async with self.rt.journal.lock(stream):
            stored = await self.rt.journal.append(stream, items)
        for event in stored:
            schedule.apply(event)

    def _on_event(self, event: StoredEvent) -> None:
        """A schedule's session ended: start its next queued firing."""
        if event.type != SessionStatusChanged.TYPE or event.stream not in self._owner:
            return
        if not SessionStatus(event.data["status"]).ended:
            return
        name = self._owner[event.stream]
        schedule = self.schedules.get(name)
        if schedule is not None and schedule.queued:
            self.rt.background(self._dequeue(name), f"schedule:{name}:queue")

    async def _dequeue(self, name: str) -> None:
        async with self._lock(name):
            schedule = self.schedules.get(name)
            if schedule is None or not schedule.queued or self._live(schedule):
                return
            due = schedule.queued[0]
            key = f"sch:{name}:{due:%Y%m%dT%H%M%S}:q"
            sid = await self._start(schedule, due, key)
            late_s = max(0.0, (self.rt.clock.now() - due).total_seconds())
            fired = ScheduleFired(
                due_at=due,
                late_s=round(late_s, 3),
                outcome="started",
                session=sid,
                from_queue=True,
                reason="queued firing started",
            )
            await self._record(schedule, [fired])

    # -- commands ----------------------------------------------------------------------

    async def add(self, req: AddSchedule) -> ScheduleView:
        check_cron(req.cron)
        zone(req.tz)
        from agentctl.policy import load_policy

        # The run is checked now, not at its first firing at 3 a.m.
        await asyncio.to_thread(load_policy, req.run.policy, config_dir=self.rt.paths.config)
        async with self._lock(req.name):
            if req.name in self.schedules:
                raise ConflictError(
                    f"schedule {req.name!r} exists", hint=f"`agentctl schedule rm {req.name}` first"
                )
            added = ScheduleAdded(
                name=req.name,
                cron=req.cron,
                tz=req.tz,
                overlap=req.overlap,
                run=req.run.model_dump(mode="json", exclude_none=True),
                added_by=req.added_by,
                added_at=self.rt.clock.now(),
            )
            stream = stream_of(req.name)
            async with self.rt.journal.lock(stream):
                stored = await self.rt.journal.append(stream, [added])
            schedule = fold_schedule(stored)
            assert schedule is not None
            self.schedules[req.name] = schedule
            self._arm(schedule)
        return self.view(schedule)

    def get(self, name: str) -> Schedule:
        schedule = self.schedules.get(name)
        if schedule is None:
            raise NotFoundError(f"no schedule {name!r}", hint="see `agentctl schedule ls`")
        return schedule

    async def change(self, name: str, what: str, by: str) -> ScheduleView:
        async with self._lock(name):
            schedule = self.get(name)
            await self._record(schedule, [_CHANGES[what](by=by)])
            if schedule.removed:
                self.schedules.pop(name, None)
                handle = self._handles.pop(name, None)
                if handle is not None:
                    handle.cancel()
            elif what == "resumed":
                # Firings while paused are not caught up: paused means "not these".
                schedule.last_due = max(
                    schedule.last_due or self.rt.clock.now(), self.rt.clock.now()
                )
                self._arm(schedule)
            else:
                self._arm(schedule)
        return self.view(schedule)

    async def run_now(self, name: str) -> TriggerStarted:
        self.get(name)
        return await self.fire(name, self.rt.clock.now(), manual=True)

    def view(self, schedule: Schedule) -> ScheduleView:
        next_at = None
        if not schedule.paused and not schedule.removed:
            after = max(self.rt.clock.now(), schedule.last_due or schedule.added_at)
            next_at = next_due(schedule.cron, schedule.tz, after)
        return ScheduleView(
            name=schedule.name,
            cron=schedule.cron,
            tz=schedule.tz,
            overlap=schedule.overlap,
            task=str(schedule.run.get("task", "")),
            paused=schedule.paused,
            next_at=next_at,
            last_due=schedule.last_due,
            last_session=schedule.sessions[-1] if schedule.sessions else None,
            fired=schedule.fired,
            queued=len(schedule.queued),
        )

    def views(self) -> list[ScheduleView]:
        return [self.view(s) for s in sorted(self.schedules.values(), key=lambda s: s.name)]


__all__ = ["Schedule", "Scheduler", "check_cron", "fold_schedule", "next_due"]
