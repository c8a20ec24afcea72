"""Durable timers of a session: a delayed start (`run --at`) and the `wait` tool.

A timer is an event (`timer.set`, with its due time) followed by `waiting`
with `timer` naming it: the session holds no task, and its container, if it
has one, is paused, exactly as while it waits for a person. When the timer
fires, `timer.fired` (with how late it fired) and `running` are appended in
one batch, under the session's lock and only if the session still waits for
that timer — so it fires once, and a cancel in between wins. On start the
daemon arms the timers of every waiting session; one whose time passed while
it was down fires at once and says how late it was.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from agentctl import ids
from agentctl.protocol import (
    EventData,
    SessionStatus,
    SessionStatusChanged,
    TimerFired,
    TimerSet,
    ToolFinished,
    ToolProposed,
    ToolStarted,
)
from agentctl.state import ToolCallState
from agentctl.triggers.clock import Handle

if TYPE_CHECKING:
    from agentctl.runtime.host import Host
    from agentctl.tools import WaitArgs

log = logging.getLogger(__name__)

LATE_S = 1.0  # fired later than this after its time: the reason says so


def _stamp(when: datetime) -> str:
    return f"{when:%Y-%m-%d %H:%M:%S}Z"


def late_note(late_s: float) -> str:
    if late_s <= LATE_S:
        return ""
    return f" (fired {late_s:.0f}s late: the daemon was not running at that time)"


class Timers:
    def __init__(self, runtime: Host) -> None:
        self.rt = runtime
        self._handles: dict[str, Handle] = {}

    # -- setting -------------------------------------------------------------------

    def start_items(self, start_at: datetime | None) -> list[EventData]:
        """The first status of a new session: `running`, or waiting for its start time."""
        if start_at is None or start_at <= self.rt.clock.now():
            running = SessionStatusChanged(status=SessionStatus.RUNNING, reason="created")
            return [running]
        timer = TimerSet(timer_id=ids.ulid(), due_at=start_at, purpose="start")
        waiting = SessionStatusChanged(
            status=SessionStatus.WAITING,
            reason=f"scheduled: starts at {_stamp(start_at)}",
            timer=timer.timer_id,
        )
        return [timer, waiting]

    async def begin_wait(
        self, sid: str, call: ToolCallState, args: WaitArgs, proposed: ToolProposed | None
    ) -> None:
        """The `wait` tool: record the call and its timer, wait holding nothing."""
        now = self.rt.clock.now()
        due = args.due_at(now)
        started = ToolStarted(
            call_id=call.call_id,
            name=call.name,
            args=args.model_dump(exclude_none=True),
            idempotency_key=f"{sid}:{call.call_id}:{call.started_count + 1}",
            idempotent=True,
        )
        timer = TimerSet(timer_id=ids.ulid(), due_at=due, purpose="wait", call_id=call.call_id)
        waiting = SessionStatusChanged(
            status=SessionStatus.WAITING, reason=f"wait: until {_stamp(due)}", timer=timer.timer_id
        )
        items: list[EventData] = [proposed] if proposed else []
        items += [started, timer, waiting]
        async with self.rt.journal.lock(sid):
            await self.rt.journal.append(sid, items)
        self.arm(sid)
        await self.rt.sandboxes.pause(sid)

    # -- arming and firing ------------------------------------------------------------

    def arm(self, sid: str) -> None:
        """Arm the timer the session waits for, if any (at start, and after setting one)."""
        state = self.rt.journal.state(sid)
        timer = state.timers.get(state.timer_hold or "")
        if timer is None or state.status is not SessionStatus.WAITING:
            return
        old = self._handles.pop(timer.timer_id, None)
        if old is not None:
            old.cancel()
        self._handles[timer.timer_id] = self.rt.clock.call_at(
            timer.due_at, lambda: self._spawn_fire(sid, timer.timer_id)
        )

    def _spawn_fire(self, sid: str, timer_id: str) -> None:
        self._handles.pop(timer_id, None)
        if not self.rt.stopping:
            self.rt.background(self.fire(sid, timer_id), f"timer:{timer_id}")

    async def fire(self, sid: str, timer_id: str) -> bool:
        """Fire a timer once; False when the session no longer waits for it."""
        async with self.rt.journal.lock(sid):
            state = self.rt.journal.state(sid)
            timer = state.timers.get(timer_id)
            if (
                timer is None
                or state.timer_hold != timer_id
                or state.status is not SessionStatus.WAITING
            ):
                return False
            late_s = max(0.0, (self.rt.clock.now() - timer.due_at).total_seconds())
            note = late_note(late_s)
            items: list[EventData] = [
                TimerFired(timer_id=timer_id, due_at=timer.due_at, late_s=round(late_s, 3))
            ]
            if timer.purpose == "wait" and timer.call_id is not None:
                output = f"waited until {_stamp(timer.due_at)}{note}"
                items.append(ToolFinished(call_id=timer.call_id, exit_code=0, output=output))
                reason = f"wait over{note}"
            else:
                reason = f"scheduled start at {_stamp(timer.due_at)}{note}"
            items.append(SessionStatusChanged(status=SessionStatus.RUNNING, reason=reason))
            await self.rt.journal.append(sid, items)
        if note:
            log.info("timer %s of %s%s", timer_id, sid, note)
        self.rt.spawn(sid)
        return True

    def cancel_all(self) -> None:
        for handle in self._handles.values():
            handle.cancel()
        self._handles.clear()

    def due(self) -> dict[str, datetime]:
        """session -> due time of the timer it waits for (status views, tests)."""
        out = {}
        for sid, state in self.rt.journal.states.items():
            timer = state.timers.get(state.timer_hold or "")
            if timer is not None and state.status is SessionStatus.WAITING:
                out[sid] = timer.due_at
        return out


__all__ = ["Timers", "late_note"]
