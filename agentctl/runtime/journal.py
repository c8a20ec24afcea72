"""The runtime's view of the log: per-session state kept current by its own appends.

Every append to a session goes through `Journal.append`, which computes the
expected next seq from the folded state, redacts secrets, validates each
event's data against the protocol, waits until the batch is durable, folds
the stored events into the state and only then lets crash points fire. The
caller holds the session's lock, so the expected seq it computes is the one
that commits; the store's optimistic concurrency catches anything else.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence

from agentctl.crashpoints import CrashPoints
from agentctl.errors import ConflictError, NotFoundError
from agentctl.protocol import event_data
from agentctl.redact import Redactor
from agentctl.state import SessionState, apply_event
from store import ConflictError as StoreConflict
from store import EventStore, NewEvent, StoredEvent

Item = tuple[str, object]  # (event type, its protocol data model)


class Journal:
    def __init__(self, store: EventStore, *, crash: CrashPoints, redact: Redactor) -> None:
        self.store = store
        self.crash = crash
        self.redact = redact
        self.states: dict[str, SessionState] = {}
        self.approval_index: dict[str, str] = {}  # approval id -> session id
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    def lock(self, session_id: str) -> asyncio.Lock:
        return self._locks[session_id]

    def state(self, session_id: str) -> SessionState:
        state = self.states.get(session_id)
        if state is None:
            raise NotFoundError(f"no session {session_id!r}", hint="see `agentctl ls`")
        return state

    def load(self) -> None:
        """Rebuild every session's state from the log (start-up)."""
        self.states.clear()
        after = 0
        while True:
            batch = self.store.read_all(after=after, limit=5000)
            if not batch:
                break
            for event in batch:
                self._fold(event)
            after = batch[-1].offset

    def _fold(self, event: StoredEvent) -> None:
        state = self.states.get(event.stream)
        if state is None:
            state = self.states[event.stream] = SessionState()
        apply_event(state, event)
        if event.type == "approval.requested":
            self.approval_index[event.data["approval_id"]] = event.stream

    async def append(self, session_id: str, items: Sequence[Item]) -> list[StoredEvent]:
        state = self.states.get(session_id)
        expected = state.last_seq + 1 if state else 1
        events = [
            NewEvent(type_, self.redact(event_data(type_, data)))  # type: ignore[arg-type]
            for type_, data in items
        ]
        try:
            stored = await asyncio.wrap_future(self.store.append_future(session_id, events, expected))
        except StoreConflict as exc:
            raise ConflictError(f"session {session_id} changed concurrently: {exc}") from exc
        for event in stored:
            self._fold(event)
        for event in stored:
            self.crash.after_event(event.type)
        return stored

    def append_copy(self, session_id: str, events: Sequence[NewEvent]) -> list[StoredEvent]:
        """Append already-shaped events (a fork's copy of its parent's prefix)."""
        stored = self.store.append(session_id, events, 1)
        for event in stored:
            self._fold(event)
        return stored
