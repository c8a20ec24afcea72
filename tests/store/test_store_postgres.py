"""What the PostgreSQL store does beyond the contract: several writers on one database.

Two stores in one process are two writers as far as the database knows (each
its own pool, listener and writer thread); the subprocess test uses real
separate processes. All against the real server of `postgres_server`.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

import pytest

from store import ConflictError, NewEvent, StoredEvent, StoreError
from store.duckdb_store import QueryTimeoutError
from store.postgres_store import LISTENER, PostgresEventStore
from tests.support.postgres import PostgresServer


def ev(i: int) -> NewEvent:
    return NewEvent("thing.happened", {"i": i})


class Collector:
    """A subscriber that records batches and lets a test wait for an offset."""

    def __init__(self) -> None:
        self.batches: list[list[StoredEvent]] = []
        self.threads: set[str] = set()
        self._cond = threading.Condition()

    def __call__(self, batch: list[StoredEvent]) -> None:
        with self._cond:
            self.batches.append(batch)
            self.threads.add(threading.current_thread().name)
            self._cond.notify_all()

    @property
    def events(self) -> list[StoredEvent]:
        return [e for batch in self.batches for e in batch]

    def wait_for(self, offset: int, timeout: float = 20.0) -> None:
        with self._cond:
            ok = self._cond.wait_for(
                lambda: bool(self.batches) and self.batches[-1][-1].offset >= offset, timeout
            )
        assert ok, f"offset {offset} not delivered; got up to {self.events[-1:]}"


def test_two_writers_share_one_log_gapless(postgres_server: PostgresServer) -> None:
    url = postgres_server.new_database()
    with PostgresEventStore(url) as a, PostgresEventStore(url) as b:
        seen = Collector()
        a.subscribe(seen)

        def writer(store: PostgresEventStore, name: str) -> None:
            for n in range(30):
                store.append(name, [ev(n), ev(n)], 2 * n + 1)
                while True:  # a stream both write: the loser re-reads and retries
                    try:
                        store.append("shared", [ev(n)], store.last_seq("shared") + 1)
                        break
                    except ConflictError:
                        continue

        threads = [
            threading.Thread(target=writer, args=(store, f"{label}{k}"))
            for store, label in ((a, "a"), (b, "b"))
            for k in range(3)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        everything = a.read_all()
        assert everything == b.read_all()
        assert [e.offset for e in everything] == list(range(1, 6 * 90 + 1))
        by_stream: dict[str, list[int]] = defaultdict(list)
        for event in everything:
            by_stream[event.stream].append(event.seq)
        assert all(seqs == list(range(1, len(seqs) + 1)) for seqs in by_stream.values())
        assert len(by_stream["shared"]) == 6 * 30
        assert a.last_offset() == b.last_offset() == 540
        assert a.streams() == b.streams()
        # a's subscriber got its own batches and b's (through NOTIFY), once each, in order
        seen.wait_for(540)
        assert seen.events == everything
        assert len(seen.threads) == 1  # all from a's writer thread


def test_a_stale_writer_conflicts(postgres_server: PostgresServer) -> None:
    url = postgres_server.new_database()
    with PostgresEventStore(url) as a, PostgresEventStore(url) as b:
        a.append("ses", [ev(1)], 1)
        with pytest.raises(ConflictError) as caught:
            b.append("ses", [ev(1)], 1)  # b never saw a's append: the database did
        assert caught.value.actual_next_seq == 2
        assert b.last_seq("ses") == 1


_CHILD = """
import sys
from store import ConflictError, NewEvent
from store.postgres_store import LISTENER, PostgresEventStore
url, name = sys.argv[1], sys.argv[2]
with PostgresEventStore(url) as log:
    for n in range(40):
        log.append(name, [NewEvent("t", {"n": n})], n + 1)
        while True:
            try:
                log.append("shared", [NewEvent("t", {"by": name})], log.last_seq("shared") + 1)
                break
            except ConflictError:
                continue
"""


def test_processes_append_and_a_follower_gets_every_batch(postgres_server: PostgresServer) -> None:
    url = postgres_server.new_database()
    with PostgresEventStore(url) as follower:
        seen = Collector()
        follower.subscribe(seen)
        children = [
            subprocess.Popen([sys.executable, "-c", _CHILD, url, f"p{k}"]) for k in range(3)
        ]
        assert [child.wait(120) for child in children] == [0, 0, 0]
        total = 3 * 40 * 2
        seen.wait_for(total)
        everything = follower.read_all()
        assert [e.offset for e in everything] == list(range(1, total + 1))
        assert seen.events == everything  # nothing missed, nothing twice, in order
        assert [e.seq for e in follower.read_stream("shared")] == list(range(1, 121))


def test_the_listener_reconnects_and_catches_up(postgres_server: PostgresServer) -> None:
    url = postgres_server.new_database()
    with PostgresEventStore(url) as a, PostgresEventStore(url) as b:
        seen = Collector()
        a.subscribe(seen)
        b.append("x", [ev(1)], 1)
        seen.wait_for(1)
        # kill every LISTENing backend (a's and b's listeners), then write while they are down
        import psycopg

        with psycopg.connect(postgres_server.url("postgres", "postgres")) as admin:
            killed = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = %s AND datname = current_database()",
                [LISTENER],
            ).fetchone()
        assert killed == (0,)  # another database: the filter names the right ones
        with psycopg.connect(url.replace("agentctl@", "postgres@")) as admin:
            killed = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = %s AND datname = current_database()",
                [LISTENER],
            ).fetchone()
        assert killed == (2,)
        b.append("x", [ev(2)], 2)
        b.append("x", [ev(3)], 3)
        seen.wait_for(3)
        assert [e.offset for e in seen.events] == [1, 2, 3]


def test_reopening_continues_the_log(postgres_server: PostgresServer) -> None:
    url = postgres_server.new_database()
    with PostgresEventStore(url) as log:
        log.append("a", [ev(1), ev(2)], 1, snapshot={"n": 2})
        version = log.schema_version()
    with PostgresEventStore(url) as log:
        assert log.schema_version() == version == 4
        assert log.append("a", [ev(3)], 3)[0].offset == 3
        assert [s.data for s in log.read_snapshots()] == [{"n": 2}]


def test_a_newer_schema_is_refused(postgres_server: PostgresServer) -> None:
    url = postgres_server.new_database()
    PostgresEventStore(url).close()
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO schema_migrations (version, name) VALUES (99, 'future')")
    with pytest.raises(StoreError, match="schema version 99, newer"):
        PostgresEventStore(url)


def test_an_unreachable_server_is_a_clear_error_without_the_password() -> None:
    with pytest.raises(StoreError) as caught:
        PostgresEventStore("postgresql://agentctl:s3cret@127.0.0.1:1/nope", connect_timeout_s=1.0)
    assert "cannot open the event store postgresql://agentctl@127.0.0.1:1/nope" in str(caught.value)
    assert "s3cret" not in str(caught.value)


# -- the read-only query of `agentctl sql` ---------------------------------------------


def test_query_reads_and_bounds(postgres_server: PostgresServer) -> None:
    with PostgresEventStore(postgres_server.new_database()) as log:
        log.append("a", [ev(i) for i in range(5)], 1)
        columns, rows = log.query(
            "SELECT seq, data->>'i' AS i FROM events WHERE stream = %s ORDER BY seq", ["a"]
        )
        assert columns == ["seq", "i"]
        assert rows == [(n, str(n - 1)) for n in range(1, 6)]
        result = log.query_bounded("SELECT * FROM events", max_rows=2)
        assert len(result.rows) == 2 and result.truncated
        with pytest.raises(QueryTimeoutError):
            log.query_bounded("SELECT pg_sleep(5)", timeout_s=0.2)
        assert log.append("a", [ev(9)], 6)[0].seq == 6  # the pool survived the cancel


@pytest.mark.parametrize(
    "sql",
    [
        "DELETE FROM events",
        "SELECT 1; DELETE FROM events",
        "WITH gone AS (DELETE FROM events RETURNING *) SELECT count(*) FROM gone",
        "SELECT pg_read_file('/etc/passwd')",
        "SELECT * INTO TABLE copied FROM events",
    ],
)
def test_query_writes_nothing_and_reads_no_files(postgres_server: PostgresServer, sql: str) -> None:
    with PostgresEventStore(postgres_server.new_database()) as log:
        log.append("a", [ev(1)], 1)
        with pytest.raises(StoreError):
            log.query(sql)
        assert log.last_offset() == 1 and len(log.read_all()) == 1


def test_query_is_refused_on_a_superuser_connection(postgres_server: PostgresServer) -> None:
    url = postgres_server.new_database().replace("agentctl@", "postgres@")
    with PostgresEventStore(url) as log, pytest.raises(StoreError, match="superuser"):
        log.query("SELECT 1")


def test_reads_after_close_are_refused(postgres_server: PostgresServer) -> None:
    log = PostgresEventStore(postgres_server.new_database())
    log.append("a", [ev(1)], 1)
    started = time.monotonic()
    log.close()
    assert time.monotonic() - started < 3  # the listener stops at once, not at its timeout
    with pytest.raises(StoreError):
        log.last_offset()


def test_a_missing_postgresql_fails_and_says_make_postgres(tmp_path: Path) -> None:
    from tests.support.postgres import postgres_bin

    with pytest.raises(pytest.fail.Exception, match="run `make postgres`"):
        postgres_bin(str(tmp_path / "*" / "bin" / "initdb"))


def test_another_store_closing_does_not_disturb_the_listener(
    postgres_server: PostgresServer, caplog: pytest.LogCaptureFixture
) -> None:
    url = postgres_server.new_database()
    with PostgresEventStore(url) as a:
        seen = Collector()
        a.subscribe(seen)
        with caplog.at_level("WARNING", logger="store"):
            with PostgresEventStore(url) as b:
                b.append("x", [ev(1)], 1)
            seen.wait_for(1)  # b's stop notice went out before its close returned
            with PostgresEventStore(url) as c:
                c.append("x", [ev(2)], 2)
            seen.wait_for(2)
        assert "LISTEN failed" not in caplog.text


def test_a_failed_commit_writes_nothing_and_the_next_append_works(
    postgres_server: PostgresServer,
) -> None:
    armed = [True]

    def fail_once(events: object) -> None:
        if armed[0]:
            armed[0] = False
            raise RuntimeError("injected before COMMIT")

    url = postgres_server.new_database()
    with PostgresEventStore(url, before_commit=fail_once) as log, PostgresEventStore(url) as b:
        with pytest.raises(StoreError, match="not committed: injected"):
            log.append("a", [ev(1), ev(2)], 1, snapshot={"n": 2})
        assert (log.last_offset(), log.last_seq("a"), log.streams()) == (0, 0, [])
        assert log.read_snapshots() == [] and b.read_all() == []
        assert [e.offset for e in log.append("a", [ev(1)], 1)] == [1]
        assert b.append("a", [ev(2)], 2)[0].offset == 2


def test_closing_still_delivers_what_others_committed_before_the_last_batch(
    postgres_server: PostgresServer,
) -> None:
    url = postgres_server.new_database()
    with PostgresEventStore(url) as b:
        a = PostgresEventStore(url, max_defer_s=30.0)
        seen = Collector()
        a.subscribe(seen)
        held = a.append_future("a", [ev(1)], 1, defer=True)  # written by close()
        # a's listener is cut off (it waits a second before reconnecting): only the
        # writer's own catch-up read, while it drains at close, can deliver b's event
        import psycopg

        with psycopg.connect(url.replace("agentctl@", "postgres@")) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = %s AND datname = current_database()",
                [LISTENER],
            )
        b.append("b", [ev(1)], 1)
        a.close()
        assert held.result()[0].offset == 2
        # b's event (offset 1) came first, through the catch-up read, though a was closing
        assert [e.offset for e in seen.events] == [1, 2]


def test_appends_stay_right_on_a_database_that_defaults_to_repeatable_read(
    postgres_server: PostgresServer,
) -> None:
    url = postgres_server.new_database()
    database = url.rsplit("/", 1)[1]
    postgres_server.admin(
        f"ALTER DATABASE {database} SET default_transaction_isolation = 'repeatable read'"
    )
    with PostgresEventStore(url) as a, PostgresEventStore(url) as b:

        def race(store: PostgresEventStore) -> None:
            for _ in range(40):
                while True:
                    try:
                        store.append("shared", [ev(0)], store.last_seq("shared") + 1)
                        break
                    except ConflictError:
                        continue

        threads = [threading.Thread(target=race, args=(s,)) for s in (a, b, a, b)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert [e.seq for e in a.read_stream("shared")] == list(range(1, 161))


def test_a_failing_migration_is_named_and_leaves_nothing_half_done(
    postgres_server: PostgresServer,
) -> None:
    from store.migrations import Migration
    from store.postgres_schema import PG_MIGRATIONS

    url = postgres_server.new_database()
    last = PG_MIGRATIONS[-1].version
    broken = Migration(
        last + 1, "add a column", "ALTER TABLE events ADD COLUMN x INT; SELECT nope;"
    )
    with pytest.raises(StoreError, match=rf"schema migration {last + 1} \(add a column\) failed"):
        PostgresEventStore(url, migrations=(*PG_MIGRATIONS, broken))
    with PostgresEventStore(url) as log:  # still at the last version, the column rolled back
        assert log.schema_version() == last
        assert log.append("a", [ev(1)], 1)[0].offset == 1
    import psycopg

    with psycopg.connect(url) as conn:
        columns = conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'events'"
        ).fetchall()
    assert ("x",) not in columns
