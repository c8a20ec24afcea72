"""The clock every timer, schedule and approval deadline reads.

`SystemClock` is the real one; `ManualClock` is the one tests drive, so no
test sleeps to see a timer fire. A handle of the system clock re-arms itself
at most a minute at a time, so a long timer follows the wall clock (a
suspended laptop, a changed time) rather than the event loop's monotonic one.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol

MAX_SLEEP_S = 60.0


class Handle(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    def now(self) -> datetime: ...

    def call_at(self, when: datetime, callback: Callable[[], None]) -> Handle:
        """Call `callback` on the running loop once `now() >= when`."""
        ...


class _SystemHandle:
    def __init__(self, clock: SystemClock, when: datetime, callback: Callable[[], None]) -> None:
        self._clock = clock
        self._when = when
        self._callback = callback
        self._cancelled = False
        self._timer: asyncio.TimerHandle | None = None
        self._arm()

    def _arm(self) -> None:
        delay = (self._when - self._clock.now()).total_seconds()
        loop = asyncio.get_running_loop()
        if delay <= 0:
            self._timer = loop.call_soon(self._fire)  # type: ignore[assignment]
        else:
            self._timer = loop.call_later(min(delay, MAX_SLEEP_S), self._fire)

    def _fire(self) -> None:
        if self._cancelled:
            return
        if self._clock.now() < self._when:
            self._arm()
            return
        self._callback()

    def cancel(self) -> None:
        self._cancelled = True
        if self._timer is not None:
            self._timer.cancel()


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def call_at(self, when: datetime, callback: Callable[[], None]) -> Handle:
        return _SystemHandle(self, when, callback)


class SkewedClock(SystemClock):
    """The system clock moved by a fixed offset: a daemon test "starts an hour later"."""

    def __init__(self, offset_s: float) -> None:
        self.offset = timedelta(seconds=offset_s)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


SKEW_ENV = "AGENTCTL_CLOCK_SKEW_S"  # tests only: the daemon's clock runs this far ahead


def clock_from_env() -> Clock:
    import os

    raw = os.environ.get(SKEW_ENV)
    return SkewedClock(float(raw)) if raw else SystemClock()


class _ManualHandle:
    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class ManualClock:
    """A clock that moves only when told: `await clock.advance(...)` fires what fell due."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
        self._due: list[tuple[datetime, int, _ManualHandle, Callable[[], None]]] = []
        self._order = itertools.count()

    def now(self) -> datetime:
        return self._now

    def call_at(self, when: datetime, callback: Callable[[], None]) -> Handle:
        handle = _ManualHandle()
        heapq.heappush(self._due, (when, next(self._order), handle, callback))
        if when <= self._now:
            asyncio.get_running_loop().call_soon(self._run_due)
        return handle

    def _run_due(self) -> None:
        while self._due and self._due[0][0] <= self._now:
            _, _, handle, callback = heapq.heappop(self._due)
            if not handle.cancelled:
                callback()

    async def advance(self, by: timedelta | float = 0.0) -> None:
        """Move the time forward and run every callback that fell due, in order."""
        step = by if isinstance(by, timedelta) else timedelta(seconds=by)
        self._now += step
        self._run_due()
        for _ in range(5):  # let the tasks the callbacks made take their first steps
            await asyncio.sleep(0)

    def set(self, when: datetime) -> None:
        self._now = when

    @property
    def pending(self) -> int:
        return sum(1 for _, _, handle, _ in self._due if not handle.cancelled)


async def sleep(clock: Clock, seconds: float) -> None:
    """Sleep by `clock` (a test's clock moves only when it is told to)."""
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def wake() -> None:
        if not future.done():
            future.set_result(None)

    handle = clock.call_at(clock.now() + timedelta(seconds=seconds), wake)
    try:
        await future
    finally:
        handle.cancel()


def parse_when(text: str, now: datetime) -> datetime:
    """`+30m`, `+1h30m`, `+90s`, or an ISO 8601 time (naive means UTC)."""
    from agentctl.durations import parse_seconds as parse_duration

    text = text.strip()
    if text.startswith("+"):
        return now + timedelta(seconds=parse_duration(text[1:]))
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{text!r} is neither an ISO time (2026-12-01T09:00:00Z) nor +DURATION (+30m)"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


__all__ = [
    "Clock",
    "Handle",
    "ManualClock",
    "SkewedClock",
    "SystemClock",
    "clock_from_env",
    "parse_when",
    "sleep",
]
