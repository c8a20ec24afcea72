"""The event store on a PostgreSQL database, shared by any number of processes.

The contract is `EventStore`'s, as `DuckDBEventStore` keeps it; what differs
is that other processes may append to the same database. So nothing that
decides an append lives only in memory here:

- Each batch of the writer thread (group commit, `store.group_commit`) is one
  transaction that first locks the single `log_head` row (`FOR UPDATE`), then
  reads the heads of the batch's streams, checks every append's expected seq
  against them, inserts the rows at offsets after the head, moves the heads
  and the log head, and commits. The lock serialises the appends of every
  process: offsets are gapless and become visible in commit order. The
  unique (stream, seq) is the last line of defence should anything bypass it.
  The heads are read by a statement of their own after the lock is taken: in
  READ COMMITTED each statement sees what was committed before it started,
  so the statement that waited for the lock would have seen stale heads.
- `last_seq`, `last_offset` and `streams` ask the database.
- Every commit sends `NOTIFY agentctl_events` with its last offset. This
  process's subscribers get its own batches from the writer thread right
  after the commit; a listener thread (a connection of its own, LISTENing)
  hands other processes' notifications to the writer thread, which reads
  what they committed after the last offset it delivered. Subscribers thus
  see every batch once, in offset order, from one thread, as with DuckDB; a
  batch of another process may arrive merged with its neighbours. When the
  listener's connection drops it reconnects and catches up from the log head.

Connections come from a `psycopg_pool.ConnectionPool` (autocommit; the
writer opens its transactions explicitly), the listener's excepted. Who may
write which session (leases between daemons) is not this module's business:
it guarantees only that a stale writer's append conflicts.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import conninfo, errors
from psycopg_pool import ConnectionPool, PoolClosed, PoolTimeout

from store.codec import check_cursor, check_snapshot_keys, check_stream, loads
from store.duckdb_store import QueryResult, QueryTimeoutError, fetch_bounded
from store.events import Snapshot, StoreClosedError, StoredEvent, StoreError
from store.group_commit import GroupCommitStore, _Append, _PutSnapshot, _Staged
from store.lock import WriterLock
from store.migrations import Migration
from store.postgres_leases import LeaseTable
from store.postgres_schema import PG_MIGRATIONS, apply_pg_migrations
from store.readonly import check_read_only

log = logging.getLogger("store")

CHANNEL = "agentctl_events"
LISTENER = "agentctl-listener"  # the application_name of the listeners' connections
_COLUMNS = 'stream, seq, "offset", ts, type, data::text'
_LOCK_HEAD = "SELECT last_offset FROM log_head FOR UPDATE"
_HEADS = "SELECT stream, last_seq FROM streams WHERE stream = ANY(%s)"
# The leases the batch's leased appends name that hold now, by the database's
# clock. KEY SHARE: a claim (FOR UPDATE SKIP LOCKED) passes them by until this
# transaction ends, and the owner's renewal is not held up.
_HELD = (
    "SELECT l.session, l.owner FROM session_leases l "
    "JOIN unnest(%s::text[], %s::text[]) AS w(session, owner) "
    "ON l.session = w.session AND l.owner = w.owner "
    "WHERE l.expires_at >= now() FOR KEY SHARE OF l"
)
_INSERT = (
    'INSERT INTO events ("offset", stream, seq, ts, type, data) '
    "SELECT o, s, q, t, y, d::json FROM unnest("
    "%s::bigint[], %s::text[], %s::bigint[], %s::timestamptz[], %s::text[], %s::text[]"
    ") AS r(o, s, q, t, y, d)"
)
_MOVE_STREAMS = (
    "INSERT INTO streams (stream, last_seq, first_offset) "
    "SELECT * FROM unnest(%s::text[], %s::bigint[], %s::bigint[]) "
    "ON CONFLICT (stream) DO UPDATE SET last_seq = EXCLUDED.last_seq"
)
_PUT_SNAPSHOTS = (
    "INSERT INTO snapshots (stream, seq, data) "
    "SELECT s, q, d::json FROM unnest(%s::text[], %s::bigint[], %s::text[]) AS r(s, q, d) "
    "ON CONFLICT (stream) DO UPDATE SET seq = EXCLUDED.seq, data = EXCLUDED.data"
)
_MOVE_HEAD = "UPDATE log_head SET last_offset = %s"
_NOTIFY = "SELECT pg_notify(%s, %s)"


class PostgresEventStore(GroupCommitStore):
    checks_leases = True

    def __init__(
        self,
        url: str,
        *,
        max_event_bytes: int = 1_000_000,
        max_batch: int = 1000,
        max_defer_s: float = 0.005,
        before_commit: Callable[[Sequence[StoredEvent]], None] | None = None,
        migrations: Sequence[Migration] = PG_MIGRATIONS,
        pool_size: int = 8,
        connect_timeout_s: float = 10.0,
        lock: Path | str | None = None,
    ) -> None:
        """Connect to `url` (a libpq URL or conninfo), migrating the database if need be.

        `before_commit(events)` runs inside each batch's transaction just before
        COMMIT: a fault-injection point, as in `DuckDBEventStore`. With `lock`,
        first take the `WriterLock` on that file (`LockHeldError` if another
        process has it): it keeps one writer per local folder, and guards
        nothing on other machines.
        """
        super().__init__(
            max_event_bytes=max_event_bytes, max_batch=max_batch, max_defer_s=max_defer_s
        )
        self._lock = WriterLock(Path(lock)) if lock is not None else None
        if self._lock is not None:
            self._lock.acquire()
        self.url = url
        self.display_url = display_url(url)
        self._before_commit = before_commit
        self._id = uuid.uuid4().hex  # this store's name in its own notifications
        self._pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            url,
            min_size=1,
            max_size=max(2, pool_size),
            kwargs={"autocommit": True, "application_name": "agentctl"},
            configure=_read_committed,
            open=False,
            name=f"agentctl-store-{self._id[:8]}",
        )
        try:
            self._pool.open(wait=True, timeout=connect_timeout_s)
            with self._pool.connection() as conn:
                self._schema_version = apply_pg_migrations(conn, migrations)
                self._superuser = bool(
                    _one(conn, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
                )
                self._delivered = int(_one(conn, "SELECT last_offset FROM log_head"))
        except BaseException as exc:
            self._pool.close()
            if self._lock is not None:
                self._lock.release()
            if isinstance(exc, PoolTimeout | psycopg.Error):
                raise StoreError(f"cannot open the event store {self.display_url}: {exc}") from exc
            raise
        self._stopping = threading.Event()
        self._listening = threading.Event()
        self._listener = threading.Thread(
            target=self._listen, name=f"store-listener-{self._id[:8]}", daemon=True
        )
        self._start_writer({}, 0, name=f"store-writer-{self._id[:8]}")
        self._listener.start()
        if not self._listening.wait(connect_timeout_s):
            log.warning("event store %s: LISTEN not ready yet", self.display_url)

    # -- writing (on the writer thread only) -------------------------------

    def _commit(self, rows: Any, snapshots: Any = ()) -> None:  # pragma: no cover - see _write
        raise AssertionError("PostgresEventStore stages its batches inside the transaction")

    def _write(self, batch: list[_Append | _PutSnapshot]) -> None:
        live = [a for a in batch if a.future.set_running_or_notify_cancel()]
        if not live:
            return
        staged: _Staged | None = None
        try:
            # pipeline mode: BEGIN, the lock and the heads go in one round trip, the
            # writes and COMMIT in a second (errors surface at the sync, still raised)
            with self._pool.connection() as conn, conn.pipeline(), conn.transaction():
                lock = conn.execute(_LOCK_HEAD)
                names = sorted({a.stream for a in live})
                found = conn.execute(_HEADS, [names])
                leased = sorted(
                    {(a.stream, a.lease) for a in live if isinstance(a, _Append) and a.lease}
                )
                held = (
                    conn.execute(_HELD, [[s for s, _ in leased], [o for _, o in leased]])
                    if leased
                    else None
                )
                row = lock.fetchone()
                if row is None:
                    raise StoreError("the event store database has no log_head row")
                last_offset = int(row[0])
                heads = {str(s): int(q) for s, q in found.fetchall()}
                leases = set() if held is None else {(str(s), str(o)) for s, o in held.fetchall()}
                staged = _Staged(heads, last_offset, datetime.now(UTC), leases)
                for append in live:
                    staged.add(append)  # a conflict fails that append alone, at once
                if not staged.accepted:
                    return
                self._insert(conn, staged)
                if self._before_commit is not None:
                    self._before_commit([row.event for row in staged.rows])
        except Exception as exc:
            if staged is None:
                for append in live:
                    error = StoreError(f"the event store could not write a batch: {exc}")
                    error.__cause__ = exc
                    append.future.set_exception(error)
            else:
                self._fail(staged, exc)
            return
        self._resolve(staged)
        if staged.rows:
            self._deliver_own([row.event for row in staged.rows])

    def _insert(self, conn: psycopg.Connection[Any], staged: _Staged) -> None:
        rows = staged.rows
        if rows:
            events = [row.event for row in rows]
            conn.execute(
                _INSERT,
                [
                    [e.offset for e in events],
                    [e.stream for e in events],
                    [e.seq for e in events],
                    [e.ts for e in events],
                    [e.type for e in events],
                    [row.json for row in rows],
                ],
            )
            first: dict[str, int] = {}
            for e in events:
                first.setdefault(e.stream, e.offset)
            names = list(staged.tentative)
            conn.execute(
                _MOVE_STREAMS,
                [names, [staged.tentative[s] for s in names], [first.get(s, 0) for s in names]],
            )
            conn.execute(_MOVE_HEAD, [staged.offset])
            conn.execute(_NOTIFY, [CHANNEL, f"{self._id} {staged.offset}"])
        if staged.snapshots:
            snaps = list(staged.snapshots.values())
            conn.execute(
                _PUT_SNAPSHOTS,
                [[s.stream for s in snaps], [s.seq for s in snaps], [s.json for s in snaps]],
            )

    # -- delivering to subscribers (on the writer thread only) -----------------

    def _deliver_own(self, events: list[StoredEvent]) -> None:
        first = events[0].offset
        if first > self._delivered + 1:  # other processes committed in between
            self._publish_range(first - 1)
        self._subscribers.publish(events)
        self._delivered = events[-1].offset

    def _caught_up(self, upto: int) -> None:
        if upto > self._delivered:
            self._publish_range(upto)

    def _publish_range(self, upto: int) -> None:
        """Publish the committed events with offsets in (delivered, upto], one batch."""
        with self._cursor(draining=True) as conn:
            rows = conn.execute(
                f'SELECT {_COLUMNS} FROM events WHERE "offset" > %s AND "offset" <= %s '
                'ORDER BY "offset"',
                [self._delivered, upto],
            ).fetchall()
        events = [_decode(row) for row in rows]
        if events:
            self._subscribers.publish(events)
            self._delivered = events[-1].offset

    # -- the listener thread ---------------------------------------------------

    def _listen(self) -> None:
        while not self._stopping.is_set():
            try:
                with psycopg.connect(self.url, autocommit=True, application_name=LISTENER) as c:
                    c.execute(f"LISTEN {CHANNEL}")
                    # whatever was committed while nobody listened
                    self._wake(int(_one(c, "SELECT last_offset FROM log_head")))
                    self._listening.set()
                    while not self._stopping.is_set():
                        for note in c.notifies(timeout=1.0):
                            sender, _, upto = note.payload.partition(" ")
                            if sender == self._id:
                                if upto == "stop":
                                    return
                            elif upto.isdigit():  # another store's commit (not its "stop")
                                self._wake(int(upto))
            except (psycopg.Error, ValueError) as exc:
                if self._stopping.is_set():
                    return
                log.warning("event store %s: LISTEN failed (%s); retrying", self.display_url, exc)
                self._stopping.wait(1.0)

    def _close_backend(self) -> None:
        self._stopping.set()
        with suppress(psycopg.Error, PoolClosed, PoolTimeout), self._pool.connection(5) as conn:
            conn.execute(_NOTIFY, [CHANNEL, f"{self._id} stop"])
        self._listener.join(timeout=5)
        self._pool.close()
        if self._lock is not None:
            self._lock.release()

    # -- reading (any thread) --------------------------------------------

    @contextmanager
    def _cursor(self, *, draining: bool = False) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection; `draining`: for the writer, which still works while closing."""
        if not draining:
            self._check_open()
        try:
            with self._pool.connection() as conn:
                yield conn
        except PoolClosed:
            raise StoreClosedError("the event store is closed") from None
        except (psycopg.Error, PoolTimeout) as exc:
            raise StoreError(f"event store query failed: {exc}") from exc

    def read_stream(
        self, stream: str, after: int = 0, limit: int | None = None
    ) -> list[StoredEvent]:
        check_stream(stream)
        check_cursor(after, limit)
        self._check_open()
        if limit == 0:
            return []
        # the (stream, seq) unique index: the cost is the rows read, not the log
        sql = f"SELECT {_COLUMNS} FROM events WHERE stream = %s AND seq > %s ORDER BY seq"
        params: list[Any] = [stream, after]
        if limit is not None:
            sql += " LIMIT %s"
            params.append(limit)
        with self._cursor() as conn:
            rows = conn.execute(sql, params).fetchall()
        return [_decode(row) for row in rows]

    def read_all(self, after: int = 0, limit: int | None = None) -> list[StoredEvent]:
        check_cursor(after, limit)
        self._check_open()
        if limit == 0:
            return []
        sql = f'SELECT {_COLUMNS} FROM events WHERE "offset" > %s ORDER BY "offset"'
        params: list[Any] = [after]
        if limit is not None:
            sql += " LIMIT %s"
            params.append(limit)
        with self._cursor() as conn:
            rows = conn.execute(sql, params).fetchall()
        return [_decode(row) for row in rows]

    def read_snapshots(
        self, *, only: Collection[str] | None = None, omit: Collection[str] = ()
    ) -> list[Snapshot]:
        keys, left_out = check_snapshot_keys(only, omit)
        params: list[Any] = []
        data = "n.data::text"
        if keys is not None:  # those keys' members (NULL: none of them)
            data = (
                "(SELECT json_object_agg(m.key, m.value) FROM json_each(n.data) m "
                "WHERE m.key = ANY(%s))::text"
            )
            params.append(keys)
        elif left_out:
            data = "(n.data::jsonb - %s::text[])::text"
            params.append(left_out)
        with self._cursor() as conn:
            rows = conn.execute(
                f"SELECT n.stream, n.seq, {data} FROM snapshots n "
                "JOIN streams s USING (stream) ORDER BY s.first_offset",
                params,
            ).fetchall()
        return [Snapshot(str(s), int(q), {} if d is None else loads(d)) for s, q, d in rows]

    def last_seq(self, stream: str) -> int:
        with self._cursor() as conn:
            row = conn.execute(
                "SELECT last_seq FROM streams WHERE stream = %s", [stream]
            ).fetchone()
        return 0 if row is None else int(row[0])

    def last_offset(self) -> int:
        with self._cursor() as conn:
            return int(_one(conn, "SELECT last_offset FROM log_head"))

    def streams(self) -> list[str]:
        with self._cursor() as conn:
            rows = conn.execute("SELECT stream FROM streams ORDER BY first_offset").fetchall()
        return [str(row[0]) for row in rows]

    def schema_version(self) -> int:
        return self._schema_version

    def query(
        self, sql: str, params: Sequence[Any] = (), *, max_rows: int | None = None
    ) -> tuple[list[str], list[tuple[Any, ...]]]:
        """One read-only statement; (columns, rows). See `query_bounded`."""
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
        """Run one SELECT/WITH/EXPLAIN in a READ ONLY transaction that is rolled back.

        Three fences: the statement's type (parsed, `store.readonly`), the read
        only transaction (PostgreSQL refuses every write in it), and the role:
        a superuser could read the server's files (`pg_read_file`), so a store
        connected as one refuses queries. `timeout_s` becomes the statement's
        `statement_timeout` (`QueryTimeoutError` past it).
        """
        check_read_only(sql)
        if self._superuser:
            raise StoreError(
                "read-only: queries are refused on a superuser connection "
                "(connect agentctl to PostgreSQL as an ordinary role that owns its tables)"
            )
        with self._cursor() as conn, conn.transaction(force_rollback=True):
            conn.execute("SET TRANSACTION READ ONLY")
            if timeout_s is not None:
                timeout_ms = str(max(1, int(timeout_s * 1000)))
                conn.execute("SELECT set_config('statement_timeout', %s, true)", [timeout_ms])
            try:
                cursor = conn.execute(sql.encode(), list(params) or None)
            except errors.QueryCanceled:
                raise QueryTimeoutError(
                    f"the query ran longer than {timeout_s:g} s and was stopped"
                ) from None
            except errors.ReadOnlySqlTransaction as exc:
                raise StoreError(f"read-only: {exc}") from None
            columns = [column.name for column in cursor.description or ()]
            rows, truncated = fetch_bounded(cursor, max_rows, max_bytes)
        return QueryResult(columns, rows, truncated)

    def lease_table(self, lease_s: float) -> LeaseTable:
        """The workers' and sessions' lease tables of this database (store.postgres_leases)."""
        return LeaseTable(self._pool, lease_s)

    def __repr__(self) -> str:
        return f"PostgresEventStore({self.display_url!r})"


def display_url(url: str) -> str:
    """`url` without its password, for messages and logs."""
    try:
        params = conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "<an invalid PostgreSQL URL>"
    params.pop("password", None)
    host, port, db = params.get("host", ""), params.get("port", ""), params.get("dbname", "")
    user = f"{params['user']}@" if params.get("user") else ""
    return f"postgresql://{user}{host}{':' if port else ''}{port}/{db}"


def _read_committed(conn: psycopg.Connection[Any]) -> None:
    """Every transaction of the pool in READ COMMITTED, whatever the server's default.

    The append reads the heads in a statement after the one that took the
    log-head lock, and must see what the previous holder committed: under
    REPEATABLE READ it would see its transaction's first snapshot instead.
    """
    conn.isolation_level = psycopg.IsolationLevel.READ_COMMITTED


def _one(conn: psycopg.Connection[Any], sql: str) -> Any:
    row = conn.execute(sql.encode()).fetchone()
    if row is None:
        raise StoreError(f"the event store database is missing its rows: {sql!r} returned none")
    return row[0]


def _decode(row: tuple[Any, ...]) -> StoredEvent:
    stream, seq, offset, ts, type_, data = row
    return StoredEvent(stream, int(seq), int(offset), ts.astimezone(UTC), type_, loads(data))
