"""The lease fence: a worker's append is written only while it holds the session's lease.

The expected seq alone cannot stop a worker that was frozen past its lease:
it folds the other workers' commits, so its seq is current. The store checks
the lease named by the append in the append's own transaction, by the
database's clock. Against the real server of `postgres_server`.
"""

from __future__ import annotations

import threading
from pathlib import Path

import psycopg
import pytest

from store import (
    DuckDBEventStore,
    InMemoryEventStore,
    InvalidArgumentError,
    LeaseLostError,
    NewEvent,
)
from store.postgres_store import PostgresEventStore
from tests.support.postgres import PostgresServer


def ev(i: int) -> NewEvent:
    return NewEvent("thing.happened", {"i": i})


def _leased(url: str, store: PostgresEventStore, *sessions: str, to: str = "w1") -> None:
    table = store.lease_table(60)
    table.register(to, "host", 1)
    table.offer(list(sessions))
    assert sorted(s for s, _ in table.claim(to, len(sessions))) == sorted(sessions)


def _expire(url: str, session: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "UPDATE session_leases SET expires_at = now() - interval '1 second' WHERE session = %s",
            [session],
        )


def test_the_owner_appends_and_others_are_refused_with_nothing_written(
    postgres_server: PostgresServer,
) -> None:
    url = postgres_server.new_database()
    with PostgresEventStore(url) as store:
        store.append("s", [ev(1)], 1)
        _leased(url, store, "s")
        assert [e.seq for e in store.append_future("s", [ev(2)], 2, lease="w1").result()] == [2]
        with pytest.raises(LeaseLostError, match="'w2' does not hold the lease on stream 's'"):
            store.append_future("s", [ev(3)], 3, lease="w2").result()
        assert store.last_seq("s") == 2
        # without a lease (a decision made through a worker that does not own the
        # session), the expected seq alone decides, as before
        assert [e.seq for e in store.append_future("s", [ev(3)], 3).result()] == [3]


def test_an_expired_or_released_lease_refuses_even_its_owner(
    postgres_server: PostgresServer,
) -> None:
    url = postgres_server.new_database()
    with PostgresEventStore(url) as store:
        _leased(url, store, "s", "t")
        _expire(url, "s")
        with pytest.raises(LeaseLostError):
            store.append_future("s", [ev(1)], 1, lease="w1").result()
        store.lease_table(60).release("w1", ["t"])  # ended: its row is gone
        with pytest.raises(LeaseLostError):
            store.append_future("t", [ev(1)], 1, lease="w1").result()
        assert store.streams() == []


def test_in_one_batch_only_the_append_whose_lease_is_lost_fails(
    postgres_server: PostgresServer,
) -> None:
    url = postgres_server.new_database()
    with PostgresEventStore(url, max_defer_s=5.0) as store:
        _leased(url, store, "a", "b")
        _expire(url, "b")
        held = store.append_future("a", [ev(1)], 1, defer=True, lease="w1")
        lost = store.append_future("b", [ev(1)], 1, defer=True, lease="w1")
        free = store.append_future("c", [ev(1)], 1, defer=True)
        store.flush().result()
        assert held.result()[0].offset + 1 == free.result()[0].offset  # one batch, gapless
        with pytest.raises(LeaseLostError):
            lost.result()
        assert sorted(store.streams()) == ["a", "c"]


def test_a_claim_passes_over_a_lease_whose_append_is_committing(
    postgres_server: PostgresServer,
) -> None:
    """The fence holds from its check to COMMIT: a claim cannot take the lease in between."""
    url = postgres_server.new_database()
    inside, go = threading.Event(), threading.Event()

    def hold(_events: object) -> None:
        inside.set()
        assert go.wait(30)

    with PostgresEventStore(url, before_commit=hold) as owner, PostgresEventStore(url) as other:
        _leased(url, other, "s")
        pending = owner.append_future("s", [ev(1)], 1, lease="w1")
        try:
            assert inside.wait(30)
            _expire(url, "s")  # the lease runs out while the append commits
            table = other.lease_table(60)
            table.register("w2", "host", 2)
            assert table.claim("w2", 1) == []  # passed over, not waited on
        finally:
            go.set()
        assert [e.seq for e in pending.result()] == [1]
        assert table.claim("w2", 1) == [("s", "w1")]  # now it is free to take
        with pytest.raises(LeaseLostError):
            owner.append_future("s", [ev(2)], 2, lease="w1").result()
        assert other.append_future("s", [ev(2)], 2, lease="w2").result()[0].seq == 2


def test_stores_without_leases_refuse_a_leased_append(tmp_path: Path) -> None:
    with DuckDBEventStore(tmp_path / "log.duckdb") as duck, InMemoryEventStore() as memory:
        for store in (duck, memory):
            with pytest.raises(InvalidArgumentError, match="no leases"):
                store.append_future("s", [ev(1)], 1, lease="w1")
            assert store.streams() == []
