"""The reconnecting follow (the CLI's and the TUI's), against a scripted stream: backoff,
resume from the cursor, dedup, giving up."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import pytest

from agentctl.client.follow import Backoff, Link, follow, follow_sync
from agentctl.errors import DaemonError, NotFoundError
from agentctl.protocol import LIVE_DELTA, Cursor, Envelope


def event(seq: int) -> Envelope:
    return Envelope(
        session="ses_x",
        seq=seq,
        offset=seq + 100,
        ts=datetime(2026, 1, 1, tzinfo=UTC),
        type="message.user",
        data={},
    )


class Script:
    """Each connection serves the events after the cursor, up to a break point, then fails."""

    def __init__(self, total: int, breaks: list[int], resend: int = 0) -> None:
        self.total = total
        self.breaks = breaks
        self.resend = resend  # how many already-sent events a reconnect serves again
        self.opened: list[int] = []
        self.down = 0  # probes that fail before the daemon is back

    async def open(self, after: int) -> AsyncIterator[Envelope]:
        self.opened.append(after)
        stop = self.breaks.pop(0) if self.breaks else self.total
        for seq in range(max(1, after + 1 - self.resend), stop + 1):
            yield event(seq)
        if stop < self.total:
            raise DaemonError("the connection broke")
        raise NotFoundError("done")  # ends the test's follow

    async def probe(self) -> None:
        if self.down:
            self.down -= 1
            raise DaemonError("no daemon")


async def test_resumes_from_the_cursor_without_gap_or_duplicate() -> None:
    script = Script(total=10, breaks=[3, 7], resend=2)
    script.down = 2
    links: list[Link] = []
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    cursor = Cursor("ses_x")
    seen: list[int] = []
    with pytest.raises(NotFoundError):
        async for e in follow(
            script.open,
            cursor,
            probe=script.probe,
            on_link=lambda link, detail: links.append(link),
            backoff=Backoff(initial_s=1, factor=2, maximum_s=3),
            sleep=sleep,
        ):
            seen.append(e.seq)
    assert seen == list(range(1, 11))
    assert cursor.after == 10
    assert script.opened == [0, 3, 7]
    assert links == [Link.LOST, Link.RESTORED, Link.LOST, Link.RESTORED]
    assert sleeps == [1, 2, 3, 1]  # backoff grows while the probe fails, and resets after


async def test_a_stream_closed_by_the_daemon_is_reopened() -> None:
    calls: list[int] = []

    async def open_stream(after: int) -> AsyncIterator[Envelope]:
        calls.append(after)
        yield event(len(calls))  # the first connection is closed cleanly: the daemon stopping

    async def sleep(seconds: float) -> None:
        return None

    cursor = Cursor()
    seen = []
    async for e in follow(open_stream, cursor, sleep=sleep):  # all sessions: by offset
        seen.append(e.offset)
        if len(seen) == 2:
            break
    assert seen == [101, 102]
    assert calls == [0, 101]


# --- the synchronous twin (the CLI's): the same policy ---------------------------------


class SyncScript:
    def __init__(self, total: int, breaks: list[int], resend: int = 0) -> None:
        self.total, self.breaks, self.resend = total, breaks, resend
        self.opened: list[int] = []
        self.down = 0

    def open(self, after: int) -> Iterator[Envelope]:
        self.opened.append(after)
        stop = self.breaks.pop(0) if self.breaks else self.total
        for seq in range(max(1, after + 1 - self.resend), stop + 1):
            yield event(seq)
        if stop < self.total:
            raise DaemonError("the connection broke")
        raise NotFoundError("done")

    def probe(self) -> None:
        if self.down:
            self.down -= 1
            raise DaemonError("no daemon")


def test_the_sync_follow_resumes_from_the_cursor_with_the_same_backoff() -> None:
    script = SyncScript(total=10, breaks=[3, 7], resend=2)
    script.down = 2
    links: list[Link] = []
    waits: list[float] = []
    cursor = Cursor("ses_x")
    seen: list[int] = []
    with pytest.raises(NotFoundError):
        for e in follow_sync(
            script.open,
            cursor,
            probe=script.probe,
            on_link=lambda link, detail: links.append(link),
            backoff=Backoff(initial_s=1, factor=2, maximum_s=3),
            wait=waits.append,
        ):
            seen.append(e.seq)
    assert seen == list(range(1, 11))
    assert cursor.after == 10
    assert script.opened == [0, 3, 7]
    assert links == [Link.LOST, Link.RESTORED, Link.LOST, Link.RESTORED]
    assert waits == [1, 2, 3, 1]


def test_the_sync_follow_gives_up_after_max_attempts_with_the_daemons_error() -> None:
    opened: list[int] = []

    def open_stream(after: int) -> Iterator[Envelope]:
        opened.append(after)
        raise DaemonError("no agentctl daemon answers on /x.sock", hint="start one")
        yield  # a generator, as the client's streams are

    waits: list[float] = []
    with pytest.raises(DaemonError, match="no agentctl daemon answers") as caught:
        list(follow_sync(open_stream, Cursor("ses_x", 5), max_attempts=3, wait=waits.append))
    assert caught.value.hint == "start one"
    assert opened == [5, 5, 5, 5]  # the first try and three retries
    assert len(waits) == 3


def test_a_stream_that_keeps_closing_gives_up_in_words() -> None:
    def open_stream(after: int) -> Iterator[Envelope]:
        return iter(())

    with pytest.raises(DaemonError, match="keeps closing the stream"):
        list(follow_sync(open_stream, Cursor("ses_x"), max_attempts=2, wait=lambda s: None))


def test_live_deltas_pass_through_without_moving_the_cursor() -> None:
    delta = event(3).model_copy(update={"type": LIVE_DELTA, "offset": 0})
    streams = [[event(1), event(2), delta, event(2)], [event(3)]]

    def open_stream(after: int) -> Iterator[Envelope]:
        return iter(streams.pop(0))

    cursor = Cursor("ses_x")
    got = []
    for e in follow_sync(open_stream, cursor, wait=lambda s: None):
        got.append((e.type, e.seq))
        if len(got) == 4:
            break
    assert got == [("message.user", 1), ("message.user", 2), (LIVE_DELTA, 3), ("message.user", 3)]
    assert cursor.after == 3
