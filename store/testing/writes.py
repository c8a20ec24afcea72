"""The contract, part one: appends and reads, optimistic concurrency, validation."""

from __future__ import annotations

import math
import threading
from collections import defaultdict
from concurrent.futures import Future
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from store import (
    ConflictError,
    EventStore,
    EventTooLargeError,
    InvalidArgumentError,
    NewEvent,
    SerializationError,
    StoredEvent,
    StoreError,
)

from .support import ContractBase, ev, run_threads


class WriteContract(ContractBase):
    """What an append does, and what it refuses."""

    # -- append and read ---------------------------------------------------------

    def test_append_returns_what_a_read_returns(self, log: EventStore) -> None:
        before = datetime.now(UTC)
        stored = log.append("s1", [ev(1), ev(2, tags=("a", "b")), ev(3, nested={"k": [1, 2.5]})], 1)
        after = datetime.now(UTC)

        assert [(e.stream, e.seq, e.offset) for e in stored] == [
            ("s1", 1, 1),
            ("s1", 2, 2),
            ("s1", 3, 3),
        ]
        assert stored[1].data == {"i": 2, "tags": ["a", "b"]}  # what JSON makes of a tuple
        assert all(e.type == "thing.happened" for e in stored)
        assert all(e.ts.tzinfo is not None and e.ts.utcoffset() == timedelta(0) for e in stored)
        assert all(before <= e.ts <= after for e in stored)
        assert log.read_stream("s1") == stored
        assert log.read_all() == stored

    def test_seq_is_per_stream_and_offset_is_global(self, log: EventStore) -> None:
        log.append("a", [ev(1)], 1)
        log.append("b", [ev(2), ev(3)], 1)
        log.append("a", [ev(4)], 2)

        assert [(e.stream, e.seq, e.offset) for e in log.read_all()] == [
            ("a", 1, 1),
            ("b", 1, 2),
            ("b", 2, 3),
            ("a", 2, 4),
        ]
        assert [e.seq for e in log.read_stream("a")] == [1, 2]
        assert log.last_seq("a") == 2
        assert log.last_seq("b") == 2
        assert log.last_seq("never") == 0
        assert log.last_offset() == 4
        assert log.streams() == ["a", "b"]

    def test_an_empty_store(self, log: EventStore) -> None:
        assert log.read_all() == []
        assert log.read_stream("x") == []
        assert log.last_offset() == 0
        assert log.streams() == []
        assert log.schema_version() >= 1

    def test_reads_honour_after_and_limit(self, log: EventStore) -> None:
        log.append("a", [ev(i) for i in range(1, 6)], 1)
        log.append("b", [ev(i) for i in range(6, 9)], 1)

        assert [e.seq for e in log.read_stream("a", after=2)] == [3, 4, 5]
        assert [e.seq for e in log.read_stream("a", after=1, limit=2)] == [2, 3]
        assert log.read_stream("a", after=5) == []
        assert log.read_stream("a", limit=0) == []
        assert [e.offset for e in log.read_all(after=4)] == [5, 6, 7, 8]
        assert [e.offset for e in log.read_all(after=4, limit=3)] == [5, 6, 7]
        assert log.read_all(after=8) == []
        assert log.read_all(after=100) == []
        assert log.read_all(limit=0) == []
        with pytest.raises(InvalidArgumentError):
            log.read_all(after=-1)
        with pytest.raises(InvalidArgumentError):
            log.read_stream("a", limit=-1)

    def test_explicit_timestamps_are_kept_in_utc(self, log: EventStore) -> None:
        paris = timezone(timedelta(hours=1))
        when = datetime(2026, 11, 21, 22, 30, 0, 123456, tzinfo=paris)
        [stored] = log.append("a", [NewEvent("t", {}, ts=when)], 1)
        assert stored.ts == when
        assert stored.ts.tzinfo == UTC
        assert log.read_stream("a")[0].ts == datetime(2026, 11, 21, 21, 30, 0, 123456, tzinfo=UTC)

    def test_data_read_back_is_a_copy(self, log: EventStore) -> None:
        log.append("a", [ev(1, items=[1, 2])], 1)
        first = log.read_stream("a")[0]
        first.data["items"].append(3)
        assert log.read_stream("a")[0].data == {"i": 1, "items": [1, 2]}

    def test_unicode_and_awkward_json_round_trip(self, log: EventStore) -> None:
        data = {
            "text": 'héllo \u2603 \U0001f600 \x00 "quoted" \\ back',
            "big": 10**30,
            "float": 0.1,
            "tiny": 5e-324,
            "nested": {"": [None, True, False, {"deep": [[[]]]}]},
        }
        [stored] = log.append("流-1", [NewEvent("ünïcode", data)], 1)
        assert stored.data == data
        assert log.read_stream("流-1")[0].data == data
        assert log.streams() == ["流-1"]

    # -- optimistic concurrency --------------------------------------------------

    @pytest.mark.parametrize("expected", [1, 2, 4])
    def test_a_wrong_expected_seq_conflicts_and_writes_nothing(
        self, log: EventStore, expected: int
    ) -> None:
        log.append("a", [ev(1), ev(2)], 1)
        with pytest.raises(ConflictError) as caught:
            log.append("a", [ev(3), ev(4)], expected)

        assert caught.value.stream == "a"
        assert caught.value.expected_seq == expected
        assert caught.value.actual_next_seq == 3
        assert "'a'" in str(caught.value) and "3" in str(caught.value)
        assert log.last_seq("a") == 2
        assert log.last_offset() == 2
        assert len(log.read_all()) == 2
        assert log.append("a", [ev(3)], 3)[0].seq == 3

    def test_a_new_stream_expects_seq_1(self, log: EventStore) -> None:
        with pytest.raises(ConflictError) as caught:
            log.append("new", [ev()], 2)
        assert caught.value.actual_next_seq == 1
        assert log.streams() == []

    def test_racing_appenders_with_the_same_expected_seq_one_wins(self, log: EventStore) -> None:
        racers = 12
        for round_ in range(1, 4):
            barrier = threading.Barrier(racers)
            outcomes: list[object] = []

            def race(
                index: int,
                round_: int = round_,
                barrier: threading.Barrier = barrier,
                outcomes: list[object] = outcomes,
            ) -> None:
                barrier.wait()
                try:
                    outcomes.append(log.append("contested", [ev(index), ev(index)], 2 * round_ - 1))
                except ConflictError as exc:
                    outcomes.append(exc)

            run_threads(racers, race)
            winners = [o for o in outcomes if isinstance(o, list)]
            losers = [o for o in outcomes if isinstance(o, ConflictError)]
            assert len(winners) == 1
            assert len(losers) == racers - 1
            assert {(c.expected_seq, c.actual_next_seq) for c in losers} == {
                (2 * round_ - 1, 2 * round_ + 1)
            }
        assert [e.seq for e in log.read_stream("contested")] == [1, 2, 3, 4, 5, 6]

    def test_concurrent_appenders_all_land_gapless(self, log: EventStore) -> None:
        threads, appends = 16, 20

        def append_many(index: int) -> None:
            own = f"own-{index}"
            for n in range(appends):
                size = 1 + (index + n) % 3
                log.append(own, [ev(n, part=p) for p in range(size)], log.last_seq(own) + 1)
                # Four threads share a stream: on a conflict they re-read and retry.
                shared = f"shared-{index % 4}"
                while True:
                    try:
                        log.append(shared, [ev(n, thread=index)], log.last_seq(shared) + 1)
                        break
                    except ConflictError:
                        continue

        run_threads(threads, append_many)

        everything = log.read_all()
        assert [e.offset for e in everything] == list(range(1, len(everything) + 1))
        by_stream: dict[str, list[StoredEvent]] = defaultdict(list)
        for event in everything:
            by_stream[event.stream].append(event)
        assert len(by_stream) == threads + 4
        for stream, events in by_stream.items():
            assert [e.seq for e in events] == list(range(1, len(events) + 1)), stream
            assert log.read_stream(stream) == events
        for index in range(threads):
            own = by_stream[f"own-{index}"]
            assert [e.data["i"] for e in own if e.data["part"] == 0] == list(range(appends))
        assert sum(len(by_stream[f"shared-{k}"]) for k in range(4)) == threads * appends

    def test_append_future_resolves_to_the_stored_events(self, log: EventStore) -> None:
        future = log.append_future("a", [ev(1)], 1)
        assert isinstance(future, Future)
        [stored] = future.result(timeout=10)
        assert (stored.seq, stored.offset) == (1, 1)
        conflict = log.append_future("a", [ev(2)], 1)
        with pytest.raises(ConflictError):
            conflict.result(timeout=10)

    # -- validation: nothing queued, nothing written -----------------------------

    def test_an_event_over_the_limit_writes_nothing(self, make_store: Any) -> None:
        log: EventStore = make_store(max_event_bytes=200)
        with pytest.raises(EventTooLargeError) as caught:
            log.append("a", [ev(1), NewEvent("big", {"blob": "x" * 300})], 1)
        assert caught.value.limit == 200
        assert caught.value.size > 300
        assert "big" in str(caught.value) and "200" in str(caught.value)
        assert log.read_all() == []
        assert log.last_seq("a") == 0

        # The limit counts the serialised data and type, in UTF-8 bytes.
        fits = NewEvent("t", {"b": "é" * 90})  # 1 + len('{"b":""}') + 180 bytes
        assert log.append("a", [fits], 1)[0].seq == 1
        with pytest.raises(EventTooLargeError):
            log.append("a", [NewEvent("t", {"b": "é" * 96})], 2)

    @pytest.mark.parametrize(
        ("data", "where"),
        [
            ({"when": datetime(2026, 1, 1)}, "data.when"),
            ({"args": [1, 2, {"f": object()}]}, "data.args[2].f"),
            ({"ratio": math.nan}, "data.ratio"),
            ({"ids": {1, 2}}, "data.ids"),
            ({(1, 2): "tuple key"}, "key (1, 2)"),
            ({"bytes": b"raw"}, "data.bytes"),
        ],
    )
    def test_unserialisable_data_is_refused_naming_where(
        self, log: EventStore, data: dict[Any, Any], where: str
    ) -> None:
        with pytest.raises(SerializationError) as caught:
            log.append("a", [ev(1), NewEvent("tool.finished", data)], 1)
        assert "'tool.finished'" in str(caught.value)
        assert where in str(caught.value)
        assert log.read_all() == []

    def test_circular_data_is_refused(self, log: EventStore) -> None:
        data: dict[str, Any] = {"a": []}
        data["a"].append(data)
        with pytest.raises(SerializationError, match="circular"):
            log.append("a", [NewEvent("t", data)], 1)

    @pytest.mark.parametrize(
        ("stream", "events", "expected_seq"),
        [
            ("a", [], 1),
            ("", [NewEvent("t", {})], 1),
            ("a", [NewEvent("t", {})], 0),
            ("a", [NewEvent("t", {})], True),
            ("a", NewEvent("t", {}), 1),
            ("a", [NewEvent("", {})], 1),
            ("a", [NewEvent("t", {}, ts=datetime(2026, 1, 1))], 1),  # naive
            ("a", [{"type": "t", "data": {}}], 1),
        ],
    )
    def test_malformed_appends_are_refused_before_queueing(
        self, log: EventStore, stream: str, events: Any, expected_seq: Any
    ) -> None:
        with pytest.raises(InvalidArgumentError):
            log.append_future(stream, events, expected_seq)
        assert log.read_all() == []

    def test_store_errors_are_one_family(self) -> None:
        for error in (ConflictError, EventTooLargeError, SerializationError, InvalidArgumentError):
            assert issubclass(error, StoreError)
        assert issubclass(InvalidArgumentError, ValueError)
