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

import logging
import math
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator
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
    StoreClosedError,
    StoredEvent,
    StoreError,
)


def ev(i: int = 0, type_: str = "thing.happened", **data: Any) -> NewEvent:
    return NewEvent(type_, {"i": i, **data})


def run_threads(count: int, target: Any) -> None:
    errors: list[BaseException] = []

    def guarded(index: int) -> None:
        try:
            target(index)
        except BaseException as exc:  # surfaced in the test thread below
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors


MakeStore = Callable[..., EventStore]


class EventStoreContract:
    """Every test of the contract; a subclass gives `make_store` (see the module's doc)."""

    @pytest.fixture
    def make_store(self) -> Iterator[MakeStore]:
        raise NotImplementedError("a subclass gives the make_store fixture of its backend")

    @pytest.fixture
    def log(self, make_store: MakeStore) -> EventStore:
        return make_store()

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

    # -- readers and subscribers ------------------------------------------------

    def test_readers_never_see_part_of_an_append(self, log: EventStore) -> None:
        stop = threading.Event()
        problems: list[str] = []

        def reader() -> None:
            while not stop.is_set():
                counts: dict[tuple[str, int], int] = defaultdict(int)
                for event in log.read_all():
                    counts[(event.stream, event.data["i"])] += 1
                problems.extend(f"{key}: {n} of 5" for key, n in counts.items() if n != 5)

        watcher = threading.Thread(target=reader)
        watcher.start()
        try:
            run_threads(
                4, lambda t: [log.append(f"s{t}", [ev(n)] * 5, 5 * n + 1) for n in range(25)]
            )
        finally:
            stop.set()
            watcher.join()
        assert problems == []
        assert log.last_offset() == 4 * 25 * 5

    def test_subscribers_get_every_batch_once_in_order(self, log: EventStore) -> None:
        log.append("before", [ev(0)], 1)  # committed before subscribing: not delivered
        batches: list[list[StoredEvent]] = []
        subscription = log.subscribe(batches.append)

        def append_many(index: int) -> None:
            for n in range(15):
                log.append(f"s{index}", [ev(n), ev(n)], 2 * n + 1)

        run_threads(10, append_many)
        everything = log.read_all()
        log.close()  # drains the writer: every callback has run

        delivered = [event for batch in batches for event in batch]
        assert delivered == everything[1:]
        for batch in batches:
            offsets = [e.offset for e in batch]
            assert offsets == list(range(offsets[0], offsets[0] + len(batch)))
            # The two events of one append are never split across batches.
            seqs_by_stream: dict[str, list[int]] = defaultdict(list)
            for event in batch:
                seqs_by_stream[event.stream].append(event.seq)
            for seqs in seqs_by_stream.values():
                assert seqs[0] % 2 == 1 and len(seqs) % 2 == 0
        subscription.close()

    def test_a_subscription_sees_batches_committed_after_it_returns(self, log: EventStore) -> None:
        seen: list[int] = []
        log.append("a", [ev(1)], 1)
        subscription = log.subscribe(lambda batch: seen.extend(e.offset for e in batch))
        log.append("a", [ev(2)], 2)
        subscription.close()
        subscription.close()  # idempotent
        log.append("a", [ev(3)], 3)
        log.close()
        assert seen == [2]

    def test_a_failing_subscriber_is_logged_and_harms_nobody(
        self, log: EventStore, caplog: pytest.LogCaptureFixture
    ) -> None:
        good: list[int] = []

        def bad(batch: list[StoredEvent]) -> None:
            raise RuntimeError("subscriber bug")

        log.subscribe(bad)
        log.subscribe(lambda batch: good.extend(e.offset for e in batch))
        with caplog.at_level(logging.ERROR, logger="store"):
            log.append("a", [ev(1)], 1)
            log.append("a", [ev(2)], 2)
            log.close()
        assert good == [1, 2]
        assert "subscriber bug" in caplog.text

    # -- closing ---------------------------------------------------------------

    def test_close_drains_pending_appends(self, log: EventStore) -> None:
        futures = [log.append_future(f"s{k}", [ev(n)], n + 1) for n in range(50) for k in range(4)]
        log.close()
        assert all(f.done() for f in futures)
        results = [f.result() for f in futures]
        assert sorted(e.offset for batch in results for e in batch) == list(range(1, 201))

    def test_a_closed_store_refuses_everything(self, log: EventStore) -> None:
        log.append("a", [ev(1)], 1)
        log.close()
        log.close()  # idempotent
        with pytest.raises(StoreClosedError):
            log.append("a", [ev(2)], 2)
        with pytest.raises(StoreClosedError):
            log.read_all()
        with pytest.raises(StoreClosedError):
            log.read_stream("a")
        with pytest.raises(StoreClosedError):
            log.last_seq("a")
        with pytest.raises(StoreClosedError):
            log.subscribe(lambda batch: None)

    def test_a_store_is_a_context_manager(self, make_store: Any) -> None:
        with make_store() as log:
            log.append("a", [ev(1)], 1)
        with pytest.raises(StoreClosedError):
            log.read_all()

    def test_a_subscriber_cannot_block_the_writer_on_itself(self, log: EventStore) -> None:
        outcomes: list[object] = []
        called = threading.Event()

        def reentrant(batch: list[StoredEvent]) -> None:
            if batch[0].stream == "a":
                try:
                    log.append("b", [ev(0)], 1)
                except StoreError as exc:
                    outcomes.append(exc)
                outcomes.append(log.append_future("b", [ev(0)], 1))
                called.set()

        log.subscribe(reentrant)
        log.append("a", [ev(1)], 1)
        assert called.wait(10)
        log.close()
        refused, queued = outcomes
        assert "deadlock" in str(refused)
        assert isinstance(queued, Future) and queued.result()[0].stream == "b"

    # -- snapshots: one projection row per stream, written with the append ------------------

    def test_a_snapshot_lands_with_its_append_at_the_last_seq(self, log: EventStore) -> None:
        log.append("a", [ev(1), ev(2)], 1, snapshot={"n": 2})
        log.append("b", [ev(1)], 1)
        log.append("a", [ev(3)], 3, snapshot={"n": 3, "text": "é"})
        snapshots = log.read_snapshots()
        assert [(s.stream, s.seq, s.data) for s in snapshots] == [("a", 3, {"n": 3, "text": "é"})]

    def test_a_conflicting_append_writes_no_snapshot(self, log: EventStore) -> None:
        log.append("a", [ev(1)], 1, snapshot={"n": 1})
        with pytest.raises(ConflictError):
            log.append("a", [ev(2)], 5, snapshot={"n": 2})
        assert [(s.seq, s.data) for s in log.read_snapshots()] == [(1, {"n": 1})]

    def test_put_snapshot_only_at_the_head(self, log: EventStore) -> None:
        log.append("a", [ev(1), ev(2)], 1)
        log.append("b", [ev(1)], 1)
        with pytest.raises(ConflictError):
            log.put_snapshot("a", 1, {"stale": True}).result()
        with pytest.raises(ConflictError):
            log.put_snapshot("nobody", 1, {}).result()
        log.put_snapshot("b", 1, {"b": 1}).result()
        log.put_snapshot("a", 2, {"a": 2}).result()
        assert [(s.stream, s.seq, s.data) for s in log.read_snapshots()] == [
            ("a", 2, {"a": 2}),
            ("b", 1, {"b": 1}),
        ]
        assert log.last_offset() == 3  # a snapshot is no event

    def test_a_snapshot_is_checked_like_event_data(self, log: EventStore) -> None:
        log.append("a", [ev(1)], 1)
        with pytest.raises(SerializationError):
            log.append("a", [ev(2)], 2, snapshot={"bad": object()})
        assert log.last_seq("a") == 1
        assert log.read_snapshots() == []

    def test_read_stream_of_interleaved_streams_returns_only_its_own(self, log: EventStore) -> None:
        for i in range(1, 30):
            log.append("a", [ev(i)], i)
            if i % 3 == 0:
                log.append("b", [ev(i)], i // 3)
        assert [e.data["i"] for e in log.read_stream("a", after=10, limit=5)] == [
            11,
            12,
            13,
            14,
            15,
        ]
        assert [e.seq for e in log.read_stream("b")] == list(range(1, 10))
        assert log.read_stream("c") == []

    def test_paging_through_a_stream_returns_it_whole(self, log: EventStore) -> None:
        for i in range(1, 41):
            log.append("a", [ev(i), ev(i)], 2 * i - 1)
            log.append("b", [ev(i)], i)
        whole = log.read_stream("a")
        pages: list[StoredEvent] = []
        after = 0
        while page := log.read_stream("a", after=after, limit=7):
            pages += page
            after = page[-1].seq
        assert pages == whole
        # a page that starts at a seq another read ended on, with another limit
        assert log.read_stream("a", after=7, limit=100) == whole[7:]
        assert log.read_stream("a", after=7) == whole[7:]
        assert log.read_stream("b", after=7, limit=3) == log.read_stream("b")[7:10]

    # -- deferred appends: held for one commit with what follows ---------------------------

    def test_a_deferred_append_commits_on_flush_and_not_before(self, make_store: Any) -> None:
        log = make_store(max_defer_s=30.0)
        seen: list[int] = []
        log.subscribe(lambda batch: seen.extend(e.seq for e in batch))
        first = log.append_future("a", [ev(1)], 1, defer=True)
        second = log.append_future("a", [ev(2)], 2, defer=True)
        log.append("b", [ev(0)], 1)  # not deferred: commits what is held with it
        assert first.done() and second.done()
        assert [e.seq for e in log.read_stream("a")] == [1, 2]
        held = log.append_future("a", [ev(3)], 3, defer=True)
        assert not held.done()
        assert [e.seq for e in log.read_stream("a")] == [1, 2]  # not visible before its commit
        assert log.last_seq("a") == 2
        log.flush().result(timeout=10)
        assert held.done() and [e.seq for e in held.result()] == [3]
        assert [e.seq for e in log.read_stream("a")] == [1, 2, 3]
        assert seen == [1, 2, 1, 3]  # a's two, b's one in one batch, then the flushed one

    def test_a_deferred_append_commits_by_itself_after_max_defer(self, make_store: Any) -> None:
        log = make_store(max_defer_s=0.02)
        future = log.append_future("a", [ev(1)], 1, defer=True)
        assert [e.seq for e in future.result(timeout=10)] == [1]
        assert log.read_stream("a")[0].data == {"i": 1}

    def test_close_commits_what_is_deferred(self, make_store: Any) -> None:
        log = make_store(max_defer_s=30.0)
        future = log.append_future("a", [ev(1)], 1, defer=True)
        log.close()
        assert future.done() and future.exception() is None

    def test_a_deferred_conflict_fails_alone_at_the_flush(self, make_store: Any) -> None:
        log = make_store(max_defer_s=30.0)
        good = log.append_future("a", [ev(1)], 1, defer=True)
        bad = log.append_future("a", [ev(2)], 5, defer=True)
        log.flush().result(timeout=10)
        assert good.exception() is None
        assert isinstance(bad.exception(), ConflictError)
        assert log.last_seq("a") == 1

    def test_integers_beyond_64_bits_read_back_exactly(self, log: EventStore) -> None:
        big = 2**70 + 1
        log.append("a", [ev(1, n=big, neg=-big, fine=2**63 - 1)], 1)
        data = log.read_stream("a")[0].data
        assert (data["n"], data["neg"], data["fine"]) == (big, -big, 2**63 - 1)
