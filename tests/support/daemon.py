"""A real daemon process, replay replies, waiting for a status, comparing logs.

`DaemonProcess` is `python -m agentctl.daemon` on a home (the `daemon` and
`spawn_daemon` fixtures of tests/daemon/conftest.py start them; other tests
start one by hand to restart it on the same home).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agentctl.client import Client
from agentctl.errors import DaemonError
from agentctl.paths import Paths
from agentctl.protocol import Envelope

Response = dict[str, Any]


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


def reply(text: str, *calls: tuple[str, dict[str, Any]], step: int = 0) -> Response:
    return {
        "text": text,
        "tool_calls": [
            {"id": f"call_{step}_{i}", "name": name, "args": args}
            for i, (name, args) in enumerate(calls)
        ],
        "usage": {"input_tokens": 10, "output_tokens": 5},
    }


def reads(n: int, *, start: int = 0) -> list[Response]:
    """`n` steps that each read a file (allowed by the default policy, fails without a sandbox)."""
    return [
        reply(f"step {i}", ("read_file", {"path": f"f{i}.txt"}), step=i)
        for i in range(start, start + n)
    ]


def wait_status(client: Client, session_id: str, *wanted: str, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        status = client.session(session_id).status.value
        if status in wanted:
            return status
        if time.monotonic() > deadline:
            raise AssertionError(f"session {session_id} is {status}, not {wanted}")
        time.sleep(0.02)


def assert_exact_log(events: list[Envelope], full: list[Envelope]) -> None:
    """`events` is the session log: every seq once, in order, identical to the stored one."""
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert [e.model_dump() for e in events] == [e.model_dump() for e in full]


def start_racing(paths: Paths, clients: int) -> list[object]:
    """`clients` threads start the daemon at the same moment: what each got (a pid, or
    the exception it raised)."""
    from agentctl.daemon import lifecycle

    results: list[object] = []

    def start() -> None:
        try:
            results.append(lifecycle.start_background(paths, timeout=60))
        except Exception as exc:
            results.append(exc)

    threads = [threading.Thread(target=start) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)
    return results
