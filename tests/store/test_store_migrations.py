"""Schema migrations: ordered, recorded, each applied once, in a transaction."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from store import MIGRATIONS, DuckDBEventStore, Migration, NewEvent, StoreError
from store.migrations import apply_migrations

NEXT = MIGRATIONS[-1].version + 1
INDEX_TYPES = Migration(NEXT, "index event types", "CREATE INDEX events_type ON events (type)")


def recorded(path: Path) -> list[tuple[object, ...]]:
    conn = duckdb.connect(str(path), read_only=True)
    try:
        return conn.execute(
            "SELECT version, name, applied_at FROM schema_migrations ORDER BY 1"
        ).fetchall()
    finally:
        conn.close()


def test_a_fresh_database_gets_every_migration(tmp_path: Path) -> None:
    path = tmp_path / "events.duckdb"
    with DuckDBEventStore(path) as log:
        assert log.schema_version() == MIGRATIONS[-1].version
    rows = recorded(path)
    assert [(version, name) for version, name, _ in rows] == [
        (m.version, m.name) for m in MIGRATIONS
    ]


def test_reopening_applies_nothing_twice(tmp_path: Path) -> None:
    path = tmp_path / "events.duckdb"
    DuckDBEventStore(path).close()
    first = recorded(path)
    conn = duckdb.connect(str(path))
    try:
        assert apply_migrations(conn) == []
    finally:
        conn.close()
    assert recorded(path) == first


def test_a_new_migration_is_applied_alone(tmp_path: Path) -> None:
    path = tmp_path / "events.duckdb"
    with DuckDBEventStore(path) as log:
        log.append("a", [NewEvent("t", {"n": 1})], 1)
    before = recorded(path)

    with DuckDBEventStore(path, migrations=[*MIGRATIONS, INDEX_TYPES]) as log:
        assert log.schema_version() == NEXT
        assert log.read_stream("a")[0].data == {"n": 1}
        indexes = log.query(
            "SELECT index_name FROM duckdb_indexes() WHERE index_name = ?", ["events_type"]
        )
        assert indexes[1] == [("events_type",)]
    after = recorded(path)
    assert after[:-1] == before  # migration 1 untouched, applied_at included
    assert after[-1][:2] == (NEXT, "index event types")


def test_a_database_newer_than_the_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "events.duckdb"
    DuckDBEventStore(path, migrations=[*MIGRATIONS, INDEX_TYPES]).close()
    with pytest.raises(StoreError, match=f"schema version {NEXT}, newer"):
        DuckDBEventStore(path)
    DuckDBEventStore(path, migrations=[*MIGRATIONS, INDEX_TYPES]).close()  # lock released


def test_a_failing_migration_is_rolled_back_and_reported(tmp_path: Path) -> None:
    path = tmp_path / "events.duckdb"
    broken = Migration(NEXT, "half done", "CREATE TABLE half (a INT); SELECT * FROM missing_table")
    with pytest.raises(StoreError, match=rf"migration {NEXT} \(half done\) failed"):
        DuckDBEventStore(path, migrations=[*MIGRATIONS, broken])
    with DuckDBEventStore(path) as log:
        assert log.schema_version() == MIGRATIONS[-1].version
        tables = log.query("SELECT table_name FROM information_schema.tables ORDER BY 1")[1]
        assert tables == [("events",), ("schema_migrations",), ("snapshots",)]


@pytest.mark.parametrize(
    "versions", [[2, 1], [1, 1], [0, 1]], ids=["descending", "duplicate", "zero"]
)
def test_migrations_must_be_strictly_ordered(tmp_path: Path, versions: list[int]) -> None:
    migrations = [Migration(v, f"m{v}", "SELECT 1") for v in versions]
    with pytest.raises(StoreError, match="strictly increasing"):
        DuckDBEventStore(tmp_path / "events.duckdb", migrations=migrations)


def test_a_database_of_schema_1_opens_and_works(tmp_path: Path) -> None:
    """A log written before snapshots existed gets the table and keeps its events."""
    path = tmp_path / "events.duckdb"
    with DuckDBEventStore(path, migrations=MIGRATIONS[:1]) as log:
        log.append("a", [NewEvent("t", {"n": 1}), NewEvent("t", {"n": 2})], 1)
        log.append("b", [NewEvent("t", {"n": 1})], 1)
    with DuckDBEventStore(path) as log:
        assert log.schema_version() == MIGRATIONS[-1].version
        assert [e.data["n"] for e in log.read_stream("a")] == [1, 2]
        assert log.read_snapshots() == []  # nothing to say about the old streams yet
        log.put_snapshot("a", 2, {"n": 2}).result()
        log.append("b", [NewEvent("t", {"n": 2})], 2, snapshot={"n": 2})
    with DuckDBEventStore(path) as log:
        assert [(s.stream, s.seq) for s in log.read_snapshots()] == [("a", 2), ("b", 2)]
        assert log.last_offset() == 4
