"""Attach and backfill: stored events after a cursor, then live ones (docs/design.md §7).

The order of operations is what makes the stream exact:

1. register a live subscription on the store first, buffering what it pushes;
2. read the backlog from the store after the cursor, in batches;
3. then hand out the buffered live events, dropping any at or before the last
   position sent.

An event committed before step 1 is in the backlog; one committed after it is
in the buffer (and maybe also in the backlog, hence the drop): no gap, no
duplicate.

The store calls subscribers on its writer thread, so the subscription only
does `call_soon_threadsafe`; filtering and buffering happen on the event loop.
A client that stops reading must neither block the writer nor grow memory
without bound: its buffer holds at most `capacity` events, and on overflow it
is emptied and marked, and the stream goes back to reading the store from the
client's position (steps 1-3 again, the subscription being already in place).
A slow client so gets everything, in order, at the cost of re-reads.

Positions are a session's `seq` when the cursor names a session, else the
global `offset`. Serialisation to NDJSON is done here too, with `json.dumps`
straight from `StoredEvent`: building a pydantic model per event would cost
more than the read itself on a 10,000-event backfill.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import AsyncGenerator, Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from agentctl.protocol import LIVE_DELTA, PROTOCOL_VERSION, Cursor

if TYPE_CHECKING:
    from store import EventStore, StoredEvent

log = logging.getLogger(__name__)

READ_BATCH = 1000
BUFFER_CAPACITY = 4096


class _LiveBuffer:
    """What the subscription pushed and the client has not been sent yet, bounded."""

    def __init__(self, loop: asyncio.AbstractEventLoop, cursor: Cursor, capacity: int) -> None:
        self._loop = loop
        self._cursor = cursor
        self._capacity = capacity
        self.events: deque[StoredEvent] = deque()
        self.overflowed = False
        self.wake = asyncio.Event()

    def push_threadsafe(self, batch: Sequence[StoredEvent]) -> None:
        """The subscription callback: runs on the store's writer thread, so it only hands over."""
        with contextlib.suppress(RuntimeError):  # the loop is closing: the stream is over anyway
            self._loop.call_soon_threadsafe(self._push, batch)

    def _push(self, batch: Sequence[StoredEvent]) -> None:
        if self.overflowed:
            return  # the stream will re-read the store; nothing to keep until then
        matching = [event for event in batch if self._cursor.holds(event.stream)]
        if not matching:
            return
        if len(self.events) + len(matching) > self._capacity:
            self.events.clear()
            self.overflowed = True
        else:
            self.events.extend(matching)
        self.wake.set()

    def take(self) -> list[StoredEvent]:
        taken = list(self.events)
        self.events.clear()
        self.wake.clear()
        return taken

    def reset(self) -> None:
        """Start buffering again; the caller re-reads the store right after."""
        self.events.clear()
        self.overflowed = False
        self.wake.clear()


async def _read_after(
    store: EventStore, cursor: Cursor, position: int, batch: int
) -> list[StoredEvent]:
    if cursor.session is not None:
        events = await asyncio.to_thread(store.read_stream, cursor.session, position, batch)
    else:
        events = await asyncio.to_thread(store.read_all, position, batch)
    return list(events)


async def stream_events(
    store: EventStore,
    cursor: Cursor,
    *,
    follow: bool,
    stop: asyncio.Event | None = None,
    capacity: int = BUFFER_CAPACITY,
    batch: int = READ_BATCH,
) -> AsyncGenerator[list[StoredEvent], None]:
    """Yield the events after `cursor` in batches, in order; with `follow`, live ones as well.

    Without `follow` it ends once the backlog is sent. With it, it ends when
    `stop` is set (the daemon shuts down) or when the consumer stops iterating.
    """
    buffer: _LiveBuffer | None = None
    subscription = None
    if follow:
        buffer = _LiveBuffer(asyncio.get_running_loop(), cursor, capacity)
        subscription = store.subscribe(buffer.push_threadsafe)  # before the backlog: §7
    position = cursor.after
    try:
        while True:
            # The backlog (or, after an overflow, the catch-up) from the store.
            # The next batch is read while the current one is being sent.
            pending = asyncio.ensure_future(_read_after(store, cursor, position, batch))
            try:
                while True:
                    events = await pending
                    if len(events) == batch:
                        after = cursor.position(events[-1])
                        pending = asyncio.ensure_future(_read_after(store, cursor, after, batch))
                    if events:
                        position = cursor.position(events[-1])
                        yield events
                    if len(events) < batch:
                        break
            finally:
                pending.cancel()
            if buffer is None:
                return
            # Live events, until the buffer overflows (then back to the store).
            while not buffer.overflowed:
                if stop is not None and stop.is_set():
                    return
                fresh = [e for e in buffer.take() if cursor.position(e) > position]
                if fresh:
                    position = cursor.position(fresh[-1])
                    yield fresh
                    continue
                await _wait(buffer.wake, stop)
            log.debug(
                "stream %s: live buffer overflowed at %d; re-reading the store", cursor, position
            )
            buffer.reset()
    finally:
        if subscription is not None:
            subscription.close()


async def _wait(wake: asyncio.Event, stop: asyncio.Event | None) -> None:
    if stop is None:
        await wake.wait()
        return
    waiters = [asyncio.ensure_future(wake.wait()), asyncio.ensure_future(stop.wait())]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


# --- live deltas ----------------------------------------------------------------

LIVE_LIMIT = 1024  # deltas held for a client that does not read; past it, deltas are dropped


def with_live(
    batches: AsyncGenerator[bytes, None],
    subscribe: Callable[[Callable[[int, dict[str, object]], None]], Callable[[], None]],
    session_id: str,
) -> AsyncGenerator[bytes, None]:
    """`batches` (NDJSON of stored events) with the session's live deltas merged in.

    The subscription is made now, not when the body starts to be sent: a
    session created by the same request may start streaming at once.
    Deltas are ephemeral: one a slow client cannot take is dropped (the
    `model.responded` that follows has the whole text), so they never hold
    the writer or grow memory. Stored events keep their own bounded path.
    """
    deltas: deque[bytes] = deque()
    wake = asyncio.Event()

    def on_delta(seq: int, data: dict[str, object]) -> None:
        if len(deltas) < LIVE_LIMIT:
            deltas.append(live_line(session_id, seq, data))
            wake.set()

    unsubscribe = subscribe(on_delta)
    return _merged(batches, deltas, wake, unsubscribe)


async def _merged(
    batches: AsyncGenerator[bytes, None],
    deltas: deque[bytes],
    wake: asyncio.Event,
    unsubscribe: Callable[[], None],
) -> AsyncGenerator[bytes, None]:
    pending: asyncio.Future[bytes] | None = None
    try:
        while True:
            if deltas:
                chunk = b"".join(deltas)
                deltas.clear()
                yield chunk
                continue
            if pending is None:
                pending = asyncio.ensure_future(anext(batches))
            wake.clear()
            waiter = asyncio.ensure_future(wake.wait())
            try:
                await asyncio.wait(
                    [pending, waiter],  # type: ignore[type-var]
                    return_when=asyncio.FIRST_COMPLETED,
                )
            finally:
                waiter.cancel()
            if pending.done():
                try:
                    chunk = pending.result()
                except StopAsyncIteration:
                    return
                finally:
                    pending = None
                if deltas:  # what was published before this batch was read goes first
                    chunk = b"".join(deltas) + chunk
                    deltas.clear()
                yield chunk
    finally:
        unsubscribe()
        if pending is not None:
            pending.cancel()
            with contextlib.suppress(BaseException):
                await pending
        await batches.aclose()


def live_line(session_id: str, seq: int, data: dict[str, object]) -> bytes:
    now = format_ts(datetime.now(UTC))
    return (
        f'{{"v":{PROTOCOL_VERSION},"session":{_dumps(session_id)},"seq":{seq},"offset":0,'
        f'"ts":"{now}","type":"{LIVE_DELTA}","data":{_dumps(data)}}}\n'
    ).encode()


# --- NDJSON -----------------------------------------------------------------------


def format_ts(ts: datetime) -> str:
    """An envelope timestamp: UTC, microseconds, `Z` (docs/design.md §3)."""
    if ts.tzinfo is None:  # the store's times are UTC
        return ts.isoformat(timespec="microseconds") + "Z"
    if ts.utcoffset():
        ts = ts.astimezone(UTC)
    # isoformat is C code; strftime costs twice as much per event. It ends in "+00:00".
    return ts.isoformat(timespec="microseconds")[:-6] + "Z"


def envelope_dict(event: StoredEvent) -> dict[str, object]:
    return {
        "v": PROTOCOL_VERSION,
        "session": event.stream,
        "seq": event.seq,
        "offset": event.offset,
        "ts": format_ts(event.ts),
        "type": event.type,
        "data": event.data,
    }


_dumps: Callable[[object], str] = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def ndjson(events: Sequence[StoredEvent]) -> bytes:
    """The events as NDJSON envelopes (the keys of `envelope_dict`), one per line, as one chunk."""
    # Formatted by hand around one json.dumps of `data`: building a dict per
    # event and encoding it whole costs a third more on a 10,000-event backfill.
    dumps = _dumps
    return "".join(
        [
            f'{{"v":{PROTOCOL_VERSION},"session":{dumps(e.stream)},"seq":{e.seq},'
            f'"offset":{e.offset},"ts":"{format_ts(e.ts)}","type":{dumps(e.type)},'
            f'"data":{dumps(e.data)}}}\n'
            for e in events
        ]
    ).encode()
