"""`follow`: backlog then live events, with no gap and no duplicate (docs/design.md §7)."""

from __future__ import annotations

import threading

import pytest

from store import EventStore, NewEvent, StoredEvent, follow


def append_in_background(log: EventStore, streams: int, appends: int) -> list[threading.Thread]:
    def run(index: int) -> None:
        for n in range(appends):
            log.append(
                f"s{index}", [NewEvent("t", {"n": n})] * (1 + n % 2), log.last_seq(f"s{index}") + 1
            )

    threads = [threading.Thread(target=run, args=(i,)) for i in range(streams)]
    for thread in threads:
        thread.start()
    return threads


@pytest.mark.parametrize(("after", "page"), [(0, 1000), (7, 3)])
def test_follow_while_appends_go_on_sees_each_event_once(
    log: EventStore, after: int, page: int
) -> None:
    for n in range(10):
        log.append("early", [NewEvent("t", {"n": n})], n + 1)
    writers = append_in_background(log, streams=4, appends=30)
    seen: list[StoredEvent] = []
    subscription = follow(log, after, seen.extend, page=page)
    for writer in writers:
        writer.join()
    everything = log.read_all()
    log.close()  # drains the writer: every live delivery has happened

    assert [e.offset for e in seen] == list(range(after + 1, len(everything) + 1))
    assert seen == everything[after:]
    subscription.close()


def test_follow_from_the_end_delivers_only_new_events(log: EventStore) -> None:
    log.append("a", [NewEvent("t", {})], 1)
    seen: list[int] = []
    with follow(log, log.last_offset(), lambda batch: seen.extend(e.offset for e in batch)):
        log.append("a", [NewEvent("t", {})], 2)
        log.close()
    assert seen == [2]
