"""A fork's copy is folded once, whether its own append or the log's echo of it comes first.

A worker follows every commit of the shared log, its own too. For the events
it submits that is harmless (they are folded before they are sent), but a
fork's copy is folded when the store answers, and the echo can be folded
first, as if another process had written it. The store here is the real
in-memory store, whose answer is held until the echo has been folded: the
order a PostgreSQL worker's subscription can give (exact fault injection).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import Future
from typing import Any

from agentctl.crashpoints import CrashPoints
from agentctl.protocol import SessionStatus, SessionStatusChanged, UserMessage
from agentctl.redact import Redactor
from agentctl.runtime.journal import Journal
from agentctl.state import fold_events
from store import InMemoryEventStore, NewEvent, StoredEvent
from tests.test_protocol_events import EXAMPLES


class EchoFirst(InMemoryEventStore):
    """Answers an append only after `journal.follow` has folded the events it stored."""

    journal: Journal

    def append_future(
        self, stream: str, events: Sequence[NewEvent], expected_seq: int, **kwargs: Any
    ) -> Future[list[StoredEvent]]:
        inner = super().append_future(stream, events, expected_seq, **kwargs)
        outer: Future[list[StoredEvent]] = Future()
        loop = asyncio.get_running_loop()

        def on_loop(stored: list[StoredEvent]) -> None:
            for event in stored:
                self.journal.follow(event)
            outer.set_result(stored)

        inner.add_done_callback(lambda f: loop.call_soon_threadsafe(on_loop, f.result()))
        return outer


def test_a_copy_whose_echo_is_folded_first_is_folded_once() -> None:
    store = EchoFirst()
    journal = store.journal = Journal(store, crash=CrashPoints(""), redact=Redactor({}))
    created = EXAMPLES[0]
    items = [created, SessionStatusChanged(status=SessionStatus.RUNNING), UserMessage(text="hi")]

    async def copy() -> list[StoredEvent]:
        return await journal.append_copy("ses_fork", journal.shape(items, journal.now()))

    stored = asyncio.run(copy())
    assert [e.seq for e in stored] == [1, 2, 3]
    state = journal.state("ses_fork")
    assert state.last_seq == 3 and state == fold_events(store.read_stream("ses_fork"))
    durable = journal.durable["ses_fork"]
    assert durable.last_seq == 3
    store.close()
