"""A real daemon process per test, on the test's own AGENTCTL_HOME, and replay recordings.

`daemon` starts `python -m agentctl.daemon`, waits until it answers, yields a
`Client`, and at the end stops it with SIGTERM and checks it exited cleanly.
`spawn_daemon` is the factory behind it, for tests that need several
starts, flags or environment variables (crash points).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agentctl.client import Client
from agentctl.errors import DaemonError
from agentctl.paths import Paths, get_paths

from .support import Response


class DaemonProcess:
    def __init__(self, paths: Paths, args: list[str], env: dict[str, str], log: Path) -> None:
        self.paths = paths
        self.log = log
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "agentctl.daemon", *args],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, **env},
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_ready(self, timeout: float = 30.0) -> Client:
        deadline = time.monotonic() + timeout
        client = Client(self.paths.socket, timeout=10.0)
        while True:
            try:
                if client.status().pid == self.pid:
                    return client
            except DaemonError:
                pass
            if self.process.poll() is not None:
                client.close()
                raise AssertionError(
                    f"daemon exited with {self.process.returncode}:\n{self.output()}"
                )
            if time.monotonic() > deadline:
                client.close()
                raise AssertionError(f"daemon did not answer in {timeout}s:\n{self.output()}")
            time.sleep(0.05)

    def terminate(self, timeout: float = 30.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


SpawnDaemon = Callable[..., DaemonProcess]


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
