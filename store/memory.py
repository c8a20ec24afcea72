"""An event store in memory, for tests and for running without a database.

It goes through the same writer thread as the DuckDB store, so the two behave
the same way under concurrency (one contract test suite runs against both).
Events are kept as JSON text and decoded on every read, as the database does:
readers never share a mutable dict with each other or with the appender.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Collection, Sequence
from datetime import datetime

from store.codec import (
    check_cursor,
    check_snapshot_keys,
    check_stream,
    decode,
    loads,
    project_snapshot,
)
from store.events import Snapshot, StoreClosedError, StoredEvent
from store.group_commit import GroupCommitStore, Row, SnapshotRow
from store.migrations import MIGRATIONS

_Record = tuple[str, int, int, datetime, str, str]  # stream, seq, offset, ts, type, data (JSON)


class InMemoryEventStore(GroupCommitStore):
    def __init__(
        self, max_event_bytes: int = 1_000_000, *, max_batch: int = 1000, max_defer_s: float = 0.005
    ) -> None:
        super().__init__(
            max_event_bytes=max_event_bytes, max_batch=max_batch, max_defer_s=max_defer_s
        )
        self._records_lock = threading.Lock()
        self._records: list[_Record] = []
        self._offsets: list[int] = []
        self._by_stream: dict[str, list[int]] = {}  # stream -> indexes into _records, by seq
        self._snapshots: dict[str, tuple[int, str]] = {}  # stream -> (seq, JSON)
        self._open = True
        self._start_writer({}, 0, name="store-writer-memory")

    def _commit(self, rows: Sequence[Row], snapshots: Sequence[SnapshotRow] = ()) -> None:
        with self._records_lock:
            for row in rows:
                e = row.event
                self._by_stream.setdefault(e.stream, []).append(len(self._records))
                self._records.append((e.stream, e.seq, e.offset, e.ts, e.type, row.json))
                self._offsets.append(e.offset)
            for snapshot in snapshots:
                self._snapshots[snapshot.stream] = (snapshot.seq, snapshot.json)

    def read_snapshots(
        self, *, only: Collection[str] | None = None, omit: Collection[str] = ()
    ) -> list[Snapshot]:
        keys, left_out = check_snapshot_keys(only, omit)
        with self._records_lock:
            self._check_readable()
            found = [(s, self._snapshots[s]) for s in self._by_stream if s in self._snapshots]
        return [
            Snapshot(stream, seq, project_snapshot(loads(text), keys, left_out))
            for stream, (seq, text) in found
        ]

    def _close_backend(self) -> None:
        with self._records_lock:
            self._open = False

    def read_stream(
        self, stream: str, after: int = 0, limit: int | None = None
    ) -> list[StoredEvent]:
        check_stream(stream)
        check_cursor(after, limit)
        with self._records_lock:
            self._check_readable()
            # Seqs are gapless from 1: the event with seq s is the s-th of its stream.
            indexes = self._by_stream.get(stream, [])
            end = None if limit is None else after + limit
            records = [self._records[i] for i in indexes[after:end]]
        return [decode(*record) for record in records]

    def read_all(self, after: int = 0, limit: int | None = None) -> list[StoredEvent]:
        check_cursor(after, limit)
        with self._records_lock:
            self._check_readable()
            start = bisect.bisect_right(self._offsets, after)
            end = None if limit is None else start + limit
            records = self._records[start:end]
        return [decode(*record) for record in records]

    def schema_version(self) -> int:
        return MIGRATIONS[-1].version  # nothing to migrate: it speaks the latest schema

    def _check_readable(self) -> None:
        if not self._open:
            raise StoreClosedError("the event store is closed")
