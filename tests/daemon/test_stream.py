"""Backfill then live, against a real DuckDB store: no gap, no duplicate, bounded memory."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from agentctl.daemon.stream import format_ts, ndjson, stream_events
from agentctl.protocol import Cursor, Envelope
from store import DuckDBEventStore, NewEvent, StoredEvent, Subscription
from store.base import Callback


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DuckDBEventStore]:
    with DuckDBEventStore(tmp_path / "events.duckdb") as opened:
        yield opened


def append(store: DuckDBEventStore, stream: str, n: int) -> None:
    for _ in range(n):
        seq = store.last_seq(stream) + 1
        store.append(stream, [NewEvent("message.user", {"text": f"{stream}-{seq}"})], seq)


class CountingStore:
    """The real store, counting live subscriptions (to see them released)."""

    def __init__(self, inner: DuckDBEventStore) -> None:
        self.inner = inner
        self.open_subscriptions = 0
        self.subscribed = asyncio.Event()  # a stream subscribes on the loop's thread

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def subscribe(self, callback: Callback) -> Subscription:
        subscription = self.inner.subscribe(callback)
        self.open_subscriptions += 1
        self.subscribed.set()
        close = subscription.close

        def counted_close() -> None:
            if subscription.active:
                self.open_subscriptions -= 1
            close()

        subscription.close = counted_close  # type: ignore[method-assign]
        return subscription


@contextlib.asynccontextmanager
async def handed_over(store: DuckDBEventStore, stream: str, seq: int) -> AsyncIterator[None]:
    """On leaving: the subscribers that came before have been handed `stream`'s `seq`.

    The store calls its subscribers in the order they subscribed, on its writer
    thread, and a stream hands each batch to the loop with `call_soon_threadsafe`.
    So once a subscriber made after them sees `seq` and wakes the loop the same
    way, every earlier subscriber's hand-over of it ran first.
    """
    loop = asyncio.get_running_loop()
    seen = asyncio.Event()

    def watch(batch: list[StoredEvent]) -> None:
        if any(e.stream == stream and e.seq >= seq for e in batch):
            loop.call_soon_threadsafe(seen.set)

    subscription = store.subscribe(watch)
    try:
        yield
        await asyncio.wait_for(seen.wait(), 5)
    finally:
        subscription.close()


async def collect(
    source: object, cursor: Cursor, *, until: int, follow: bool = True, **kwargs: object
) -> list[StoredEvent]:
    seen: list[StoredEvent] = []
    async for batch in stream_events(source, cursor, follow=follow, **kwargs):  # type: ignore[arg-type]
        seen.extend(batch)
        if len(seen) >= until:
            break
    return seen


async def test_backlog_only_in_batches(store: DuckDBEventStore) -> None:
    append(store, "a", 25)
    append(store, "b", 5)
    batches = [b async for b in stream_events(store, Cursor("a", after=3), follow=False, batch=10)]
    assert [len(b) for b in batches] == [10, 10, 2]
    assert [e.seq for b in batches for e in b] == list(range(4, 26))
    assert all(e.stream == "a" for b in batches for e in b)


async def test_global_cursor_uses_offsets(store: DuckDBEventStore) -> None:
    append(store, "a", 3)
    append(store, "b", 3)
    seen = [e async for b in stream_events(store, Cursor(None, 2), follow=False) for e in b]
    assert [e.offset for e in seen] == [3, 4, 5, 6]
    assert [e.stream for e in seen] == ["a", "b", "b", "b"]


async def test_follow_backlog_then_live_without_gap_or_duplicate(store: DuckDBEventStore) -> None:
    append(store, "a", 50)
    done = threading.Event()

    def writer() -> None:
        append(store, "a", 200)  # races the backlog read
        append(store, "other", 20)
        done.set()

    thread = threading.Thread(target=writer)
    thread.start()
    seen = await collect(store, Cursor("a", after=10), until=240)
    thread.join()
    assert [e.seq for e in seen] == list(range(11, 251))


async def test_follow_all_streams_by_offset(store: DuckDBEventStore) -> None:
    append(store, "a", 10)

    def writer() -> None:
        for i in range(60):
            append(store, "abc"[i % 3], 1)

    thread = threading.Thread(target=writer)
    thread.start()
    seen = await collect(store, Cursor(None, after=0), until=70)
    thread.join()
    assert [e.offset for e in seen] == list(range(1, 71))


async def test_attach_at_random_moments_never_gaps(store: DuckDBEventStore) -> None:
    stop = threading.Event()

    def writer() -> None:
        while not stop.is_set():
            append(store, "a", 1)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        moments = random.Random(20261202)
        for _ in range(20):  # each attach a random number of appends after the last
            async with handed_over(store, "a", store.last_seq("a") + moments.randint(1, 20)):
                pass
            start = store.last_seq("a")
            seen = await collect(store, Cursor("a", after=start // 2), until=30)
            first = start // 2 + 1
            assert [e.seq for e in seen] == list(range(first, first + len(seen)))
    finally:
        stop.set()
        thread.join()


async def test_slow_reader_overflows_then_catches_up_from_the_store(
    store: DuckDBEventStore,
) -> None:
    counting = CountingStore(store)
    stream = stream_events(counting, Cursor("a"), follow=True, capacity=5, batch=7)  # type: ignore[arg-type]
    append(store, "a", 3)
    first = await anext(stream)
    assert [e.seq for e in first] == [1, 2, 3]
    # The consumer stops reading while 300 events are committed: the buffer
    # overflows (memory stays at `capacity`), the writer is never blocked.
    async with handed_over(store, "a", 303):  # the stream's buffer is handed all 300
        await asyncio.to_thread(append, store, "a", 300)
    rest: list[StoredEvent] = []
    while len(rest) < 300:
        rest.extend(await asyncio.wait_for(anext(stream), 5))
    assert [e.seq for e in rest] == list(range(4, 304))
    append(store, "a", 2)  # live again after the catch-up
    tail = await asyncio.wait_for(anext(stream), 5)
    assert [e.seq for e in tail] == [304, 305][: len(tail)]
    await stream.aclose()
    assert counting.open_subscriptions == 0


async def test_stop_ends_a_follow_and_releases_the_subscription(store: DuckDBEventStore) -> None:
    counting = CountingStore(store)
    append(store, "a", 2)
    stop = asyncio.Event()
    seen: list[int] = []

    async def consume() -> None:
        async for batch in stream_events(counting, Cursor("a"), follow=True, stop=stop):  # type: ignore[arg-type]
            seen.extend(e.seq for e in batch)

    task = asyncio.create_task(consume())
    await asyncio.wait_for(counting.subscribed.wait(), 5)
    assert counting.open_subscriptions == 1
    stop.set()
    await asyncio.wait_for(task, 2)
    assert seen == [1, 2]
    assert counting.open_subscriptions == 0


async def test_cancelled_consumer_releases_the_subscription(store: DuckDBEventStore) -> None:
    counting = CountingStore(store)

    async def consume() -> None:
        async for _ in stream_events(counting, Cursor("a"), follow=True):  # type: ignore[arg-type]
            pass

    task = asyncio.create_task(consume())
    await asyncio.wait_for(counting.subscribed.wait(), 5)
    assert counting.open_subscriptions == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert counting.open_subscriptions == 0


def test_ndjson_lines_are_protocol_envelopes(store: DuckDBEventStore) -> None:
    store.append("s1", [NewEvent("message.user", {"text": "héllo ✓"})], 1)
    [event] = store.read_stream("s1")
    lines = ndjson([event]).decode().splitlines()
    assert len(lines) == 1
    envelope = Envelope.model_validate_json(lines[0])
    assert (envelope.session, envelope.seq, envelope.offset, envelope.type) == (
        "s1",
        1,
        event.offset,
        "message.user",
    )
    assert envelope.data == {"text": "héllo ✓"}
    assert envelope.ts == event.ts
    assert json.loads(lines[0])["ts"] == format_ts(event.ts)
    assert format_ts(event.ts).endswith("Z")
