"""The runtime's view of the log: per-session state kept current by its own appends.

Every append to a session goes through the journal, which computes the
expected next seq from the folded state, redacts secrets, validates each
event's data against the protocol and hands the batch to the store's single
writer.

Appends are pipelined. `submit` folds the events into the session's state at
once and queues them; `barrier` waits until everything queued for the session
is durable. The step machine puts a barrier where durability matters — before
a tool's side effect begins (write-ahead), before a decision is acknowledged
to a client, before an actor stops — and lets the rest (a model request, a
tool's result, a checkpoint marker) flow into the same group commit. The
store commits one session's batches in order, so a barrier makes the whole
prefix durable; what a crash can lose is only what no side effect depended on.

Two folds are kept per session: `states`, which runs ahead with what was
submitted (the actors decide from it), and `durable`, which holds only what
is committed (queries answer from it, so no client ever sees an event the log
could still lose).

Crash points fire when the event they name is durable: from the store's
writer, right after the commit, before anything else can act on it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from agentctl.crashpoints import CrashPoints
from agentctl.errors import AgentctlError, ConflictError, NotFoundError
from agentctl.protocol import event_data
from agentctl.redact import Redactor
from agentctl.state import SessionState, apply_event, fold_events
from store import ConflictError as StoreConflict
from store import EventStore, NewEvent, StoredEvent, StoreError

log = logging.getLogger(__name__)

Item = tuple[str, object]  # (event type, its protocol data model)
Pending = concurrent.futures.Future[list[StoredEvent]]


class Journal:
    def __init__(self, store: EventStore, *, crash: CrashPoints, redact: Redactor) -> None:
        self.store = store
        self.crash = crash
        self.redact = redact
        self.states: dict[str, SessionState] = {}
        self.durable: dict[str, SessionState] = {}
        self.approval_index: dict[str, str] = {}  # approval id -> session id
        self.request_index: dict[str, str] = {}  # a client's create/fork request id -> session id
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._pending: defaultdict[str, list[Pending]] = defaultdict(list)

    def lock(self, session_id: str) -> asyncio.Lock:
        return self._locks[session_id]

    def state(self, session_id: str) -> SessionState:
        state = self.states.get(session_id)
        if state is None:
            raise NotFoundError(f"no session {session_id!r}", hint="see `agentctl ls`")
        return state

    def durable_state(self, session_id: str) -> SessionState:
        state = self.durable.get(session_id)
        if state is None:
            raise NotFoundError(f"no session {session_id!r}", hint="see `agentctl ls`")
        return state

    def load(self) -> None:
        """Rebuild every session's state from the log (start-up)."""
        self.states.clear()
        self.durable.clear()
        after = 0
        while True:
            batch = self.store.read_all(after=after, limit=5000)
            if not batch:
                break
            for event in batch:
                self._fold(event)
                self._fold_durable(event)
            after = batch[-1].offset

    def _fold(self, event: StoredEvent) -> None:
        state = self.states.get(event.stream)
        if state is None:
            state = self.states[event.stream] = SessionState()
        apply_event(state, event)
        if event.type == "approval.requested":  # a fork's copy does not take over its parent's ids
            self.approval_index.setdefault(event.data["approval_id"], event.stream)

    def _fold_durable(self, event: StoredEvent) -> None:
        state = self.durable.get(event.stream)
        if state is None:
            state = self.durable[event.stream] = SessionState()
        apply_event(state, event)
        if event.type == "session.created" and event.data.get("request_id"):
            # from the committed log only: a create whose append failed is not found by a retry
            self.request_index.setdefault(event.data["request_id"], event.stream)

    def _fold_all_durable(self, events: Sequence[StoredEvent]) -> None:
        for event in events:
            self._fold_durable(event)

    def _on_durable(self, loop: asyncio.AbstractEventLoop) -> Callable[[Pending], None]:
        """Fold a committed batch into `durable`, on the loop, before any awaiter resumes."""

        def done(future: Pending) -> None:
            if future.cancelled() or future.exception() is not None:
                return
            loop.call_soon_threadsafe(self._fold_all_durable, future.result())

        return done

    def submit(self, session_id: str, items: Sequence[Item]) -> list[StoredEvent]:
        """Queue events for the session and fold them now; durable after a `barrier`.

        The caller holds the session's lock, so the seq it computes is the one
        that commits; the store's optimistic concurrency catches anything else.
        """
        state = self.states.get(session_id)
        first = state.last_seq + 1 if state else 1
        now = datetime.now(UTC)
        events = self.shape(items, now)
        future = self.store.append_future(session_id, events, first)
        future.add_done_callback(self._on_durable(asyncio.get_running_loop()))
        if self.crash.armed:
            future.add_done_callback(self._crash_after(events))
        self._pending[session_id].append(future)
        provisional = [
            StoredEvent(
                stream=session_id, seq=first + i, offset=0, ts=now, type=e.type, data=dict(e.data)
            )
            for i, e in enumerate(events)
        ]
        for event in provisional:
            self._fold(event)
        return provisional

    def shape(self, items: Sequence[Item], ts: datetime) -> list[NewEvent]:
        """Validated, redacted events ready for the store."""
        return [
            NewEvent(type_, self.redact(event_data(type_, data)), ts=ts)  # type: ignore[arg-type]
            for type_, data in items
        ]

    def _crash_after(self, events: Sequence[NewEvent]) -> Callable[[Pending], None]:
        def check(future: Pending) -> None:
            if not future.cancelled() and future.exception() is None:
                for event in events:
                    self.crash.after_event(event.type)

        return check

    async def barrier(self, session_id: str) -> list[StoredEvent]:
        """Wait until everything submitted for the session is durable; the last batch as stored."""
        pending = self._pending.pop(session_id, [])
        last: list[StoredEvent] = []
        try:
            for future in pending:
                last = await asyncio.wrap_future(future)
        except StoreConflict as exc:
            self._reload(session_id)
            raise ConflictError(f"session {session_id} changed concurrently: {exc}") from exc
        except StoreError as exc:
            self._reload(session_id)
            raise AgentctlError(f"the event log refused an append to {session_id}: {exc}") from exc
        return last

    async def append(self, session_id: str, items: Sequence[Item]) -> list[StoredEvent]:
        """Submit and wait until durable; the events as stored."""
        self.submit(session_id, items)
        return await self.barrier(session_id)

    def _reload(self, session_id: str) -> None:
        """After a failed append the folded state ran ahead of the log: fold the log again."""
        for future in self._pending.pop(session_id, []):
            future.cancel()
        events = self.store.read_stream(session_id)
        if events:
            self.states[session_id] = fold_events(events)
        else:
            self.states.pop(session_id, None)
        log.warning("reloaded %s from the log after a failed append", session_id)

    async def append_copy(self, session_id: str, events: Sequence[NewEvent]) -> list[StoredEvent]:
        """Append already-shaped events to a new session (a fork's copy of its parent's prefix)."""
        stored = await asyncio.wrap_future(self.store.append_future(session_id, events, 1))
        for event in stored:
            self._fold(event)
            self._fold_durable(event)
        return stored
