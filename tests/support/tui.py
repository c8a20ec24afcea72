"""Helpers of the TUI tests: a daemon that can restart, the app on it, waiting in a Pilot test.

`TuiDaemon` runs `python -m agentctl.daemon` (a `DaemonProcess`) and can stop
and start it again on the same home (the reconnect test); `app()` builds the
app with the same factory the CLI uses. `until` waits inside a Pilot test
without blocking the app's event loop.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from textual.pilot import Pilot

from agentctl.client import AsyncClient, Client
from agentctl.client.follow import Backoff
from agentctl.daemon import lifecycle
from agentctl.paths import Paths
from agentctl.protocol import Envelope
from tests.support.daemon import DaemonProcess
from tui.app import AgentctlApp

APPROVER = "tester"


class TuiDaemon:
    """A daemon process that a test can stop and start again on the same home."""

    def __init__(self, paths: Paths, logs: Path) -> None:
        self.paths = paths
        self.logs = logs
        self.starts = 0
        self.process: DaemonProcess | None = None
        self.client: Client | None = None

    def start(self) -> Client:
        log = self.logs / f"daemon-{self.starts}.out"
        self.starts += 1
        self.process = DaemonProcess(self.paths, [], {}, log)
        self.client = self.process.wait_ready()
        return self.client

    def stop(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None
        if self.process is not None:
            code = self.process.terminate()
            assert code == 0, self.process.output()
            self.process = None

    def restart(self) -> Client:
        self.stop()
        return self.start()

    @property
    def api(self) -> Client:
        assert self.client is not None
        return self.client

    def app(
        self, session: str | None = None, *, bell: bool = True, start: bool = False
    ) -> AgentctlApp:
        socket = self.paths.socket
        paths = self.paths

        async def start_daemon() -> None:  # as the CLI does: lifecycle.connect_async spawns one
            await (await lifecycle.connect_async(paths, autostart=True)).aclose()

        async def connect() -> AsyncClient:
            return AsyncClient(socket, timeout=10.0)

        return AgentctlApp(
            client_factory=connect,
            session=session,
            approver=APPROVER,
            backoff=Backoff(initial_s=0.05, maximum_s=0.5),
            debounce_s=0.05,
            bell=bell,
            start_daemon=start_daemon if start else None,
        )


async def until(
    pilot: Pilot[None], predicate: Callable[[], object], *, timeout: float = 30.0, what: str = ""
) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        await pilot.pause(0.05)


def events_of(client: Client, session_id: str, type_: str | None = None) -> list[Envelope]:
    return [e for e in client.events(session_id) if type_ is None or e.type == type_]
