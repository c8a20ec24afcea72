"""The records of the event store and its one exception family.

An event goes in as a `NewEvent` (what the caller means) and comes back as a
`StoredEvent` (what the log made of it: its stream, its per-stream `seq`, its
global `offset`, its UTC time). The store is generic: a stream is any
non-empty string, a type any non-empty string, data any JSON object.

Errors all derive from `StoreError` and read as one sentence a person can act
on; the runtime wraps them at its edge into its own family.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event to append. `data` must be JSON-serialisable; `ts` defaults to the append time."""

    type: str
    data: Mapping[str, Any]
    ts: datetime | None = None


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event as the log holds it.

    `data` is what JSON made of the appended mapping (tuples are lists, keys are
    strings). Treat it as read-only: the events an append returns are the same
    objects its subscribers receive.
    """

    stream: str
    seq: int
    offset: int
    ts: datetime
    type: str
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What the application made of a stream's prefix up to `seq` (a projection row).

    The store keeps at most one per stream, written in the same transaction as
    the append that carried it (or by `put_snapshot` at the stream's head), so a
    snapshot never describes events the log does not hold. A snapshot whose
    `seq` is below the stream's last seq is stale: the events after it were
    appended without one.
    """

    stream: str
    seq: int
    data: dict[str, Any]


class StoreError(Exception):
    """Base of every error raised by `store`."""


class InvalidArgumentError(StoreError, ValueError):
    """A call was malformed (empty batch, empty stream id, naive timestamp, negative limit...)."""


class ConflictError(StoreError):
    """The stream's next seq is not what the append expected; nothing was written."""

    def __init__(self, stream: str, expected_seq: int, actual_next_seq: int) -> None:
        super().__init__(
            f"conflict on stream {stream!r}: the append expected seq {expected_seq} "
            f"but the next seq is {actual_next_seq}"
        )
        self.stream = stream
        self.expected_seq = expected_seq
        self.actual_next_seq = actual_next_seq

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.stream, self.expected_seq, self.actual_next_seq))


class LeaseLostError(ConflictError):
    """A leased append's worker does not hold the stream's lease now; nothing was written.

    Another worker took the session over (or the lease expired): its seq may
    still be the next one, because this process folds the other's commits,
    so only the lease, checked in the append's transaction, can refuse it.
    """

    def __init__(self, stream: str, owner: str) -> None:
        StoreError.__init__(
            self, f"worker {owner!r} does not hold the lease on stream {stream!r} any more"
        )
        self.stream = stream
        self.owner = owner
        self.expected_seq = self.actual_next_seq = 0

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.stream, self.owner))


class EventTooLargeError(StoreError):
    """An event's serialised type and data exceed the store's limit; nothing was written."""

    def __init__(self, size: int, limit: int, *, event_type: str = "") -> None:
        what = f"event {event_type!r}" if event_type else "event"
        super().__init__(
            f"{what} is {size} bytes serialised, over the limit of {limit} bytes "
            "(keep large payloads in an artifact file and reference it)"
        )
        self.size = size
        self.limit = limit
        self.event_type = event_type

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_too_large, (self.size, self.limit, self.event_type))


def _rebuild_too_large(size: int, limit: int, event_type: str) -> EventTooLargeError:
    return EventTooLargeError(size, limit, event_type=event_type)


class SerializationError(StoreError):
    """An event's data is not JSON-serialisable; nothing was written."""


class LockHeldError(StoreError):
    """Another writer holds the lock on the database."""

    def __init__(self, path: Path, pid: int | None) -> None:
        holder = f"process {pid}" if pid is not None else "another process (pid unknown)"
        super().__init__(
            f"the event store is locked by {holder} (lock file {path}); "
            "only one writer may open it: stop that process or use another data directory"
        )
        self.path = path
        self.pid = pid

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.path, self.pid))


class StoreClosedError(StoreError):
    """The store was closed; open it again to read or append."""
