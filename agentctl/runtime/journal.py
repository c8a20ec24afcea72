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

Only live sessions are folded at start-up. An append that leaves a session
ended carries its snapshot (`summary.snapshot_of`), which the store writes in
the same transaction; at start an ended session whose snapshot is at its last
seq stays `dormant` (its summary and ids, not its state) and is folded from
its own events the first time something asks for its state (`find`). So
start-up and memory follow the live sessions, not the length of the log.

Crash points fire when the event they name is durable: from the store's
writer, right after the commit, before anything else can act on it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import copy
import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from agentctl.crashpoints import CrashPoints
from agentctl.errors import AgentctlError, ConflictError, NotFoundError
from agentctl.observe.projection.ended import Ended
from agentctl.protocol import (
    ApprovalRequested,
    EventData,
    SessionCreated,
    SessionStatusChanged,
    SessionSummary,
    event_data,
)
from agentctl.redact import Redactor
from agentctl.runtime.summary import SNAPSHOT_VERSIONS, STATS_KEY, snapshot_of, snapshot_summary
from agentctl.state import SessionState, apply_event, fold_events
from store import ConflictError as StoreConflict
from store import EventStore, NewEvent, StoredEvent, StoreError

log = logging.getLogger(__name__)

Pending = concurrent.futures.Future[list[StoredEvent]]


class Journal:
    def __init__(
        self,
        store: EventStore,
        *,
        crash: CrashPoints,
        redact: Redactor,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.store = store
        self.now = now or (lambda: datetime.now(UTC))  # the runtime's clock stamps the events
        self.crash = crash
        self.redact = redact
        self.states: dict[str, SessionState] = {}
        self.durable: dict[str, SessionState] = {}
        self.approval_index: dict[str, str] = {}  # approval id -> session id
        self.request_index: dict[str, str] = {}  # a client's create/fork request id -> session id
        # Ended sessions not folded: session id -> its snapshot's data but its stats
        # projection, which stays in the store until `stats` asks (see `load`).
        self.dormant: dict[str, dict[str, Any]] = {}
        self._summaries: dict[str, SessionSummary] = {}  # of dormant sessions, parsed once
        # Their snapshots' stats merged, for the dormant set of `_dormant_epoch` (a
        # session that leaves it, or a load, starts a new epoch).
        self._ended_stats: Ended | None = None
        self._ended_epoch = -1
        self._dormant_epoch = 0
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._pending: defaultdict[str, list[Pending]] = defaultdict(list)
        # Called on the loop with each committed event (not a fork's copy): what
        # reacts to the log (alerts, a schedule's queue) without the runtime naming it.
        self.listeners: list[Callable[[StoredEvent], None]] = []
        # Sessions this process must not append to until they are folded again
        # (`refresh`): a worker's session whose append conflicted (another writer
        # got there: the reloaded state would let the next append through) or
        # whose lease it lost. `on_conflict` says which conflicts fence (None: none).
        self.fenced: set[str] = set()
        self.on_conflict: Callable[[str], bool] | None = None
        # The lease a session's appends must hold in the store (a worker's id), or
        # None: the store checks it in the append's transaction (docs/scale.md).
        self.lease_of: Callable[[str], str | None] | None = None

    def lock(self, session_id: str) -> asyncio.Lock:
        return self._locks[session_id]

    def state(self, session_id: str) -> SessionState:
        state = self.find(session_id)
        if state is None:
            raise NotFoundError(f"no session {session_id!r}", hint="see `agentctl ls`")
        return state

    def durable_state(self, session_id: str) -> SessionState:
        self.find(session_id)
        state = self.durable.get(session_id)
        if state is None:
            raise NotFoundError(f"no session {session_id!r}", hint="see `agentctl ls`")
        return state

    def find(self, session_id: str) -> SessionState | None:
        """The stream's folded state, folding a dormant one now; None if it has no events."""
        state = self.states.get(session_id)
        if state is None and session_id in self.dormant:
            events = self.store.read_stream(session_id)
            self.states[session_id] = fold_events(events)
            self.durable[session_id] = fold_events(events)
            del self.dormant[session_id]
            self._summaries.pop(session_id, None)
            self._dormant_epoch += 1
            state = self.states[session_id]
        return state

    def dormant_summary(self, session_id: str) -> SessionSummary | None:
        """A dormant session's summary as its snapshot holds it (None: not dormant, or no session)."""
        summary = self._summaries.get(session_id)
        if summary is None:
            data = self.dormant.get(session_id)
            summary = snapshot_summary(data) if data is not None else None
            if summary is None:
                return None
            self._summaries[session_id] = summary
        return summary

    def dormant_summaries(self) -> list[SessionSummary]:
        found = (self.dormant_summary(sid) for sid in list(self.dormant))
        return [summary for summary in found if summary is not None]

    def stats_data(self) -> tuple[dict[str, dict[str, Any]], Ended | list[str], int]:
        """What `agentctl stats` adds up (on the loop): each folded session's
        `StatsFold.data` (a copy: its fold goes on while a thread reads it); the
        dormant ones merged (`Ended`), or, not merged yet for this dormant set,
        their ids (their projections are read from their snapshots in the store,
        `observe.stats.read_ended`); and the epoch to hand `keep_stats`.
        """
        out = {sid: copy.deepcopy(state.stats.data) for sid, state in self.durable.items()}
        if self._ended_stats is not None and self._ended_epoch == self._dormant_epoch:
            return out, self._ended_stats, self._dormant_epoch
        return out, list(self.dormant), self._dormant_epoch

    def keep_stats(self, ended: Ended, epoch: int) -> None:
        """Keep the dormant sessions' merged stats, if the dormant set is still `epoch`'s."""
        if epoch == self._dormant_epoch:
            self._ended_stats = ended
            self._ended_epoch = epoch

    def load(self) -> None:
        """Rebuild the live sessions' state from the log, the ended ones' from snapshots (start-up).

        A stream is folded from its events unless its snapshot is current
        (at its last seq), of this version and says it ended. Ended sessions
        folded here (a log from before snapshots, one whose snapshot fell
        behind or is older) get one written, so the next start skips them. The
        snapshots are read without their stats projection (`STATS_KEY`): only
        `stats` needs it, and it reads it then.
        """
        self.states.clear()
        self.durable.clear()
        self.dormant.clear()
        self._summaries.clear()
        self._dormant_epoch += 1
        snapshots = {s.stream: s for s in self.store.read_snapshots(omit=(STATS_KEY,))}
        backfill: list[concurrent.futures.Future[None]] = []
        for stream in self.store.streams():
            snapshot = snapshots.pop(stream, None)
            head = self.store.last_seq(stream)
            data = snapshot.data if snapshot is not None else None
            if (
                snapshot is not None
                and data is not None
                and snapshot.seq == head
                and data.get("v") in SNAPSHOT_VERSIONS
                and data.get("ended")
            ):
                self.dormant[stream] = data
                for approval_id in data.get("approval_ids") or []:
                    self.approval_index.setdefault(str(approval_id), stream)
                if data.get("request_id"):
                    self.request_index.setdefault(str(data["request_id"]), stream)
                continue
            for event in self.store.read_stream(stream):
                self._fold(event)
                self._fold_durable(event)
            state = self.durable.get(stream)
            if state is not None and state.status is not None and state.status.ended:
                backfill.append(self.store.put_snapshot(stream, head, snapshot_of(state)))
        for future in backfill:
            try:
                future.result()
            except StoreError as exc:  # only costs the next start a fold
                log.warning("could not write a session snapshot: %s", exc)

    def _fold(self, event: StoredEvent) -> None:
        state = self.states.get(event.stream)
        if state is None:
            state = self.states[event.stream] = SessionState()
        apply_event(state, event)
        if (
            event.type == ApprovalRequested.TYPE
        ):  # a fork's copy does not take over its parent's ids
            self.approval_index.setdefault(event.data["approval_id"], event.stream)

    def _fold_durable(self, event: StoredEvent) -> None:
        state = self.durable.get(event.stream)
        if state is None:
            state = self.durable[event.stream] = SessionState()
        apply_event(state, event)
        if event.type == SessionCreated.TYPE and event.data.get("request_id"):
            # from the committed log only: a create whose append failed is not found by a retry
            self.request_index.setdefault(event.data["request_id"], event.stream)

    def _fold_all_durable(self, events: Sequence[StoredEvent]) -> None:
        for event in events:
            self._fold_durable(event)
        for listener in self.listeners:  # alerts, schedules: they only queue work
            for event in events:
                try:
                    listener(event)
                except Exception:
                    log.exception("a listener failed on %s %s", event.stream, event.type)

    def _on_durable(self, loop: asyncio.AbstractEventLoop) -> Callable[[Pending], None]:
        """Fold a committed batch into `durable`, on the loop, before any awaiter resumes."""

        def done(future: Pending) -> None:
            if future.cancelled() or future.exception() is not None:
                return
            loop.call_soon_threadsafe(self._fold_all_durable, future.result())

        return done

    def submit(self, session_id: str, items: Sequence[EventData]) -> list[StoredEvent]:
        """Queue events for the session and fold them now; durable after a `barrier`.

        The caller holds the session's lock, so the seq it computes is the one
        that commits; the store's optimistic concurrency catches anything else.
        """
        if session_id in self.fenced:
            raise ConflictError(f"session {session_id} is driven by another worker now")
        state = self.find(session_id)
        first = state.last_seq + 1 if state else 1
        now = self.now()
        events = self.shape(items, now)
        provisional = [
            StoredEvent(
                stream=session_id, seq=first + i, offset=0, ts=now, type=e.type, data=dict(e.data)
            )
            for i, e in enumerate(events)
        ]
        # The snapshot of a session these events leave ended goes into their
        # transaction; it is folded on a copy, so an append the store refuses
        # at once leaves the state as it was.
        ahead = self.states.get(session_id)
        snapshot = None
        if _may_end(provisional, ahead):
            after = fold_events(provisional, ahead)
            snapshot = snapshot_of(after) if _ended(after) else None
        # Deferred: nobody waits on it before a barrier, which flushes it; the
        # store commits it with what follows, one commit where each alone costs one.
        lease = None if self.lease_of is None else self.lease_of(session_id)
        future = self.store.append_future(
            session_id, events, first, snapshot=snapshot, defer=True, lease=lease
        )
        future.add_done_callback(self._on_durable(asyncio.get_running_loop()))
        if self.crash.armed:
            future.add_done_callback(self._crash_after(events))
        self._pending[session_id].append(future)
        for event in provisional:
            self._fold(event)
        return provisional

    def shape(self, items: Sequence[EventData], ts: datetime) -> list[NewEvent]:
        """Validated, redacted events ready for the store (a model not of the protocol is refused)."""
        return [NewEvent(item.TYPE, self.redact(event_data(item)), ts=ts) for item in items]

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
            if pending and not all(future.done() for future in pending):
                self.store.flush()  # the deferred appends: commit them now
            for future in pending:
                last = await asyncio.wrap_future(future)
        except StoreConflict as exc:
            if self.on_conflict is not None and self.on_conflict(session_id):
                self.fenced.add(session_id)
            self._reload(session_id)
            raise ConflictError(f"session {session_id} changed concurrently: {exc}") from exc
        except StoreError as exc:
            self._reload(session_id)
            raise AgentctlError(f"the event log refused an append to {session_id}: {exc}") from exc
        return last

    async def append(self, session_id: str, items: Sequence[EventData]) -> list[StoredEvent]:
        """Submit and wait until durable; the events as stored."""
        self.submit(session_id, items)
        return await self.barrier(session_id)

    def refresh(self, session_id: str, *, unfence: bool = True) -> SessionState | None:
        """Fold the session again from the log (another process may have written it). Blocking.

        For a worker that just claimed the session: nothing of it is pending here.
        """
        events = self.store.read_stream(session_id)
        if unfence:
            self.fenced.discard(session_id)
        if self.dormant.pop(session_id, None) is not None:
            self._dormant_epoch += 1
        self._summaries.pop(session_id, None)
        self.states.pop(session_id, None)
        self.durable.pop(session_id, None)
        for event in events:  # both folds and their indexes, as `load` makes them
            self._fold(event)
            self._fold_durable(event)
        return self.states.get(session_id)

    def follow(self, event: StoredEvent) -> bool:
        """Fold an event another process committed (on the loop); False if it was ours.

        Events this journal submitted are in `states` already (their seq is not
        past its head); a foreign event past the head is folded into both folds.
        A gap (an event missed) folds the stream again from the log.
        """
        state = self.states.get(event.stream)
        if state is not None and event.seq <= state.last_seq:
            return False
        if event.stream in self.dormant or (state is None and event.seq != 1):
            self.refresh(event.stream, unfence=False)
            return True
        durable = self.durable.get(event.stream)
        if (state is not None and event.seq != state.last_seq + 1) or (
            durable is not None and event.seq != durable.last_seq + 1
        ):
            self.refresh(event.stream, unfence=False)
            return True
        self._fold(event)
        self._fold_durable(event)
        return True

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
        # The log's echo of this append (a worker follows every commit, its own
        # too) may have been folded first, as a stranger's: fold what it has not.
        for event in stored:
            state, durable = self.states.get(session_id), self.durable.get(session_id)
            if state is None or event.seq > state.last_seq:
                self._fold(event)
            if durable is None or event.seq > durable.last_seq:
                self._fold_durable(event)
        return stored


def _ended(state: SessionState) -> bool:
    return state.status is not None and state.status.ended


def _may_end(events: Sequence[StoredEvent], state: SessionState | None) -> bool:
    """Whether the session can be ended after `events` (only then is a snapshot due)."""
    return (state is not None and _ended(state)) or any(
        e.type == SessionStatusChanged.TYPE and e.data.get("status") in _ENDED for e in events
    )


_ENDED = frozenset({"completed", "failed", "cancelled"})
