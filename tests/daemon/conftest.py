"""A real daemon process per test, on the test's own AGENTCTL_HOME, and replay recordings.

`daemon` starts `python -m agentctl.daemon`, waits until it answers, yields a
`Client`, and at the end stops it with SIGTERM and checks it exited cleanly.
`spawn_daemon` is the factory behind it, for tests that need several
starts, flags or environment variables (crash points). `DaemonProcess` and the
replies of recordings are in tests/support/daemon.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agentctl.client import Client
from agentctl.paths import Paths, get_paths
from tests.support.daemon import DaemonProcess, Response, SpawnDaemon


@pytest.fixture
def paths(agentctl_home: Path) -> Paths:
    return get_paths().ensure()


@pytest.fixture
def spawn_daemon(paths: Paths, tmp_path: Path) -> Iterator[SpawnDaemon]:
    started: list[DaemonProcess] = []

    def spawn(*args: str, env: dict[str, str] | None = None) -> DaemonProcess:
        log = tmp_path / f"daemon-{len(started)}.out"
        process = DaemonProcess(paths, list(args), env or {}, log)
        started.append(process)
        return process

    yield spawn
    for process in started:
        process.kill()


@pytest.fixture
def daemon_process(spawn_daemon: SpawnDaemon) -> DaemonProcess:
    return spawn_daemon()


@pytest.fixture
def daemon(daemon_process: DaemonProcess) -> Iterator[Client]:
    client = daemon_process.wait_ready()
    yield client
    client.close()
    code = daemon_process.terminate()
    assert code == 0, daemon_process.output()


# --- recordings -----------------------------------------------------------------------


@pytest.fixture
def recording(tmp_path: Path) -> Callable[[list[Response]], str]:
    """Write a replay recording; returns the model spec `replay:PATH`."""
    counter = iter(range(1_000_000))

    def write(responses: list[Response]) -> str:
        path = tmp_path / f"recording-{next(counter)}.jsonl"
        lines = [{"format": "agentctl-recording", "version": 1}, *responses]
        path.write_text("".join(json.dumps(line) + "\n" for line in lines))
        return f"replay:{path}"

    return write
