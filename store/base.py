"""The abstract event store and its subscriptions.

The interface follows the recorder of pyeventsourcing: append with an
expected position (optimistic concurrency), read a stream or everything after
a cursor, and one contract test suite that every backend passes. It is
synchronous on purpose: the asyncio daemon awaits `append_future` through
`asyncio.wrap_future`, and threads (the TUI's workers, tests) just call
`append`.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import Future
from types import TracebackType
from typing import Any, Self

from store.events import NewEvent, Snapshot, StoredEvent

log = logging.getLogger("store")

Callback = Callable[[list[StoredEvent]], None]


class Subscription:
    """A registered callback; `close()` stops deliveries (idempotent)."""

    def __init__(self, subscribers: Subscribers, callback: Callback) -> None:
        self._subscribers = subscribers
        self.callback = callback
        self.active = True

    def close(self) -> None:
        if self.active:
            self.active = False
            self._subscribers.remove(self)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Subscribers:
    """The callbacks of one store, called in registration order after each commit.

    `publish` is only ever called by the store's single writer thread, so every
    subscriber sees the batches in commit order. A callback that raises is
    logged and does not reach the writer; one that is slow delays every append,
    so callbacks should hand the batch over (to a queue, a loop) and return.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscriptions: tuple[Subscription, ...] = ()

    def add(self, callback: Callback) -> Subscription:
        subscription = Subscription(self, callback)
        with self._lock:
            self._subscriptions = (*self._subscriptions, subscription)
        return subscription

    def remove(self, subscription: Subscription) -> None:
        with self._lock:
            self._subscriptions = tuple(s for s in self._subscriptions if s is not subscription)

    def publish(self, events: list[StoredEvent]) -> None:
        # The tuple is replaced, never mutated: reading it needs no lock, and a
        # subscription added after this line (so after the commit) correctly
        # misses this batch, which its backlog read will return instead.
        for subscription in self._subscriptions:
            if not subscription.active:
                continue
            try:
                subscription.callback(events)
            except Exception:
                log.exception("event store subscriber %r failed", subscription.callback)

    def clear(self) -> None:
        with self._lock:
            for subscription in self._subscriptions:
                subscription.active = False
            self._subscriptions = ()


class EventStore(ABC):
    """An append-only log of events, ordered per stream (`seq`) and globally (`offset`)."""

    @abstractmethod
    def append(
        self,
        stream: str,
        events: Sequence[NewEvent],
        expected_seq: int,
        *,
        snapshot: Mapping[str, Any] | None = None,
    ) -> list[StoredEvent]:
        """Append `events` to `stream` and wait until they are durable.

        `expected_seq` is the seq the first new event must get (last seq + 1;
        1 for a new stream). On a mismatch nothing is written and
        `ConflictError` is raised. The events of one call land all or none.
        With `snapshot`, the stream's snapshot becomes it (at the seq of the
        last new event), in the same transaction.
        """

    @abstractmethod
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
        """Like `append`, without waiting. Invalid arguments raise at once.

        With `defer`, the store may hold the append for a few milliseconds to
        commit it with what comes next (see `flush`): for a caller that does
        not wait on it yet. With `lease` (a worker's id), the append is written
        only if that worker holds an unexpired lease on the stream, checked in
        the append's own transaction (else `LeaseLostError`); a store without
        leases refuses it (`InvalidArgumentError`).
        """

    @abstractmethod
    def flush(self) -> Future[None]:
        """Commit the deferred appends now; resolves once everything queued before it is written."""

    @abstractmethod
    def put_snapshot(self, stream: str, seq: int, data: Mapping[str, Any]) -> Future[None]:
        """Set the snapshot of `stream` at `seq`, which must be its last seq (else `ConflictError`)."""

    @abstractmethod
    def read_snapshots(
        self, *, only: Collection[str] | None = None, omit: Collection[str] = ()
    ) -> list[Snapshot]:
        """Every stream's snapshot, in the order of the streams' first appearance.

        `only` keeps just those top-level keys of each snapshot's data (one that
        has none of them is still listed, its data empty); `omit` leaves those
        keys out. Either way what the caller did not ask for is not kept: the
        data is narrowed row by row as it is read (PostgreSQL narrows it in
        the database). A key is a plain name (letters, digits, `_`, `-`);
        `only` and `omit` together are refused (`InvalidArgumentError`).
        """

    @abstractmethod
    def read_stream(
        self, stream: str, after: int = 0, limit: int | None = None
    ) -> list[StoredEvent]:
        """The events of `stream` with seq > `after`, ascending.

        Its cost is the stream's own size, not the log's.
        """

    @abstractmethod
    def read_all(self, after: int = 0, limit: int | None = None) -> list[StoredEvent]:
        """The events of every stream with offset > `after`, ascending."""

    @abstractmethod
    def last_seq(self, stream: str) -> int:
        """The seq of the stream's last event, 0 for a stream without events."""

    @abstractmethod
    def last_offset(self) -> int:
        """The offset of the last event, 0 for an empty store."""

    @abstractmethod
    def streams(self) -> list[str]:
        """Every stream id, in order of first appearance."""

    @abstractmethod
    def subscribe(self, callback: Callback) -> Subscription:
        """Call `callback` with the events of every batch committed after this returns.

        Batches arrive once each, in offset order, from the writer thread. To
        follow the log from a cursor without gap or duplicate, subscribe first,
        then read the backlog and drop what the subscription already delivered
        (see `store.follow`).
        """

    @abstractmethod
    def schema_version(self) -> int:
        """The highest schema migration applied to the store."""

    @abstractmethod
    def close(self) -> None:
        """Finish the pending appends, then release everything (idempotent)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
