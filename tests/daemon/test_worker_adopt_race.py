"""A worker adopting a claimed session while that session's creation reaches it late.

Found by bench/workers.py with 4 workers (2-core machine, loaded): a worker
claimed a session made by another daemon before its store subscription had
delivered that session's first events. Adoption folds the session from the
log in a thread; meanwhile the late events reached `_follow`, which saw a
held, running session and spawned its actor; the actor appended, then the
adoption's fold (read before those appends) replaced its state, and the next
append conflicted: the session was dropped, re-claimed by the same worker,
and its interrupted call asked for approval.

Here the timing is forced, beside the real thing (a real PostgreSQL, a real
runtime and `Worker` in this process, the other daemon a second store on the
same database): the worker's delivery of the session's events is held until
the adoption has read the log; then, before the read returns, no actor may
be running for the session (the adoption spawns it once its fold is in).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from agentctl.daemon.workers import Worker
from agentctl.protocol import SessionStatus
from agentctl.tools import Tool, ToolContext, ToolOutcome
from store import StoredEvent
from store.postgres_store import PostgresEventStore
from tests.runtime.harness import NoopArgs, call, create, registry, start_runtime, write_recording
from tests.support.postgres import PostgresServer

LEASE_S = 3.0


async def test_late_creation_events_do_not_spawn_an_actor_before_adoption_has_folded(
    tmp_path: Path, postgres_server: PostgresServer, caplog: pytest.LogCaptureFixture
) -> None:
    url = postgres_server.new_database()
    steps = [call("count", {"n": i}, call_id=f"c{i}") for i in range(2)]
    rec = write_recording(tmp_path / "r.jsonl", [*steps, {"text": "done", "tool_calls": []}])
    creator = PostgresEventStore(url)  # the other daemon's store: it creates, never drives
    store = PostgresEventStore(url)
    runs: list[int] = []

    def run(ctx: ToolContext, args: NoopArgs) -> ToolOutcome:
        runs.append(args.n)
        return ToolOutcome(exit_code=0, output=f"ran {args.n}")

    tool = Tool("count", "counts its runs", NoopArgs, idempotent=True, run=run, needs_sandbox=False)
    rt = await start_runtime(store, registry(tool))
    worker = Worker(store, rt, LEASE_S)
    rt.use_ownership(worker)
    loop = asyncio.get_running_loop()

    held: list[Sequence[StoredEvent]] = []
    adopting_read = threading.Event()
    deliver = worker._from_store
    target: list[str] = []
    actors_meanwhile: list[object] = []

    def late(events: Sequence[StoredEvent]) -> None:  # the subscription runs behind
        if not adopting_read.is_set():
            held.append(events)
            return
        deliver(events)

    def on_loop(fn: Callable[[], object]) -> object:
        """Run `fn` on the loop after everything queued there before it (from a thread)."""

        async def call() -> object:
            return fn()

        return asyncio.run_coroutine_threadsafe(call(), loop).result(30)

    worker._from_store = late  # type: ignore[method-assign]
    read_stream = store.read_stream

    def read_then_deliver(stream: str, *args: Any, **kwargs: Any) -> list[StoredEvent]:
        events = read_stream(stream, *args, **kwargs)
        if stream not in target or adopting_read.is_set():
            return events
        # The adoption (in this thread) has read the log; now the late events arrive,
        # `_follow` folds them on the loop, and the loop is looked at after it did.
        adopting_read.set()
        for batch in held:
            deliver(batch)  # queues `_follow` on the loop
        on_loop(lambda: None)  # `_follow` has run
        actors_meanwhile.append(on_loop(lambda: rt.actor(stream)))
        return events

    store.read_stream = read_then_deliver  # type: ignore[method-assign]
    caplog.set_level(logging.WARNING)
    other = await start_runtime(creator, registry(tool))
    other.use_ownership(NotAWorker())
    try:
        await worker.start()
        sid = await other.create_session(create("late", rec))
        target.append(sid)
        await asyncio.to_thread(creator.lease_table(LEASE_S).offer, [sid])
        deadline = loop.time() + 60
        while True:
            state = rt.journal.find(sid)
            if state is not None and state.status is SessionStatus.COMPLETED:
                break
            assert loop.time() < deadline, caplog.text
            await asyncio.sleep(0.05)
    finally:
        await rt.stop()
        await worker.stop()
        await other.stop()
        store.close()
    try:
        assert adopting_read.is_set() and held  # the forced order happened
        assert actors_meanwhile == [None]  # no actor before the adoption installed its fold
        events = creator.read_stream(sid)
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        assert sum(e.type == "tool.finished" for e in events) == 2
        assert runs == [0, 1]
        assert "after a failed append" not in caplog.text
        assert "no longer driven here" not in caplog.text
        history = creator.lease_table(LEASE_S).history(sid)
        assert [(w, p) for _, w, p, _ in history] == [(worker.id, None)]  # adopted once
    finally:
        creator.close()


class NotAWorker:
    """The creating daemon's side, reduced to what matters here: it drives nothing (the
    offer is made by the test, after the session's first events are committed)."""

    def holds(self, sid: str) -> bool:
        return False

    def lease(self, sid: str) -> str | None:
        return None

    def offer(self, sid: str) -> None:
        return None

    def ended(self, sid: str) -> None:
        return None

    def lost(self, sid: str) -> None:
        return None
