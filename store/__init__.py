"""store: a generic, append-only event store.

Streams of events, each ordered by a gapless `seq`, all of them by a global
`offset`; appends with an expected seq (optimistic concurrency), group-committed
by a single writer thread; subscriptions after each commit; versioned schema.
It knows nothing of agents: `store` imports nothing of agentctl, tui or
sandboxes.

    with DuckDBEventStore(path) as log:
        log.append("ses_1", [NewEvent("message.user", {"text": "hi"})], expected_seq=1)
        log.read_stream("ses_1")

The same on PostgreSQL, for several processes on one database:
`store.postgres_store.PostgresEventStore(url)` (psycopg, the `postgres` extra;
not imported here, so the DuckDB store needs no psycopg).
"""

from store.base import EventStore, Subscription
from store.duckdb_store import DuckDBEventStore, QueryResult, QueryTimeoutError
from store.events import (
    ConflictError,
    EventTooLargeError,
    InvalidArgumentError,
    LeaseLostError,
    LockHeldError,
    NewEvent,
    SerializationError,
    Snapshot,
    StoreClosedError,
    StoredEvent,
    StoreError,
)
from store.follow import follow
from store.lock import WriterLock
from store.memory import InMemoryEventStore
from store.migrations import MIGRATIONS, Migration

__all__ = [
    "MIGRATIONS",
    "ConflictError",
    "DuckDBEventStore",
    "EventStore",
    "EventTooLargeError",
    "InMemoryEventStore",
    "InvalidArgumentError",
    "LeaseLostError",
    "LockHeldError",
    "Migration",
    "NewEvent",
    "QueryResult",
    "QueryTimeoutError",
    "SerializationError",
    "Snapshot",
    "StoreClosedError",
    "StoreError",
    "StoredEvent",
    "Subscription",
    "WriterLock",
    "follow",
]
