"""The store contract (`store.testing`) run against a real PostgreSQL server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from store import EventStore
from store.postgres_store import PostgresEventStore
from store.testing import EventStoreContract, MakeStore
from tests.support.postgres import PostgresServer


class TestPostgresStore(EventStoreContract):
    @pytest.fixture
    def make_store(self, postgres_server: PostgresServer) -> Iterator[MakeStore]:
        opened: list[EventStore] = []

        def make(**options: Any) -> EventStore:
            opened.append(PostgresEventStore(postgres_server.new_database(), **options))
            return opened[-1]

        yield make
        for store in opened:
            store.close()
