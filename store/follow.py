"""Follow the log from a cursor: the backlog, then live batches, no gap, no duplicate.

The order of operations is the whole point (docs/design.md §7): subscribe first, then
read the backlog. Every batch is then either committed before the
subscription existed, and in the backlog, or after, and delivered live; a
batch committed in between is in both, and dropped the second time by its
offsets. Live batches that arrive while the backlog is being read wait in a
buffer, so the callback sees offsets strictly ascending.
"""

from __future__ import annotations

import threading

from store.base import Callback, EventStore, Subscription
from store.codec import check_cursor
from store.events import StoredEvent


def follow(store: EventStore, after: int, callback: Callback, *, page: int = 1000) -> Subscription:
    """Call `callback` with every event of `store` whose offset is > `after`, in order.

    The backlog is delivered in pages from the calling thread before this
    returns; later batches from the store's writer thread. Close the returned
    subscription to stop.
    """
    check_cursor(after, page)
    lock = threading.Lock()
    buffered: list[list[StoredEvent]] = []
    live = False
    delivered = after

    def deliver(events: list[StoredEvent]) -> None:
        nonlocal delivered
        fresh = [event for event in events if event.offset > delivered]
        if fresh:
            delivered = fresh[-1].offset
            callback(fresh)

    def on_batch(events: list[StoredEvent]) -> None:
        with lock:
            if live:
                deliver(events)
            else:
                buffered.append(events)

    subscription = store.subscribe(on_batch)
    try:
        while True:
            backlog = store.read_all(delivered, page)
            deliver(backlog)
            if len(backlog) < page:
                break
        with lock:
            for events in buffered:
                deliver(events)
            buffered.clear()
            live = True
    except BaseException:
        subscription.close()
        raise
    return subscription
