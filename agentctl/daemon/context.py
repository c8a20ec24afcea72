"""What every request handler of the daemon can reach: the store, the runtime, the paths.

One `Daemon` per process, built by `server.serve` once the store lock is held
and the runtime has started, and put on `app.state.daemon`.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agentctl import __version__
from agentctl.paths import Paths
from agentctl.protocol import DaemonStatus, WorkerView
from sandboxes.address import describe_engine
from store import EventStore

from .stream import BUFFER_CAPACITY

if TYPE_CHECKING:
    from agentctl.runtime import Runtime


@dataclass
class Daemon:
    paths: Paths
    store: EventStore
    runtime: Runtime
    tcp: str | None = None  # "127.0.0.1:PORT" when the TCP listener is on
    stream_capacity: int = BUFFER_CAPACITY  # live events buffered per streaming client
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    started: float = field(default_factory=time.monotonic)
    worker: Any = None  # a Worker (agentctl.daemon.workers) when the log is shared

    def status(self) -> DaemonStatus:
        return DaemonStatus(
            pid=os.getpid(),
            version=__version__,
            socket=str(self.paths.socket),
            # the DuckDB file, or the PostgreSQL URL without its password
            database=str(getattr(self.store, "display_url", None) or self.paths.database),
            uptime_s=round(time.monotonic() - self.started, 3),
            sessions=self.runtime.counts_by_status(),
            last_offset=self.store.last_offset(),
            schema_version=self.store.schema_version(),
            tcp=self.tcp,
            plugins=self.runtime.plugins.loaded(),
            plugin_errors=self.runtime.plugins.errors,
            worker=self.worker.id if self.worker is not None else None,
            workers=self._workers(),
            engine=describe_engine(),
            registry=self.runtime.sandboxes.registry,
        )

    def _workers(self) -> list[WorkerView]:
        if self.worker is None:
            return []
        return [
            WorkerView(
                id=row.worker,
                host=row.host,
                pid=row.pid,
                started_at=row.started_at,
                heartbeat=row.heartbeat,
                alive=row.alive,
                sessions=list(row.sessions),
            )
            for row in self.worker.workers()
        ]
