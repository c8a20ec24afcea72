"""A follow of an NDJSON event stream that survives daemon restarts (the CLI's and the TUI's).

The daemon's streams are cursor-based (docs/design.md §7): after a cursor it sends the
backlog, then live events, with no gap and no duplicate. So reconnecting is
only a matter of keeping the cursor of the last event handed on and asking
again from it. `follow` (asyncio, the TUI) and `follow_sync` (the CLI) do that
with one policy, `Reconnect`: a dropped or closed stream (the daemon stopped,
crashed or restarted) is retried with exponential backoff, the daemon is
probed before each retry so the caller learns at once when it is back, and
anything at or before the cursor is dropped, so a consumer never sees an event
twice even if a server resent one. Live `model.delta` envelopes (never stored)
pass through without moving the cursor.

The waits between attempts go through the `sleep`/`wait` given (a test passes
one that records the delays and returns at once); nothing here sleeps a fixed time.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterable
from dataclasses import dataclass
from enum import StrEnum

from agentctl.errors import DaemonError
from agentctl.protocol import LIVE_DELTA, Cursor, Envelope


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


OnLink = Callable[[Link, str], None]
CLOSED = "the daemon closed the stream"


def _ignore(link: Link, detail: str) -> None:
    return None


class Reconnect:
    """The policy of a reconnecting follow, without I/O: which events go on, how long to
    wait after a loss, when to give up (after `max_attempts` losses in a row, if set)."""

    def __init__(
        self,
        cursor: Cursor,
        *,
        on_link: OnLink = _ignore,
        backoff: Backoff | None = None,
        max_attempts: int | None = None,
    ) -> None:
        self.cursor = cursor
        self.on_link = on_link
        self.backoff = backoff or Backoff()
        self.max_attempts = max_attempts
        self.lost = False
        self.attempt = 0

    def restored(self) -> None:
        if self.lost:
            self.lost, self.attempt = False, 0
            self.on_link(Link.RESTORED, f"resuming after {self.cursor.after}")

    def admit(self, event: Envelope) -> bool:
        """Whether `event` goes on to the consumer; moves the cursor past it."""
        self.restored()  # no probe, or the probe passed: an event says the daemon is back
        if event.type == LIVE_DELTA:  # live-only: it carries no new position
            return True
        return self.cursor.advance(event)

    def failed(self, error: DaemonError | None) -> float:
        """The stream broke (`error`) or was closed (None): the delay before the next try.
        Raises once `max_attempts` tries in a row have failed."""
        if self.max_attempts is not None and self.attempt >= self.max_attempts:
            raise error or DaemonError("the daemon keeps closing the stream")
        if not self.lost:
            self.lost = True
            self.on_link(Link.LOST, error.message if error else CLOSED)
        delay = self.backoff.delay(self.attempt)
        self.attempt += 1
        return delay


async def follow(
    open_stream: Callable[[int], AsyncIterator[Envelope]],
    cursor: Cursor,
    *,
    probe: Callable[[], Awaitable[object]] | None = None,
    on_link: OnLink = _ignore,
    backoff: Backoff | None = None,
    max_attempts: int | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> AsyncIterator[Envelope]:
    """Every event after `cursor`, across reconnects; `cursor` moves as they are yielded.

    Only an unreachable daemon is retried; other errors (an unknown session, a
    cursor beyond the end of the log) are the caller's to handle.
    """
    policy = Reconnect(cursor, on_link=on_link, backoff=backoff, max_attempts=max_attempts)
    while True:
        error: DaemonError | None = None
        try:
            if policy.lost and probe is not None:
                await probe()
                policy.restored()
            stream = open_stream(cursor.after)
            try:
                async for event in stream:
                    if policy.admit(event):
                        yield event
            finally:  # close the connection now, also when the consumer stops early
                close = getattr(stream, "aclose", None)
                if close is not None:
                    await close()
        except DaemonError as exc:
            error = exc
        await sleep(policy.failed(error))


def _wait(seconds: float) -> None:
    threading.Event().wait(seconds)


def follow_sync(
    open_stream: Callable[[int], Iterable[Envelope]],
    cursor: Cursor,
    *,
    probe: Callable[[], object] | None = None,
    on_link: OnLink = _ignore,
    backoff: Backoff | None = None,
    max_attempts: int | None = None,
    wait: Callable[[float], None] = _wait,
) -> Generator[Envelope, None, None]:
    """`follow` for a synchronous client (the CLI): the same policy, blocking waits."""
    policy = Reconnect(cursor, on_link=on_link, backoff=backoff, max_attempts=max_attempts)
    while True:
        error: DaemonError | None = None
        try:
            if policy.lost and probe is not None:
                probe()
                policy.restored()
            stream = open_stream(cursor.after)
            try:
                for event in stream:
                    if policy.admit(event):
                        yield event
            finally:
                close = getattr(stream, "close", None)
                if close is not None:
                    close()
        except DaemonError as exc:
            error = exc
        wait(policy.failed(error))
