"""The single writer that every backend shares: a queue, a thread, group commit.

Appends are checked and encoded in the caller's thread, then queued. One
writer thread drains the queue, checks each append's `expected_seq` against
the stream heads it keeps in memory, assigns seqs and offsets, and hands the
whole drained batch to the backend to commit in one transaction. Only then
does it resolve the appends' futures and call the subscribers. Many appenders
waiting at once thus share one commit (one fsync), which is where the
throughput comes from; a lone appender pays one commit and two thread hops.

Each append is judged alone: a conflicting one fails with `ConflictError`
while the rest of its batch goes on. If the commit fails, every append of the
batch fails and the heads stay as they were: the batch's tentative heads live
in a dict of their own that is only merged once the commit is done.

A deferred append (`defer=True`) is one nobody waits on yet: the writer holds
it, without a commit, until an append that is not deferred arrives, `flush()`
is called, the held events reach `max_batch`, or `max_defer_s` has passed
since the first of them; then all go in one commit. A caller that pipelines
(append, append, ..., then wait for the last) thus pays one commit where each
append alone would have cost one. Nothing held is visible to readers or
subscribers before its commit.

The backend sees `commit(rows)` with rows in offset order; it must make them
durable all or nothing, or raise.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from abc import abstractmethod
from collections.abc import Collection, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from store.base import Callback, EventStore, Subscribers, Subscription
from store.codec import EncodedEvent, check_stream, encode_append, encode_snapshot
from store.events import (
    ConflictError,
    InvalidArgumentError,
    LeaseLostError,
    NewEvent,
    StoreClosedError,
    StoredEvent,
    StoreError,
)

log = logging.getLogger("store")


@dataclass(slots=True)
class _Append:
    stream: str
    expected_seq: int
    events: list[EncodedEvent]
    future: Future[list[StoredEvent]]
    snapshot: str | None = None  # JSON text
    defer: bool = False
    lease: str | None = None  # the worker that must hold the stream's lease


@dataclass(slots=True)
class _Flush:
    future: Future[None]


@dataclass(slots=True)
class _Wake:
    """Another process committed up to `upto`: deliver it to the subscribers (see `_caught_up`)."""

    upto: int


@dataclass(slots=True)
class _PutSnapshot:
    stream: str
    seq: int
    json: str
    future: Future[None]


@dataclass(frozen=True, slots=True)
class Row:
    """One event of a batch to commit, with its data already as JSON text."""

    event: StoredEvent
    json: str


@dataclass(frozen=True, slots=True)
class SnapshotRow:
    """A stream's snapshot to write with a batch: at `seq`, as JSON text."""

    stream: str
    seq: int
    json: str


@dataclass(slots=True)
class Span:
    """Where a stream lies in the log: the offsets of its first and last events."""

    first: int
    last: int


_Item = _Append | _PutSnapshot | _Flush | _Wake


@dataclass(slots=True)
class _Held:
    """The writer's deferred appends: held until something urgent or the deadline."""

    items: list[_Append | _PutSnapshot] = field(default_factory=list)
    size: int = 0  # events held (a snapshot counts one)
    deadline: float = 0.0  # when the oldest held append has waited long enough

    def hold(self, item: _Append | _PutSnapshot, max_defer_s: float) -> bool:
        """Hold `item`; whether it must be written now (anything but a deferred append)."""
        if not self.items:
            self.deadline = time.monotonic() + max_defer_s
        self.items.append(item)
        self.size += len(item.events) if isinstance(item, _Append) else 1
        return not (isinstance(item, _Append) and item.defer)

    def take(self) -> list[_Append | _PutSnapshot]:
        items, self.items, self.size = self.items, [], 0
        return items


class _Staged:
    """One batch as the writer checks it: what is accepted, its rows, the tentative heads."""

    def __init__(
        self,
        heads: Mapping[str, int],
        offset: int,
        now: datetime,
        leases: Collection[tuple[str, str]] = (),
    ) -> None:
        self.heads = heads  # the committed heads, read only
        self.leases = leases  # (stream, worker) of the leases held, as the transaction saw them
        self.offset = offset
        self.now = now
        self.tentative: dict[str, int] = {}
        self.accepted: list[tuple[_Append | _PutSnapshot, list[StoredEvent]]] = []
        self.rows: list[Row] = []
        self.snapshots: dict[str, SnapshotRow] = {}  # the last one of each stream wins

    def add(self, append: _Append | _PutSnapshot) -> None:
        head = self.tentative.get(append.stream)
        if head is None:
            head = self.heads.get(append.stream, 0)
        if isinstance(append, _PutSnapshot):
            if append.seq != head or head == 0:
                append.future.set_exception(ConflictError(append.stream, append.seq + 1, head + 1))
                return
            self.snapshots[append.stream] = SnapshotRow(append.stream, append.seq, append.json)
            self.accepted.append((append, []))
            return
        if append.expected_seq != head + 1:
            append.future.set_exception(ConflictError(append.stream, append.expected_seq, head + 1))
            return
        if append.lease is not None and (append.stream, append.lease) not in self.leases:
            append.future.set_exception(LeaseLostError(append.stream, append.lease))
            return
        stored = []
        for seq, encoded in enumerate(append.events, head + 1):
            self.offset += 1
            event = StoredEvent(
                append.stream, seq, self.offset, encoded.ts or self.now, encoded.type, encoded.data
            )
            stored.append(event)
            self.rows.append(Row(event, encoded.json))
        self.tentative[append.stream] = head + len(stored)
        if append.snapshot is not None:
            self.snapshots[append.stream] = SnapshotRow(
                append.stream, self.tentative[append.stream], append.snapshot
            )
        self.accepted.append((append, stored))


class GroupCommitStore(EventStore):
    """An `EventStore` whose appends go through one writer thread, batch by batch."""

    checks_leases = False  # whether appends may name a lease (`append_future(lease=...)`)

    def __init__(self, *, max_event_bytes: int, max_batch: int, max_defer_s: float = 0.005) -> None:
        if max_event_bytes < 1 or max_batch < 1:
            raise ValueError("max_event_bytes and max_batch must be >= 1")
        if max_defer_s < 0:
            raise ValueError("max_defer_s must be >= 0")
        self.max_event_bytes = max_event_bytes
        self.max_batch = max_batch
        self.max_defer_s = max_defer_s
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._subscribers = Subscribers()
        # Guards the committed heads, the last offset and the closed flag. The
        # writer is their only mutator; readers of `last_seq` & co take it.
        self._state = threading.Lock()
        self._heads: dict[str, int] = {}
        self._spans: dict[str, Span] = {}
        self._last_offset = 0
        self._closed = False
        self._close_lock = threading.Lock()
        self._writer: threading.Thread | None = None

    # -- backend hooks ---------------------------------------------------

    @abstractmethod
    def _commit(self, rows: Sequence[Row], snapshots: Sequence[SnapshotRow] = ()) -> None:
        """Make `rows` and `snapshots` durable, all or nothing, or raise."""

    @abstractmethod
    def _close_backend(self) -> None:
        """Release the backend once the writer has stopped."""

    def _caught_up(self, upto: int) -> None:
        """On the writer thread: deliver what other processes committed up to offset `upto`.

        Only a backend that several processes write (PostgreSQL) queues wakes
        (`_wake`); the default has nothing to do.
        """

    def _wake(self, upto: int) -> None:
        """Ask the writer thread to deliver other processes' commits up to `upto` (any thread)."""
        with self._state:
            if not self._closed:
                self._queue.put(_Wake(upto))

    def _start_writer(
        self,
        heads: dict[str, int],
        last_offset: int,
        name: str,
        spans: dict[str, Span] | None = None,
    ) -> None:
        """Start the writer from the committed state; `heads` in order of first appearance."""
        self._heads = dict(heads)
        self._spans = dict(spans or {})
        self._last_offset = last_offset
        self._writer = threading.Thread(target=self._run, name=name, daemon=True)
        self._writer.start()

    # -- the public interface --------------------------------------------

    def append(
        self,
        stream: str,
        events: Sequence[NewEvent],
        expected_seq: int,
        *,
        snapshot: Mapping[str, Any] | None = None,
    ) -> list[StoredEvent]:
        if self._writer is threading.current_thread():
            # The writer would wait for itself: a subscriber must not block on an append.
            raise StoreError(
                "append() from a subscriber callback would deadlock: use append_future"
            )
        return self.append_future(stream, events, expected_seq, snapshot=snapshot).result()

    def append_future(
        self,
        stream: str,
        events: Sequence[NewEvent],
        expected_seq: int,
        *,
        snapshot: Mapping[str, Any] | None = None,
        defer: bool = False,
        lease: str | None = None,
    ) -> Future[list[StoredEvent]]:
        if lease is not None and not self.checks_leases:
            raise InvalidArgumentError(f"{type(self).__name__} has no leases to check an append by")
        encoded = encode_append(stream, events, expected_seq, self.max_event_bytes)
        text = None if snapshot is None else encode_snapshot(snapshot, self.max_event_bytes)
        future: Future[list[StoredEvent]] = Future()
        self._put(_Append(stream, expected_seq, encoded, future, text, defer, lease))
        return future

    def flush(self) -> Future[None]:
        """Commit the deferred appends now; resolves once everything queued before it is written."""
        future: Future[None] = Future()
        self._put(_Flush(future))
        return future

    def put_snapshot(self, stream: str, seq: int, data: Mapping[str, Any]) -> Future[None]:
        check_stream(stream)
        text = encode_snapshot(data, self.max_event_bytes)
        future: Future[None] = Future()
        self._put(_PutSnapshot(stream, seq, text, future))
        return future

    def _put(self, item: _Item) -> None:
        with self._state:
            # Under the lock, so that `close` queues its stop marker after
            # every append it accepted: closing drains them all.
            if self._closed:
                raise StoreClosedError("the event store is closed")
            self._queue.put(item)

    def _span(self, stream: str) -> Span | None:
        """The stream's committed span (a copy), None for a stream without events."""
        with self._state:
            self._check_open()
            span = self._spans.get(stream)
            return None if span is None else Span(span.first, span.last)

    def last_seq(self, stream: str) -> int:
        with self._state:
            self._check_open()
            return self._heads.get(stream, 0)

    def last_offset(self) -> int:
        with self._state:
            self._check_open()
            return self._last_offset

    def streams(self) -> list[str]:
        with self._state:
            self._check_open()
            return list(self._heads)

    def subscribe(self, callback: Callback) -> Subscription:
        self._check_open()
        return self._subscribers.add(callback)

    def close(self) -> None:
        with self._close_lock:
            if self._writer is threading.current_thread():
                raise StoreError("close() called from a subscriber callback (the writer thread)")
            with self._state:
                if self._closed:
                    return
                self._closed = True
                self._queue.put(None)
            if self._writer is not None:
                self._writer.join()
            self._subscribers.clear()
            self._close_backend()

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosedError("the event store is closed")

    # -- the writer thread -----------------------------------------------

    def _run(self) -> None:
        held = _Held()  # deferred appends, not yet committed
        stopping = False
        while not stopping:
            flushes: list[_Flush] = []
            wakes: list[_Wake] = []
            try:
                if held.items:
                    item = self._queue.get(timeout=max(0.0, held.deadline - time.monotonic()))
                else:
                    item = self._queue.get()
            except queue.Empty:
                urgent = True  # the oldest held append waited long enough
            else:
                urgent, stopping = self._drain(item, held, flushes, wakes)
            if wakes:
                try:
                    self._caught_up(max(wake.upto for wake in wakes))
                except Exception:
                    log.exception("event store writer failed to deliver other processes' events")
            if not urgent:
                continue
            batch = held.take()
            if batch:
                try:
                    self._write(batch)
                except Exception as exc:  # a bug here must not strand the waiting appends
                    log.exception("event store writer failed on a batch")
                    for append in batch:
                        if not append.future.done():
                            append.future.set_exception(
                                StoreError(f"the event store writer failed: {exc}")
                            )
            for flush in flushes:
                if flush.future.set_running_or_notify_cancel():
                    flush.future.set_result(None)

    def _drain(
        self, item: _Item | None, held: _Held, flushes: list[_Flush], wakes: list[_Wake]
    ) -> tuple[bool, bool]:
        """Take `item` and whatever else is queued already: (write now?, stop?)."""
        urgent = False
        while True:
            if item is None:
                return True, True
            if isinstance(item, _Wake):
                wakes.append(item)
            elif isinstance(item, _Flush):
                flushes.append(item)
                urgent = True
            elif held.hold(item, self.max_defer_s):
                urgent = True
            if held.size >= self.max_batch:
                return True, False
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return urgent, False

    def _write(self, batch: list[_Append | _PutSnapshot]) -> None:
        staged = _Staged(self._heads, self._last_offset, datetime.now(UTC))
        for append in batch:
            if append.future.set_running_or_notify_cancel():  # else cancelled: never written
                staged.add(append)
        if not staged.accepted:
            return
        rows = staged.rows
        try:
            self._commit(rows, list(staged.snapshots.values()))
        except Exception as exc:
            self._fail(staged, exc)
            return  # the tentative heads are dropped: the committed ones never moved
        with self._state:
            self._heads.update(staged.tentative)  # new streams join in order of first appearance
            self._last_offset = staged.offset
            for row in rows:
                span = self._spans.get(row.event.stream)
                if span is None:
                    self._spans[row.event.stream] = Span(row.event.offset, row.event.offset)
                else:
                    span.last = row.event.offset
        self._resolve(staged)
        if rows:
            self._subscribers.publish([row.event for row in rows])

    @staticmethod
    def _fail(staged: _Staged, exc: Exception) -> None:
        """Fail every accepted append of a batch whose commit failed."""
        rows = staged.rows
        log.error("event store commit of %d events failed: %s", len(rows), exc)
        for append, _ in staged.accepted:
            error = StoreError(f"the batch of {len(rows)} events was not committed: {exc}")
            error.__cause__ = exc
            append.future.set_exception(error)

    @staticmethod
    def _resolve(staged: _Staged) -> None:
        """Resolve the futures of a committed batch's appends."""
        for append, stored in staged.accepted:
            if isinstance(append, _PutSnapshot):
                append.future.set_result(None)
            else:
                append.future.set_result(stored)
