"""A daemon as one worker among several on one PostgreSQL log (docs/scale.md).

The worker registers itself in `workers` (id `host:pid:random`), and every
`lease_s / 3` seconds it beats, renews the leases it holds, hands the
database what the runtime offered (new sessions, `spawn`s of sessions it
does not hold) and let go of (ended sessions), and claims offered or
expired leases (`FOR UPDATE SKIP LOCKED`, see `store.postgres_leases`) up to
its fair share, so sessions spread over the live workers. A claimed session
is adopted: folded again from the log and driven as a restart would
(`Runtime.adopt`). A lease it failed to renew in time (another worker took
it) is dropped: its actor is cancelled. The store's subscription delivers
the other processes' commits: they are folded into this daemon's journal
(so any daemon answers queries about any session), a new session wakes the
claim loop at once, and a session this worker holds that another process
moved to `running` (a decision made through another daemon) is driven.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections.abc import Sequence
from typing import TYPE_CHECKING

from agentctl.protocol import SessionCreated, SessionStatus, SessionStatusChanged
from agentctl.runtime import Runtime, leases
from store import StoredEvent, StoreError

if TYPE_CHECKING:
    from store.postgres_leases import LeaseTable, WorkerRow
    from store.postgres_store import PostgresEventStore

log = logging.getLogger("agentctl.daemon.workers")

DEFAULT_LEASE_S = 15.0
CLAIM_BATCH = 8


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class Worker:
    """The runtime's `Ownership` when the log is shared: leases in the database."""

    def __init__(self, store: PostgresEventStore, runtime: Runtime, lease_s: float) -> None:
        self.id = worker_id()
        self.runtime = runtime
        self.lease_s = lease_s
        self.table: LeaseTable = store.lease_table(lease_s)
        self._store = store
        self.held: set[str] = set()
        self._offers: set[str] = set()
        self._ended: set[str] = set()
        self._lost: set[str] = set()
        # Claimed, folded again from the log in a thread: the adoption spawns the actor,
        # `_follow` must not (an actor started meanwhile would have its state replaced
        # by the fold of an older log, and its next append conflict).
        self._adopting: set[str] = set()
        # Without a registry a session's checkpoint images are on the engine that
        # made them: it is claimed only by workers on that engine (`pin`). The
        # engine's id; "" when it does not answer (then only unpinned sessions).
        self.engine: str | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._subscription: object | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- Ownership (called on the loop, never blocking) ------------------------------------

    def holds(self, sid: str) -> bool:
        return sid in self.held

    def lease(self, sid: str) -> str | None:
        return self.id if sid in self.held else None

    def offer(self, sid: str) -> None:
        self._offers.add(sid)
        self._wake.set()

    def ended(self, sid: str) -> None:
        self.held.discard(sid)
        self._ended.add(sid)
        self._wake.set()

    def lost(self, sid: str) -> None:
        if sid in self.held:
            self.held.discard(sid)
            self._lost.add(sid)
            self._wake.set()

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Register; follow the log; run the lease loop (after the runtime has started)."""
        self._loop = asyncio.get_running_loop()
        await asyncio.to_thread(self.table.register, self.id, socket.gethostname(), os.getpid())
        if self.runtime.sandboxes.registry is None:
            self.engine = await asyncio.to_thread(self._engine_id)
        self._subscription = self._store.subscribe(self._from_store)
        self._task = asyncio.create_task(self._run(), name=f"worker:{self.id}")
        log.info("worker %s: leases of %g s", self.id, self.lease_s)

    async def stop(self) -> None:
        """After the runtime stopped: hand every held session back, leave the workers."""
        if self._subscription is not None:
            self._subscription.close()  # type: ignore[attr-defined]
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        with contextlib.suppress(StoreError):
            await asyncio.to_thread(self._flush_ended)
            await asyncio.to_thread(self.table.hand_back, self.id)
        self.held.clear()

    def _engine_id(self) -> str:
        try:
            info = self.runtime.sandboxes.engine().api.info()
            # Two engines of one host may share an ID (it can come from /etc/docker):
            # with the host's name and the data root, the images' place is told apart.
            return f"{info.get('ID')}:{info.get('Name')}:{info.get('DockerRootDir')}"
        except Exception as exc:  # no engine now: sandboxed sessions are not for this worker
            log.warning("worker %s: the Docker engine does not answer (%s)", self.id, exc)
            return ""

    def workers(self) -> list[WorkerRow]:
        return self.table.workers()

    # -- the log of other processes ------------------------------------------------------

    def _from_store(self, events: Sequence[StoredEvent]) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop is closing
                loop.call_soon_threadsafe(self._follow, list(events))

    def _follow(self, events: list[StoredEvent]) -> None:
        journal = self.runtime.journal
        woken: set[str] = set()
        for event in events:
            try:
                foreign = journal.follow(event)
            except Exception:
                log.exception("could not fold %s/%d from the log", event.stream, event.seq)
                continue
            if not foreign:
                continue
            if event.type == SessionCreated.TYPE:
                self._wake.set()
            if event.stream in self.held and event.stream not in self._adopting:
                woken.add(event.stream)
            if event.type == SessionStatusChanged.TYPE:
                self._child_ended(event.stream)
        for sid in woken:
            state = journal.find(sid)
            if state is not None and state.status is SessionStatus.RUNNING:
                self.runtime.spawn(sid)  # a decision or resume made through another daemon

    def _child_ended(self, sid: str) -> None:
        """A child driven elsewhere ended: this worker gives it to the parent it holds."""
        state = self.runtime.journal.find(sid)
        ref = None if state is None else state.created.get("delegated_by")
        if state is None or not ref or state.status is None or not state.status.ended:
            return
        if ref["session"] in self.held:
            self.runtime.background(self.runtime.delegations.deliver(sid), name=f"deliver:{sid}")

    # -- the lease loop ------------------------------------------------------------------

    async def _run(self) -> None:
        period = self.lease_s / 3
        while True:
            try:
                await self._round()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("worker %s: lease round failed; retrying", self.id)
            waiter = asyncio.ensure_future(self._wake.wait())
            try:
                await asyncio.wait([waiter], timeout=period)
            finally:
                waiter.cancel()
            self._wake.clear()

    def _flush_ended(self) -> None:
        ended, self._ended = sorted(self._ended), set()
        self.table.release(self.id, ended)

    async def _round(self) -> None:
        offers, self._offers = sorted(self._offers - self.held), set()
        lost, self._lost = sorted(self._lost), set()
        await asyncio.to_thread(self.table.offer, offers)
        await asyncio.to_thread(self._flush_ended)
        if lost:
            await asyncio.to_thread(self.table.give_back, self.id, lost)
        renewed = await asyncio.to_thread(self.table.heartbeat_and_renew, self.id)
        for sid in sorted(self.held - renewed):
            log.warning("worker %s: the lease of %s expired before it was renewed", self.id, sid)
            self.held.discard(sid)
            leases.drop(self.runtime, sid)
        if self.runtime.stopping:
            return
        while True:
            share = await asyncio.to_thread(self.table.fair_share, self.id)
            if share <= 0:
                return
            claimed = await asyncio.to_thread(
                self.table.claim, self.id, min(share, CLAIM_BATCH), self.engine
            )
            if not claimed:
                return
            for sid, previous in claimed:
                self.held.add(sid)
                if previous is not None and previous != self.id:
                    log.warning("worker %s: took over %s from %s", self.id, sid, previous)
                self._adopting.add(sid)
                try:
                    await leases.adopt(self.runtime, sid)
                finally:
                    self._adopting.discard(sid)
                state = self.runtime.journal.find(sid)
                if (
                    self.engine
                    and state is not None
                    and (state.created.get("sandbox") or {}).get("image")
                ):
                    await asyncio.to_thread(self.table.pin, sid, self.engine)
                if sid in self.held and state is not None and state.status is SessionStatus.RUNNING:
                    self.runtime.spawn(sid)  # moved to running by another process meanwhile
