"""What only the DuckDB store can show: files, crashes, other processes, SQL."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Sequence
from pathlib import Path

import duckdb
import pytest

from store import (
    ConflictError,
    DuckDBEventStore,
    LockHeldError,
    NewEvent,
    StoredEvent,
    StoreError,
    WriterLock,
)

REPO = Path(__file__).resolve().parents[2]


def ev(i: int) -> NewEvent:
    return NewEvent("thing.happened", {"i": i})


def python(script: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script), *args],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


# -- durability --------------------------------------------------------------


def test_reopening_keeps_everything(tmp_path: Path) -> None:
    path = tmp_path / "events.duckdb"
    with DuckDBEventStore(path) as log:
        log.append("b", [ev(1), ev(2)], 1)
        log.append("a", [ev(3)], 1)
        log.append("b", [ev(4)], 3)
        before = log.read_all()

    with DuckDBEventStore(path) as log:
        assert log.read_all() == before
        assert log.streams() == ["b", "a"]
        assert (log.last_seq("a"), log.last_seq("b"), log.last_offset()) == (1, 3, 4)
        with pytest.raises(ConflictError):
            log.append("b", [ev(5)], 1)
        [next_event] = log.append("b", [ev(5)], 4)
        assert (next_event.seq, next_event.offset) == (4, 5)


def test_a_batch_killed_before_commit_leaves_nothing(tmp_path: Path) -> None:
    path = tmp_path / "events.duckdb"
    child = python(
        """
        import os, sys
        from store import DuckDBEventStore, NewEvent

        armed = False

        def crash(events) -> None:
            if armed:
                print("crashing with", len(events), "events", flush=True)
                os._exit(3)

        log = DuckDBEventStore(sys.argv[1], before_commit=crash)
        for i in range(1, 11):
            log.append("kept", [NewEvent("t", {"i": i})], i)
        armed = True
        log.append("doomed", [NewEvent("t", {"i": i}) for i in range(5)], 1)
        print("not reached", flush=True)
        """,
        str(path),
    )
    out, err = child.communicate(timeout=60)
    assert child.returncode == 3, err
    assert out.strip() == "crashing with 5 events"

    assert WriterLock.holder_pid(f"{path}.lock") == child.pid  # stale pid, but no lock
    with DuckDBEventStore(path) as log:
        assert [e.data["i"] for e in log.read_all()] == list(range(1, 11))
        assert log.streams() == ["kept"]
        assert log.last_seq("doomed") == 0
        assert log.append("doomed", [ev(1)], 1)[0].offset == 11


def test_a_failed_commit_fails_its_whole_batch_and_moves_no_head(tmp_path: Path) -> None:
    entered, gate = threading.Event(), threading.Event()
    calls: list[int] = []

    def hook(events: Sequence[StoredEvent]) -> None:
        calls.append(len(events))
        if len(calls) == 1:
            entered.set()
            assert gate.wait(10)  # hold batch 1 open while batch 2 queues up
        if len(calls) == 2:
            raise OSError("disk on fire")

    with DuckDBEventStore(tmp_path / "events.duckdb", before_commit=hook) as log:
        first = log.append_future("x", [ev(1)], 1)
        assert entered.wait(10)
        doomed_y = log.append_future("y", [ev(2)], 1)
        doomed_x = log.append_future("x", [ev(3)], 2)
        conflict = log.append_future("z", [ev(4)], 5)
        gate.set()

        assert first.result(timeout=10)[0].offset == 1
        assert isinstance(conflict.exception(timeout=10), ConflictError)
        for doomed in (doomed_y, doomed_x):
            error = doomed.exception(timeout=10)
            assert type(error) is StoreError
            assert "disk on fire" in str(error)
            assert isinstance(error.__cause__, OSError)
        assert calls == [1, 2]  # y and x went in one batch; z failed alone before it

        assert [e.offset for e in log.read_all()] == [1]
        assert (log.last_seq("x"), log.last_seq("y"), log.last_offset()) == (1, 0, 1)
        assert log.streams() == ["x"]
        assert log.append("y", [ev(2)], 1)[0].offset == 2
        assert [(e.seq, e.offset) for e in log.append("x", [ev(3)], 2)] == [(2, 3)]


def test_group_commit_batches_what_queues_during_a_commit(tmp_path: Path) -> None:
    entered, gate = threading.Event(), threading.Event()
    calls: list[int] = []

    def hook(events: Sequence[StoredEvent]) -> None:
        calls.append(len(events))
        if len(calls) == 1:
            entered.set()
            assert gate.wait(10)

    with DuckDBEventStore(tmp_path / "events.duckdb", before_commit=hook, max_batch=8) as log:
        first = log.append_future("first", [ev(0)], 1)
        assert entered.wait(10)
        rest = [log.append_future(f"s{k}", [ev(k)], 1) for k in range(20)]
        gate.set()
        first.result(timeout=10)
        for future in rest:
            future.result(timeout=10)
        assert calls == [1, 8, 8, 4]
        assert log.last_offset() == 21


# -- the single-writer lock ------------------------------------------------


def test_a_second_store_in_the_same_process_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "events.duckdb"
    with DuckDBEventStore(path) as log:
        log.append("a", [ev(1)], 1)
        with pytest.raises(LockHeldError) as caught:
            DuckDBEventStore(path)
        assert caught.value.pid == os.getpid()
        assert str(os.getpid()) in str(caught.value)
        assert caught.value.path == Path(f"{path}.lock")
        # The refused store did not disturb the holder.
        assert WriterLock.holder_pid(f"{path}.lock") == os.getpid()
        assert log.append("a", [ev(2)], 2)[0].seq == 2
    with DuckDBEventStore(path) as log:
        assert log.last_seq("a") == 2


def test_a_store_held_by_another_process_is_refused_naming_its_pid(tmp_path: Path) -> None:
    path = tmp_path / "events.duckdb"
    child = python(
        """
        import sys
        from store import DuckDBEventStore, NewEvent

        with DuckDBEventStore(sys.argv[1]) as log:
            log.append("child", [NewEvent("t", {})], 1)
            print("ready", flush=True)
            sys.stdin.readline()
        """,
        str(path),
    )
    try:
        assert child.stdout is not None and child.stdin is not None
        assert child.stdout.readline().strip() == "ready"
        with pytest.raises(LockHeldError) as caught:
            DuckDBEventStore(path)
        assert caught.value.pid == child.pid
        assert f"process {child.pid}" in str(caught.value)
        child.stdin.write("\n")
        child.stdin.flush()
        assert child.wait(timeout=30) == 0
    finally:
        child.kill()
        child.communicate()
    with DuckDBEventStore(path) as log:
        assert log.streams() == ["child"]


# -- read-only SQL -----------------------------------------------------------


@pytest.fixture
def filled(tmp_path: Path) -> DuckDBEventStore:
    log = DuckDBEventStore(tmp_path / "events.duckdb")
    log.append("a", [NewEvent("session.status", {"status": "running"})], 1)
    log.append("b", [NewEvent("session.status", {"status": "waiting"})], 1)
    return log


def test_query_fetches_at_most_max_rows(filled: DuckDBEventStore) -> None:
    with filled as log:
        sql = 'SELECT stream FROM events ORDER BY "offset"'
        assert log.query(sql, max_rows=1)[1] == [("a",)]
        assert log.query(sql, max_rows=5)[1] == [("a",), ("b",)]


def test_query_answers_read_only_statements(filled: DuckDBEventStore) -> None:
    with filled as log:
        columns, rows = log.query(
            "SELECT stream, data->>'$.status' AS status FROM events WHERE seq = ? ORDER BY \"offset\"",
            [1],
        )
        assert columns == ["stream", "status"]
        assert rows == [("a", "running"), ("b", "waiting")]
        assert log.query("WITH s AS (SELECT count(*) AS n FROM events) SELECT n FROM s")[1] == [
            (2,)
        ]
        described = dict((row[0], row[1]) for row in log.query("DESCRIBE events")[1])
        assert described == {
            "offset": "BIGINT",
            "stream": "VARCHAR",
            "seq": "BIGINT",
            "ts": "TIMESTAMP",
            "type": "VARCHAR",
            "data": "JSON",
        }
        assert ("events",) in log.query("SHOW TABLES")[1]
        assert log.query("EXPLAIN SELECT * FROM events")[1]
        assert log.query("/* a comment */ select 1 -- and another")[1] == [(1,)]
        assert log.query("SELECT version, name FROM schema_migrations WHERE version = 1")[1] == [
            (1, "create events")
        ]


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO events VALUES (99, 'x', 1, now(), 't', '{}')",
        "UPDATE events SET type = 'x'",
        "DELETE FROM events",
        "CREATE TABLE t (a INT)",
        "DROP TABLE events",
        "ATTACH 'other.duckdb' AS other",
        "COPY events TO 'out.csv'",
        "COPY (SELECT 1) TO 'out.csv'",
        "SELECT 1; DELETE FROM events",
        "SELECT 1; SELECT 2",
        "EXPLAIN ANALYZE DELETE FROM events",
        "explain (format json) delete from events",
        "WITH x AS (SELECT 1) DELETE FROM events",
        "PRAGMA version",
        "SET threads = 1",
        "CHECKPOINT",
        "INSTALL httpfs",
        "LOAD httpfs",
        "VACUUM",
        "EXPORT DATABASE 'dump'",
        "",
        "SELEC 1",
    ],
)
def test_query_refuses_anything_that_is_not_one_read(filled: DuckDBEventStore, sql: str) -> None:
    with filled as log:
        with pytest.raises(StoreError, match=r"^read-only: .*refused"):
            log.query(sql)
        assert [e.type for e in log.read_all()] == ["session.status"] * 2
        assert log.query("SELECT count(*) FROM information_schema.tables")[1] == [(3,)]


def test_query_errors_are_store_errors(filled: DuckDBEventStore) -> None:
    with filled as log, pytest.raises(StoreError, match="nope"):
        log.query("SELECT * FROM nope")


def test_export_parquet_writes_whole_files_in_offset_order(
    filled: DuckDBEventStore, tmp_path: Path
) -> None:
    with filled as log:
        assert log.export_parquet(tmp_path / "all.parquet") == 2
        assert log.export_parquet(tmp_path / "b.parquet", "b") == 1
    reader = duckdb.connect()
    try:
        every = reader.execute(
            "SELECT stream, seq, data->>'$.status' FROM read_parquet(?) ORDER BY \"offset\"",
            [str(tmp_path / "all.parquet")],
        ).fetchall()
        only_b = reader.execute(
            "SELECT stream FROM read_parquet(?)", [str(tmp_path / "b.parquet")]
        ).fetchall()
    finally:
        reader.close()
    assert every == [("a", 1, "running"), ("b", 1, "waiting")]
    assert only_b == [("b",)]
    assert sorted(p.name for p in tmp_path.iterdir() if "parquet" in p.name) == [
        "all.parquet",
        "b.parquet",
    ]
