"""The contract every `EventStore` keeps, as a suite another backend can run.

Subclass `EventStoreContract` in a test module of your backend and give it
a `make_store` fixture that opens stores of it (closing them at teardown);
pytest then runs every test of the contract against it, as eventsourcing
ships its recorder tests:

    class TestMyStore(EventStoreContract):
        @pytest.fixture
        def make_store(self, tmp_path):
            opened = []
            def make(**options):
                opened.append(MyStore(tmp_path / f"{len(opened)}.db", **options))
                return opened[-1]
            yield make
            for store in opened:
                store.close()

`make_store(**options)` takes the options every store does (`max_event_bytes`,
`max_batch`, `max_defer_s`, ...). This module needs pytest, which the store
itself does not.
"""

from __future__ import annotations

from .reads import ReadContract
from .support import ContractBase, MakeStore, ev, run_threads
from .writes import WriteContract


class EventStoreContract(WriteContract, ReadContract):
    """Every test of the contract; a subclass gives `make_store` (see the module's doc)."""


__all__ = [
    "ContractBase",
    "EventStoreContract",
    "MakeStore",
    "ReadContract",
    "WriteContract",
    "ev",
    "run_threads",
]
