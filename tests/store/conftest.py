"""Fixtures of the store tests: every contract test runs once per backend.

`make_store` opens stores of the backend under test (the DuckDB ones on real
files in the test's temp dir, the PostgreSQL ones each on a fresh database of
the run's real server) and closes them all at the end of the test.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from store import DuckDBEventStore, EventStore, InMemoryEventStore
from store.testing import MakeStore


@pytest.fixture(params=["memory", "duckdb", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_store(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[MakeStore]:
    opened: list[EventStore] = []

    def make(**options: Any) -> EventStore:
        store: EventStore
        if backend == "memory":
            store = InMemoryEventStore(**options)
        elif backend == "postgres":
            from store.postgres_store import PostgresEventStore

            server = request.getfixturevalue("postgres_server")  # started only when needed
            store = PostgresEventStore(server.new_database(), **options)
        else:
            store = DuckDBEventStore(tmp_path / f"events-{len(opened)}.duckdb", **options)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def log(make_store: MakeStore) -> EventStore:
    return make_store()
