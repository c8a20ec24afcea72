"""Named, ordered, recorded schema migrations (as `llm` keeps its log).

A migration is a version, a name and SQL. Each one runs in a transaction of
its own together with the row that records it in `schema_migrations`, so a
crash leaves it either applied and recorded or neither. Opening a database
applies the migrations it has not recorded yet, in order; a database whose
schema is newer than this code knows is refused rather than guessed at.

Migrations only ever get appended to `MIGRATIONS`; an applied one is never
edited (write a new one instead).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from store.events import StoreError

if TYPE_CHECKING:
    import duckdb


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


# `offset` is a reserved word in SQL: the column is the quoted identifier
# "offset", as in the envelope. `ts` is a TIMESTAMP holding UTC. `data` is JSON
# text, so projections can use DuckDB's JSON operators (data->>'$.status').
MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "create events",
        """
        CREATE TABLE events (
            "offset" BIGINT PRIMARY KEY,
            stream   VARCHAR NOT NULL,
            seq      BIGINT NOT NULL CHECK (seq >= 1),
            ts       TIMESTAMP NOT NULL,
            type     VARCHAR NOT NULL,
            data     JSON NOT NULL,
            UNIQUE (stream, seq)
        );
        """,
    ),
    # One row per stream at most: what the application made of the stream's
    # prefix up to `seq` (a projection: a session's summary), written in the
    # transaction of the append that changed it. A database from before this
    # migration starts with none; the application folds such streams and
    # writes their snapshots then.
    Migration(
        2,
        "create snapshots",
        """
        CREATE TABLE snapshots (
            stream VARCHAR PRIMARY KEY,
            seq    BIGINT NOT NULL CHECK (seq >= 1),
            data   JSON NOT NULL
        );
        """,
    ),
)

_BOOTSTRAP = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       VARCHAR NOT NULL,
    applied_at TIMESTAMP NOT NULL
)
"""


def apply_migrations(
    conn: duckdb.DuckDBPyConnection, migrations: Sequence[Migration] = MIGRATIONS
) -> list[int]:
    """Apply the migrations `conn`'s database lacks, in order; return their versions."""
    check_order(migrations)
    conn.execute(_BOOTSTRAP)
    recorded = applied_versions(conn)
    known = {m.version for m in migrations}
    newer = [v for v in recorded if v not in known and v > max(known, default=0)]
    if newer:
        raise StoreError(
            f"the database has schema version {max(newer)}, newer than this program knows "
            f"({max(known, default=0)}): upgrade the program to open it"
        )
    applied = []
    for migration in migrations:
        if migration.version in recorded:
            continue
        conn.begin()
        try:
            conn.execute(migration.sql)
            conn.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                [migration.version, migration.name, datetime.now(UTC).replace(tzinfo=None)],
            )
            conn.commit()
        except Exception as exc:
            conn.rollback()
            raise StoreError(
                f"schema migration {migration.version} ({migration.name}) failed: {exc}"
            ) from exc
        applied.append(migration.version)
    return applied


def applied_versions(conn: duckdb.DuckDBPyConnection) -> list[int]:
    rows = conn.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall()
    return [int(row[0]) for row in rows]


def check_order(migrations: Sequence[Migration]) -> None:
    versions = [m.version for m in migrations]
    if any(v < 1 for v in versions) or versions != sorted(set(versions)):
        raise StoreError(f"migrations must have strictly increasing versions >= 1, got {versions}")
