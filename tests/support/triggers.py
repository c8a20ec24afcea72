"""Helpers for trigger tests: an in-process runtime on a real DuckDB log with a manual clock.

`Host` opens the store, starts a `Runtime` with the test's `ManualClock`, and
can `restart()` it (stop, close the store, open it again, start) so a test
sees what a daemon restarted at a later time does. Nothing sleeps: time moves
when the test calls `clock.advance`, and the helpers wait for events.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

from agentctl.paths import get_paths
from agentctl.protocol import SessionStatus
from agentctl.runtime import Runtime
from agentctl.tools import ToolRegistry
from agentctl.triggers.clock import ManualClock
from store import DuckDBEventStore, StoredEvent


class Host:
    def __init__(self, clock: ManualClock, tools: ToolRegistry | None = None) -> None:
        self.clock = clock
        self.tools = tools
        self.paths = get_paths().ensure()
        self.store: DuckDBEventStore | None = None
        self.rt: Runtime | None = None

    async def start(self) -> Runtime:
        from agentctl.providers.retry import RetryPolicy

        self.store = DuckDBEventStore(self.paths.database, lock=True)
        self.rt = Runtime(
            self.store,
            paths=self.paths,
            tools=self.tools,
            clock=self.clock,
            retry_policy=RetryPolicy(max_attempts=2, base_delay_s=0.01, max_delay_s=0.02),
        )
        await self.rt.start()
        return self.rt

    async def stop(self) -> None:
        if self.rt is not None:
            await self.rt.stop()
            self.rt = None
        if self.store is not None:
            self.store.close()
            self.store = None

    async def restart(self, *, after: timedelta | None = None) -> Runtime:
        """Stop, let `after` pass while nothing runs, start again."""
        await self.stop()
        if after is not None:
            self.clock.set(self.clock.now() + after)
        return await self.start()


async def until(predicate: Any, timeout: float = 30.0) -> None:
    """Yield to the loop until `predicate()` holds (work in flight, not time, is awaited)."""

    async def loop() -> None:
        while not predicate():
            await asyncio.sleep(0.005)

    await asyncio.wait_for(loop(), timeout)


def status(rt: Runtime, sid: str) -> SessionStatus | None:
    return rt.journal.durable_state(sid).status


async def settled(rt: Runtime, sid: str, wanted: SessionStatus, timeout: float = 30.0) -> None:
    await until(lambda: status(rt, sid) is wanted and _idle(rt, sid), timeout)


def _idle(rt: Runtime, sid: str) -> bool:
    task = rt._tasks.get(sid)
    return task is None or task.done()


def events(rt: Runtime, stream: str, type_: str | None = None) -> list[StoredEvent]:
    out = rt.store.read_stream(stream)
    return [e for e in out if type_ is None or e.type == type_]


def write_config(text: str) -> Path:
    paths = get_paths().ensure()
    paths.config_file.parent.mkdir(parents=True, exist_ok=True)
    paths.config_file.write_text(text)
    return paths.config_file
