"""Properties under random interleavings of concurrent, conflicting appends.

Hypothesis draws what each of a few threads appends (stream, size, and whether
the expected seq is current or stale); the threads then race for real while a
reader polls the log. Whatever the interleaving: seqs stay gapless per stream,
offsets strictly increase, a stale append always conflicts, every successful
append is in the log exactly as it was returned, and no reader ever sees part
of an append.
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from store import (
    ConflictError,
    DuckDBEventStore,
    EventStore,
    InMemoryEventStore,
    NewEvent,
    StoredEvent,
)

STREAMS = ["alpha", "beta", "gamma"]

operation = st.tuples(
    st.sampled_from(STREAMS),
    st.integers(min_value=1, max_value=4),  # events in the append
    st.booleans(),  # stale: expect the current last seq instead of the next one
)
plans = st.lists(st.lists(operation, min_size=1, max_size=10), min_size=2, max_size=5)


@pytest.fixture(scope="module", params=["memory", "duckdb", "postgres"])
def shared_log(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[EventStore]:
    """One store for all the examples of a test: each example works on streams of its own."""
    log: EventStore
    if request.param == "memory":
        log = InMemoryEventStore()
    elif request.param == "postgres":
        from store.postgres_store import PostgresEventStore

        log = PostgresEventStore(request.getfixturevalue("postgres_server").new_database())
    else:
        log = DuckDBEventStore(tmp_path_factory.mktemp("properties") / "e.duckdb")
    with log:
        yield log


def check_whole_appends(events: list[StoredEvent]) -> list[str]:
    """Every append seen is seen whole: all its events, consecutive in seq and offset."""
    parts: dict[str, list[StoredEvent]] = defaultdict(list)
    for event in events:
        parts[event.data["append"]].append(event)
    problems = []
    for append_id, part in parts.items():
        size = part[0].data["of"]
        offsets = [e.offset for e in part]
        seqs = [e.seq for e in part]
        if len(part) != size or offsets != list(range(offsets[0], offsets[0] + size)):
            problems.append(f"append {append_id}: {len(part)} of {size} events, offsets {offsets}")
        elif seqs != list(range(seqs[0], seqs[0] + size)):
            problems.append(f"append {append_id}: seqs {seqs}")
    return problems


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan=plans)
def test_concurrent_appends_keep_the_log_consistent(
    shared_log: EventStore, plan: list[list[tuple[str, int, bool]]]
) -> None:
    log = shared_log
    base = log.last_offset()
    prefix = f"{base}-"  # this example's streams
    streams = [prefix + name for name in STREAMS]
    succeeded: dict[str, list[StoredEvent]] = {}
    stale_outcomes: list[object] = []
    problems: list[str] = []
    done = threading.Event()
    start = threading.Barrier(len(plan) + 2)  # the writers, the reader, this thread

    def writer(thread: int, operations: list[tuple[str, int, bool]]) -> None:
        start.wait()
        for number, (name, size, stale) in enumerate(operations):
            stream = prefix + name
            append_id = f"{thread}.{number}"
            events = [
                NewEvent("t", {"append": append_id, "part": k, "of": size}) for k in range(size)
            ]
            last = log.last_seq(stream)
            try:
                if stale and last > 0:
                    stale_outcomes.append(log.append(stream, events, last))
                    continue
                succeeded[append_id] = log.append(stream, events, last + 1)
            except ConflictError as conflict:
                if stale and last > 0:
                    stale_outcomes.append(conflict)
                # a current expected seq may still lose a race: that is allowed

    def reader() -> None:
        start.wait()
        while not done.is_set():
            problems.extend(check_whole_appends(log.read_all(after=base)))
            for stream in streams:
                seqs = [e.seq for e in log.read_stream(stream)]
                if seqs != list(range(1, len(seqs) + 1)):
                    problems.append(f"{stream} seqs {seqs}")

    threads = [threading.Thread(target=writer, args=item) for item in enumerate(plan)]
    watcher = threading.Thread(target=reader)
    for thread in [*threads, watcher]:
        thread.start()
    start.wait()
    for thread in threads:
        thread.join(timeout=60)
    done.set()
    watcher.join(timeout=60)

    everything = log.read_all(after=base)
    assert problems == []
    assert check_whole_appends(everything) == []
    assert [e.offset for e in everything] == list(range(base + 1, base + len(everything) + 1))
    for stream in streams:
        seqs = [e.seq for e in log.read_stream(stream)]
        assert seqs == list(range(1, len(seqs) + 1))
        assert log.last_seq(stream) == len(seqs)
    assert all(isinstance(outcome, ConflictError) for outcome in stale_outcomes)
    by_append: dict[str, list[StoredEvent]] = defaultdict(list)
    for event in everything:
        by_append[event.data["append"]].append(event)
    assert by_append == succeeded


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@pytest.fixture(scope="module")
def postgres_log(request: pytest.FixtureRequest) -> Iterator[EventStore]:
    from store.postgres_store import PostgresEventStore

    with PostgresEventStore(request.getfixturevalue("postgres_server").new_database()) as log:
        yield log


@settings(max_examples=50, deadline=None)
@given(data=st.dictionaries(st.text(max_size=10), json_values, max_size=5))
def test_any_json_object_round_trips_through_postgres(
    postgres_log: EventStore, data: dict[str, Any]
) -> None:
    expected = json.loads(json.dumps(data))
    stream = f"s{postgres_log.last_offset()}"
    [stored] = postgres_log.append(stream, [NewEvent("t", data)], 1)
    assert stored.data == expected
    assert postgres_log.read_stream(stream)[0].data == expected


@pytest.fixture(scope="module")
def duckdb_log(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EventStore]:
    with DuckDBEventStore(tmp_path_factory.mktemp("roundtrip") / "e.duckdb") as log:
        yield log


@settings(max_examples=50, deadline=None)
@given(data=st.dictionaries(st.text(max_size=10), json_values, max_size=5))
def test_any_json_object_round_trips_through_duckdb(
    duckdb_log: EventStore, data: dict[str, Any]
) -> None:
    expected = json.loads(json.dumps(data))
    stream = f"s{duckdb_log.last_offset()}"
    [stored] = duckdb_log.append(stream, [NewEvent("t", data)], 1)
    assert stored.data == expected
    assert duckdb_log.read_stream(stream)[0].data == expected
