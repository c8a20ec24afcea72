"""The store contract (`store.testing`) run against each backend of this repository."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from store import DuckDBEventStore, EventStore, InMemoryEventStore
from store.testing import EventStoreContract, MakeStore


class TestInMemoryStore(EventStoreContract):
    @pytest.fixture
    def make_store(self) -> Iterator[MakeStore]:
        opened: list[EventStore] = []

        def make(**options: Any) -> EventStore:
            opened.append(InMemoryEventStore(**options))
            return opened[-1]

        yield make
        for store in opened:
            store.close()


class TestDuckDBStore(EventStoreContract):
    @pytest.fixture
    def make_store(self, tmp_path: Path) -> Iterator[MakeStore]:
        opened: list[EventStore] = []

        def make(**options: Any) -> EventStore:
            opened.append(DuckDBEventStore(tmp_path / f"events-{len(opened)}.duckdb", **options))
            return opened[-1]

        yield make
        for store in opened:
            store.close()
