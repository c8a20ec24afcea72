"""A real daemon per test on the test's AGENTCTL_HOME, replay recordings, and the app under test.

`tui_daemon` starts `python -m agentctl.daemon` (the daemon tests' `DaemonProcess`),
and can restart it on the same home (the reconnect test). The app is built
with the same factory the CLI uses, given an `AsyncClient` on that socket.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from agentctl.client import AsyncClient, Client
from agentctl.client.follow import Backoff
from agentctl.daemon import lifecycle
from agentctl.paths import Paths, get_paths
from tests.daemon.conftest import DaemonProcess, recording  # noqa: F401  (a fixture)
from tests.daemon.support import Response, reply  # noqa: F401  (re-exported for the tests)
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


@pytest.fixture
def tui_daemon(agentctl_home: Path, tmp_path: Path) -> Iterator[TuiDaemon]:
    daemon = TuiDaemon(get_paths().ensure(), tmp_path)
    daemon.start()
    yield daemon
    if daemon.process is not None and daemon.process.process.poll() is None:
        daemon.stop()
