"""The event store on a DuckDB file.

One connection is the writer's: the writer thread (see `group_commit`) is the
only user of it, and commits each batch of appends in one transaction. DuckDB
fsyncs its write-ahead log at COMMIT, so an acknowledged append survives a
crash; nothing here turns that off. Readers never touch the writer's
connection: each read opens a cursor (a connection of its own to the same
database) from a second root connection, so any thread can read while the
writer writes, and sees only committed batches.

The batch goes in as one INSERT whatever its size: a lone event through a
plain VALUES row (the cheapest statement for one row), a larger batch as
column lists that DuckDB unnests, which costs a few microseconds per row
where executemany costs a statement each (`bench/store.py --compare-inserts`).
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from store.codec import (
    check_cursor,
    check_snapshot_keys,
    check_stream,
    loads,
    project_snapshot,
)
from store.events import Snapshot, StoreClosedError, StoredEvent, StoreError
from store.group_commit import GroupCommitStore, Row, SnapshotRow, Span
from store.lock import WriterLock
from store.migrations import MIGRATIONS, Migration, applied_versions, apply_migrations
from store.queries import copy_to_parquet
from store.readonly import check_read_only

# The time as microseconds since the epoch: a datetime made from it here costs a
# third of what DuckDB's naive datetime and a `replace(tzinfo=UTC)` cost together.
_COLUMNS = 'seq, "offset", epoch_us(ts), type, data'
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_INSERT_ONE = 'INSERT INTO events ("offset", stream, seq, ts, type, data) VALUES (?, ?, ?, ?, ?, ?)'
_INSERT_MANY = (
    'INSERT INTO events ("offset", stream, seq, ts, type, data) '
    "SELECT unnest($1), unnest($2), unnest($3), unnest($4), unnest($5), unnest($6)"
)
_POSITIONS = 4096
_SNAPSHOT_CHUNK = 500  # rows of `snapshots` fetched at a time
_PUT_SNAPSHOT = "INSERT OR REPLACE INTO snapshots (stream, seq, data) VALUES (?, ?, ?)"


class DuckDBEventStore(GroupCommitStore):
    def __init__(
        self,
        path: str | Path,
        *,
        max_event_bytes: int = 1_000_000,
        max_batch: int = 1000,
        max_defer_s: float = 0.005,
        before_commit: Callable[[Sequence[StoredEvent]], None] | None = None,
        lock: bool = True,
        migrations: Sequence[Migration] = MIGRATIONS,
    ) -> None:
        """Open (creating and migrating if need be) the store at `path`.

        With `lock`, first take the writer lock on `<path>.lock` (`LockHeldError`
        if another writer has it). `before_commit(events)` runs inside each
        batch's transaction just before COMMIT, with the batch's events: a
        fault-injection point.
        """
        super().__init__(
            max_event_bytes=max_event_bytes, max_batch=max_batch, max_defer_s=max_defer_s
        )
        self.path = Path(path)
        self._before_commit = before_commit
        self._lock = WriterLock(Path(f"{self.path}.lock")) if lock else None
        if self._lock is not None:
            self._lock.acquire()
        try:
            self._conn = duckdb.connect(str(self.path))
        except duckdb.Error as exc:
            self._release_lock()
            raise StoreError(f"cannot open the event store {self.path}: {exc}") from exc
        self.scratch = Path(f"{self.path}.scratch")
        try:
            apply_migrations(self._conn, migrations)
            self._schema_version = max(applied_versions(self._conn), default=0)
            heads, spans, last_offset = self._load_heads()
            _seal(self._conn, self.scratch)
            self._readers = self._conn.cursor()
        except BaseException as exc:
            self._conn.close()
            self._release_lock()
            if isinstance(exc, duckdb.Error):
                raise StoreError(f"cannot open the event store {self.path}: {exc}") from exc
            raise
        # Guards `_readers`: cursors are made from it by any thread, and it is
        # closed with the store.
        self._readers_lock = threading.Lock()
        self._readers_open = True
        # (stream, seq) -> the offset just after that event, for the pages of a
        # paged read_stream (bounded, least recently used first out).
        self._positions: OrderedDict[tuple[str, int], int] = OrderedDict()
        self._positions_lock = threading.Lock()
        self._start_writer(heads, last_offset, name=f"store-writer-{self.path.name}", spans=spans)

    def _load_heads(self) -> tuple[dict[str, int], dict[str, Span], int]:
        rows = self._conn.execute(
            'SELECT stream, max(seq), min("offset") AS first, max("offset") FROM events '
            "GROUP BY stream ORDER BY first"
        ).fetchall()
        heads = {str(stream): int(seq) for stream, seq, _, _ in rows}
        spans = {str(stream): Span(int(first), int(last)) for stream, _, first, last in rows}
        last_offset = max((span.last for span in spans.values()), default=0)
        return heads, spans, last_offset

    # -- writing (on the writer thread only) -------------------------------

    def _commit(self, rows: Sequence[Row], snapshots: Sequence[SnapshotRow] = ()) -> None:
        conn = self._conn
        conn.begin()
        try:
            if not rows:
                pass
            elif len(rows) == 1:
                e = rows[0].event
                conn.execute(
                    _INSERT_ONE, [e.offset, e.stream, e.seq, _naive(e), e.type, rows[0].json]
                )
            else:
                conn.execute(
                    _INSERT_MANY,
                    [
                        [row.event.offset for row in rows],
                        [row.event.stream for row in rows],
                        [row.event.seq for row in rows],
                        [_naive(row.event) for row in rows],
                        [row.event.type for row in rows],
                        [row.json for row in rows],
                    ],
                )
            for snapshot in snapshots:
                conn.execute(_PUT_SNAPSHOT, [snapshot.stream, snapshot.seq, snapshot.json])
            if self._before_commit is not None:
                self._before_commit([row.event for row in rows])
            conn.commit()
        except BaseException:
            with suppress(duckdb.Error):  # a failed COMMIT has already ended it
                conn.rollback()
            raise

    def _close_backend(self) -> None:
        with self._readers_lock:
            self._readers_open = False
            self._readers.close()
        self._conn.close()
        self._release_lock()

    def _release_lock(self) -> None:
        if self._lock is not None:
            self._lock.release()

    # -- reading (any thread) --------------------------------------------

    def read_stream(
        self, stream: str, after: int = 0, limit: int | None = None
    ) -> list[StoredEvent]:
        check_stream(stream)
        check_cursor(after, limit)
        if limit == 0:
            return []
        span = self._span(stream)
        if span is None:
            return []
        # The offsets bound the scan: `offset` grows with every append, so the
        # row groups' min/max statistics skip everything outside the stream's
        # span, and a read costs the span rather than the whole log. A read
        # that goes on from where an earlier one ended (a backfill's next
        # page) starts after that event's offset, so paging costs each page.
        first = span.first
        if after > 0:
            with self._positions_lock:
                first = max(first, self._positions.get((stream, after), first))
        sql = (
            f'SELECT {_COLUMNS} FROM events WHERE "offset" BETWEEN ? AND ? '
            "AND stream = ? AND seq > ? ORDER BY seq"
        )
        params: list[Any] = [first, span.last, stream, after]
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        with self._cursor() as cursor:
            rows = cursor.execute(sql, params).fetchall()
        if rows and limit is not None and len(rows) == limit:
            last = rows[-1]  # seq, offset: an event's offset never changes
            with self._positions_lock:
                self._positions[(stream, int(last[0]))] = int(last[1]) + 1
                self._positions.move_to_end((stream, int(last[0])))
                while len(self._positions) > _POSITIONS:
                    self._positions.popitem(last=False)
        epoch, delta, parse = _EPOCH, timedelta, loads  # once per row: kept local
        return [
            StoredEvent(stream, seq, offset, epoch + delta(microseconds=us), kind, parse(data))
            for seq, offset, us, kind, data in rows
        ]

    def read_all(self, after: int = 0, limit: int | None = None) -> list[StoredEvent]:
        check_cursor(after, limit)
        if limit == 0:
            return []
        sql = f'SELECT stream, {_COLUMNS} FROM events WHERE "offset" > ? ORDER BY "offset"'
        params: list[Any] = [after]
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        with self._cursor() as cursor:
            rows = cursor.execute(sql, params).fetchall()
        epoch, delta, parse = _EPOCH, timedelta, loads
        return [
            StoredEvent(stream, seq, offset, epoch + delta(microseconds=us), kind, parse(data))
            for stream, seq, offset, us, kind, data in rows
        ]

    def read_snapshots(
        self, *, only: Collection[str] | None = None, omit: Collection[str] = ()
    ) -> list[Snapshot]:
        # Narrowed here as each row is decoded, in chunks: DuckDB's JSON functions
        # (json_extract, json_merge_patch) would keep tens of MB of the daemon's memory
        # after one read of 10,000 snapshots, and one fetchall of the whole table more
        # than the chunks do (bench/growth.py's rss_mb).
        keys, left_out = check_snapshot_keys(only, omit)
        found = []
        with self._cursor() as cursor:
            cursor.execute("SELECT stream, seq, data FROM snapshots")
            while rows := cursor.fetchmany(_SNAPSHOT_CHUNK):
                for s, q, d in rows:
                    data = project_snapshot(loads(d), keys, left_out)
                    found.append(Snapshot(str(s), int(q), data))
        order = {stream: i for i, stream in enumerate(self.streams())}
        found = [snapshot for snapshot in found if snapshot.stream in order]
        return sorted(found, key=lambda snapshot: order[snapshot.stream])

    def schema_version(self) -> int:
        return self._schema_version

    def query(
        self, sql: str, params: Sequence[Any] = (), *, max_rows: int | None = None
    ) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Run one read-only statement (SELECT, WITH, DESCRIBE, SHOW, EXPLAIN); (columns, rows).

        Anything else is refused with a `StoreError` ("read-only: ... refused").
        With `max_rows`, at most that many rows are fetched.
        """
        result = self.query_bounded(sql, params, max_rows=max_rows)
        return result.columns, result.rows

    def query_bounded(
        self,
        sql: str,
        params: Sequence[Any] = (),
        *,
        max_rows: int | None = None,
        max_bytes: int | None = None,
        timeout_s: float | None = None,
    ) -> QueryResult:
        """`query` for a caller that is not trusted with the machine (`agentctl sql`).

        The statement runs with the store's sandbox (no file, network or
        extension access: see `_seal`), is interrupted after `timeout_s`
        (`QueryTimeoutError`), and stops fetching at `max_rows` rows or once
        the rows' text passes `max_bytes` (`truncated` says so).
        """
        check_read_only(sql)
        with self._cursor() as cursor:
            timer = None
            if timeout_s is not None:
                timer = threading.Timer(timeout_s, cursor.interrupt)
                timer.daemon = True
                timer.start()
            cursor.begin()
            try:
                try:
                    cursor.execute(sql, list(params))
                    columns = [column[0] for column in cursor.description or ()]
                    rows, truncated = fetch_bounded(cursor, max_rows, max_bytes)
                except duckdb.InterruptException:
                    raise QueryTimeoutError(
                        f"the query ran longer than {timeout_s:g} s and was stopped"
                    ) from None
            finally:
                if timer is not None:
                    timer.cancel()
                cursor.rollback()
        return QueryResult(columns, rows, truncated)

    def export_parquet(self, path: str | Path, stream: str | None = None) -> int:
        """Write the events (of `stream`, or all) to a Parquet file at `path`; the row count.

        Same columns as the table, in offset order; `data` is JSON text.
        """
        if stream is not None:
            check_stream(stream)
        with self._cursor() as cursor:
            return copy_to_parquet(cursor, Path(path), self.scratch, stream)

    @contextmanager
    def _cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self._readers_lock:
            if not self._readers_open:
                raise StoreClosedError("the event store is closed")
            cursor = self._readers.cursor()
        try:
            yield cursor
        except duckdb.Error as exc:
            raise StoreError(f"event store query failed: {exc}") from exc
        finally:
            cursor.close()

    def __repr__(self) -> str:
        return f"DuckDBEventStore({os.fspath(self.path)!r})"


@dataclass(frozen=True)
class QueryResult:
    columns: list[str]
    rows: list[tuple[Any, ...]]
    truncated: bool  # stopped at max_rows or max_bytes


class QueryTimeoutError(StoreError):
    """A bounded query ran past its time limit and was interrupted."""


_FETCH_CHUNK = 1000


def fetch_bounded(
    cursor: Any, max_rows: int | None, max_bytes: int | None
) -> tuple[list[tuple[Any, ...]], bool]:
    """Rows of a DB-API cursor in chunks until the result ends, `max_rows` rows or `max_bytes` of their text."""
    rows: list[tuple[Any, ...]] = []
    size = 0
    while max_rows is None or len(rows) < max_rows:
        want = _FETCH_CHUNK if max_rows is None else min(_FETCH_CHUNK, max_rows - len(rows))
        chunk = cursor.fetchmany(want)
        if not chunk:
            return rows, False
        for row in chunk:
            if max_bytes is not None:
                size += sum(len(str(value)) for value in row) + 8
                if size > max_bytes:
                    return rows, True
            rows.append(row)
    return rows, cursor.fetchone() is not None


def _seal(conn: duckdb.DuckDBPyConnection, scratch: Path) -> None:
    """Whatever SQL runs here reads the database and nothing else on the machine.

    `agentctl sql` hands a person's query to this connection, and the daemon
    holds API keys in its environment: with external access off, `read_text`,
    `read_blob`, `read_csv`, `glob` and URLs fail (no `/proc/self/environ`, no
    `/etc/shadow`), no extension is installed or loaded, and the configuration
    is locked so no statement can turn any of it back on. The scratch folder
    is the one place DuckDB may write (the Parquet export).
    """
    scratch.mkdir(mode=0o700, exist_ok=True)
    conn.execute("SET allowed_directories = [?]", [f"{scratch}/"])
    for setting in (
        "SET enable_external_access = false",
        "SET autoinstall_known_extensions = false",
        "SET autoload_known_extensions = false",
        "SET allow_community_extensions = false",
        "SET lock_configuration = true",
    ):
        conn.execute(setting)


def _naive(event: StoredEvent) -> Any:
    return event.ts.replace(tzinfo=None)  # ts is UTC; the column is a UTC TIMESTAMP
