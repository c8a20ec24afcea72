"""The contract, part two: readers and subscribers, closing, snapshots, deferred appends."""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from concurrent.futures import Future
from typing import Any

import pytest

from store import (
    ConflictError,
    EventStore,
    InvalidArgumentError,
    SerializationError,
    StoreClosedError,
    StoredEvent,
    StoreError,
)

from .support import ContractBase, ev, run_threads


class ReadContract(ContractBase):
    """What readers and subscribers see, and how a store ends."""

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

    def test_read_snapshots_narrowed_to_some_keys_or_without_some(self, log: EventStore) -> None:
        big = "x" * 5000
        log.append("a", [ev(1)], 1, snapshot={"v": 3, "stats": big, "n": None, "o": {"p": [1]}})
        log.append("b", [ev(1)], 1, snapshot={"v": 2})
        log.append("c", [ev(1)], 1)
        only = log.read_snapshots(only=["stats", "n"])
        assert [(s.stream, s.seq, s.data) for s in only] == [
            ("a", 1, {"stats": big, "n": None}),  # a JSON null is kept, a missing key is not
            ("b", 1, {}),
        ]
        omitted = log.read_snapshots(omit=("stats",))
        assert [(s.stream, s.data) for s in omitted] == [
            ("a", {"v": 3, "n": None, "o": {"p": [1]}}),
            ("b", {"v": 2}),
        ]
        assert [s.data for s in log.read_snapshots(omit=())] == [
            s.data for s in log.read_snapshots()
        ]
        assert log.read_snapshots()[0].data["stats"] == big
        for bad in ({"only": ["a'b"]}, {"omit": ['"x']}, {"only": "stats"}, {"omit": [""]}):
            with pytest.raises(InvalidArgumentError):
                log.read_snapshots(**bad)
        with pytest.raises(InvalidArgumentError):
            log.read_snapshots(only=["v"], omit=["stats"])

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
