"""The PostgreSQL store's schema and its migrations (the rules of `store.migrations`).

Three tables carry the log: `events` (the rows, keyed by the global offset
and unique on (stream, seq), the last line of defence against a second
writer of a stream), `streams` (each stream's last seq and first offset: the
heads an append checks its expected seq against, and the order of first
appearance) and `log_head`, one row holding the last offset given out. Every
append transaction locks that row first (`SELECT ... FOR UPDATE`), so the
appends of every process that shares the database are serialised: offsets
are assigned gapless and become visible in commit order, which is what lets
a follower read "everything after offset N" and miss nothing. A sequence
would not do: a bigserial taken before commit can become visible after a
larger one.

`data` is `json`, not `jsonb`: the text is kept as written (a `\\u0000` in a
string, key order, integers past 64 bits), and `->`/`->>` work on it.

Migrations run under a session advisory lock, so two processes opening one
fresh database at once do not both create it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from store.events import StoreError
from store.migrations import Migration, check_order

if TYPE_CHECKING:
    import psycopg

# pg_advisory_lock key of the migrations: 'agentctl' in ASCII, as a bigint
MIGRATION_LOCK = 0x6167656E7463746C

PG_MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "create events",
        """
        CREATE TABLE events (
            "offset" BIGINT PRIMARY KEY CHECK ("offset" >= 1),
            stream   TEXT NOT NULL,
            seq      BIGINT NOT NULL CHECK (seq >= 1),
            ts       TIMESTAMPTZ NOT NULL,
            type     TEXT NOT NULL,
            data     JSON NOT NULL,
            UNIQUE (stream, seq)
        );
        CREATE TABLE streams (
            stream       TEXT PRIMARY KEY,
            last_seq     BIGINT NOT NULL CHECK (last_seq >= 1),
            first_offset BIGINT NOT NULL UNIQUE
        );
        CREATE TABLE log_head (
            id          BOOLEAN PRIMARY KEY DEFAULT true CHECK (id),
            last_offset BIGINT NOT NULL CHECK (last_offset >= 0)
        );
        INSERT INTO log_head (id, last_offset) VALUES (true, 0);
        """,
    ),
    Migration(
        2,
        "create snapshots",
        """
        CREATE TABLE snapshots (
            stream TEXT PRIMARY KEY,
            seq    BIGINT NOT NULL CHECK (seq >= 1),
            data   JSON NOT NULL
        );
        """,
    ),
    Migration(
        3,
        "create workers and session leases",
        """
        CREATE TABLE workers (
            worker     TEXT PRIMARY KEY,
            host       TEXT NOT NULL,
            pid        INTEGER NOT NULL,
            started_at TIMESTAMPTZ NOT NULL DEFAULT now(),
            heartbeat  TIMESTAMPTZ NOT NULL DEFAULT now()
        );
        CREATE TABLE session_leases (
            session    TEXT PRIMARY KEY,
            owner      TEXT,
            expires_at TIMESTAMPTZ,
            renewed    TIMESTAMPTZ,
            offered_at TIMESTAMPTZ NOT NULL DEFAULT now()
        );
        CREATE INDEX session_leases_owner ON session_leases (owner);
        CREATE TABLE lease_history (
            id          BIGSERIAL PRIMARY KEY,
            session     TEXT NOT NULL,
            worker      TEXT NOT NULL,
            previous    TEXT,
            from_seq    BIGINT NOT NULL,
            acquired_at TIMESTAMPTZ NOT NULL DEFAULT now(),
            released_at TIMESTAMPTZ
        );
        """,
    ),
    Migration(
        4,
        "a session's engine, for workers without a registry",
        """
        ALTER TABLE session_leases ADD COLUMN engine TEXT;
        """,
    ),
)

_BOOTSTRAP = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
)
"""


def apply_pg_migrations(
    conn: psycopg.Connection[tuple[object, ...]], migrations: Sequence[Migration] = PG_MIGRATIONS
) -> int:
    """Apply what the database lacks, in order, each in a transaction; the schema version.

    `conn` is in autocommit mode. A database newer than `migrations` is refused.
    """
    check_order(migrations)
    conn.execute("SELECT pg_advisory_lock(%s)", [MIGRATION_LOCK])
    try:
        conn.execute(_BOOTSTRAP)
        recorded = [
            int(row[0])  # type: ignore[call-overload]
            for row in conn.execute("SELECT version FROM schema_migrations").fetchall()
        ]
        known = max((m.version for m in migrations), default=0)
        if recorded and max(recorded) > known:
            raise StoreError(
                f"the database has schema version {max(recorded)}, newer than this program "
                f"knows ({known}): upgrade the program to open it"
            )
        for migration in migrations:
            if migration.version in recorded:
                continue
            try:
                with conn.transaction():
                    conn.execute(migration.sql.encode())  # several statements: no parameters
                    conn.execute(
                        "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                        [migration.version, migration.name],
                    )
            except Exception as exc:
                raise StoreError(
                    f"schema migration {migration.version} ({migration.name}) failed: {exc}"
                ) from exc
            recorded.append(migration.version)
        return max(recorded, default=0)
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", [MIGRATION_LOCK])
