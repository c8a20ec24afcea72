"""A follow of an NDJSON event stream that survives daemon restarts.

The daemon's streams are cursor-based (docs/design.md §7): after a cursor it sends the
backlog, then live events, with no gap and no duplicate. So reconnecting is
only a matter of keeping the cursor of the last event handed on and asking
again from it. `follow` does that: a dropped or closed stream (the daemon
stopped, crashed or restarted) is retried with exponential backoff, the
daemon is probed before each retry so the caller learns at once when it is
back, and anything at or before the cursor is dropped, so a consumer never
sees an event twice even if a server resent one. Live `model.delta`
envelopes (never stored) pass through without moving the cursor.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum

from agentctl.errors import DaemonError
from agentctl.protocol import LIVE_DELTA, Envelope


class Link(StrEnum):
    LOST = "lost"  # the stream broke; retrying
    RESTORED = "restored"  # the daemon answers again; resuming from the cursor


@dataclass
class Backoff:
    initial_s: float = 0.2
    factor: float = 2.0
    maximum_s: float = 2.0

    def delay(self, attempt: int) -> float:
        return float(min(self.maximum_s, self.initial_s * self.factor**attempt))


@dataclass
class Cursor:
    """Where a follow is: a session's last seq, or the last global offset."""

    value: int = 0


OpenStream = Callable[[int], AsyncIterator[Envelope]]
OnLink = Callable[[Link, str], None]
Probe = Callable[[], Awaitable[object]]
Sleep = Callable[[float], Awaitable[None]]


def by_seq(event: Envelope) -> int:
    return event.seq


def by_offset(event: Envelope) -> int:
    return event.offset


def _ignore(link: Link, detail: str) -> None:
    return None


async def follow(
    open_stream: OpenStream,
    cursor: Cursor,
    *,
    key: Callable[[Envelope], int] = by_seq,
    probe: Probe | None = None,
    on_link: OnLink = _ignore,
    backoff: Backoff | None = None,
    sleep: Sleep = asyncio.sleep,
) -> AsyncIterator[Envelope]:
    """Every event after `cursor`, forever, across reconnects; `cursor` moves as they are yielded.

    Only an unreachable daemon is retried; other errors (an unknown session, a
    cursor beyond the end of the log) are the caller's to handle.
    """
    backoff = backoff or Backoff()
    lost = False
    attempt = 0
    while True:
        try:
            if lost and probe is not None:
                await probe()
                lost, attempt = False, 0
                on_link(Link.RESTORED, f"resuming after {cursor.value}")
            stream = open_stream(cursor.value)
            try:
                async for event in stream:
                    if lost:  # no probe: the first event says the daemon is back
                        lost, attempt = False, 0
                        on_link(Link.RESTORED, f"resuming after {cursor.value}")
                    if event.type == LIVE_DELTA:  # live-only: it carries no new position
                        yield event
                        continue
                    position = key(event)
                    if position <= cursor.value:
                        continue
                    cursor.value = position
                    yield event
            finally:  # close the connection now, also when the consumer stops early
                close = getattr(stream, "aclose", None)
                if close is not None:
                    await close()
            detail = "the daemon closed the stream"
        except DaemonError as exc:
            detail = exc.message
        if not lost:
            lost = True
            on_link(Link.LOST, detail)
        await sleep(backoff.delay(attempt))
        attempt += 1
