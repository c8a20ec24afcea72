"""Fixtures of the CLI tests: the command as a subprocess against a real daemon.

Every test gets its own AGENTCTL_HOME (tests/conftest.py) and, when it asks
for `daemon`, a real daemon on it (the daemon tests' fixtures). `cli` runs
`python -m agentctl ARGS` the way a person or a script would, piped; `sh`
runs a bash pipeline with `agentctl` and Debian's `jq` on the PATH. Sessions
run on recordings; `--image none` sessions need no Docker.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agentctl.client import Client
from tests.daemon.conftest import (  # noqa: F401  (fixtures)
    daemon,
    daemon_process,
    paths,
    recording,
    spawn_daemon,
)
from tests.daemon.support import Response, reply, wait_status  # noqa: F401  (re-exported)

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

Run = Callable[..., subprocess.CompletedProcess[str]]


def write(path: str, step: int = 0) -> Response:
    """A step that writes a file: the default policy asks a person first."""
    return reply(f"writing {path}", ("write_file", {"path": path, "content": "x\n"}), step=step)


def read(path: str, step: int = 0) -> Response:
    """A step that reads a file: allowed by the default policy (an error result without a sandbox)."""
    return reply(f"reading {path}", ("read_file", {"path": path}), step=step)


def final(text: str = "all done") -> Response:
    return reply(text)


def env(**extra: str) -> dict[str, str]:
    """The environment of a command: this test's AGENTCTL_HOME, `agentctl` on the PATH."""
    base = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "COLUMNS")}
    base["PATH"] = f"{BIN}{os.pathsep}{base.get('PATH', '')}"
    base.update(extra)
    return base


@pytest.fixture
def cli() -> Run:
    """`agentctl ARGS` as a subprocess, piped, on this test's AGENTCTL_HOME."""

    def run(
        *args: str, input: str | None = None, timeout: float = 60.0, **extra: str
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "agentctl", *args],
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env(**extra),
            cwd=ROOT,
        )

    return run


@pytest.fixture
def sh() -> Run:
    """A bash pipeline (`set -euo pipefail`) with `agentctl` and `jq` on the PATH."""

    def run(script: str, timeout: float = 90.0, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "-c", "set -euo pipefail\n" + script],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env(**extra),
            cwd=ROOT,
        )

    return run


@pytest.fixture
def spawn() -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """`agentctl ARGS` started in the background (for signals and concurrent clients)."""
    started: list[subprocess.Popen[str]] = []

    def start(*args: str) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [sys.executable, "-m", "agentctl", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env(),
            cwd=ROOT,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=10)


def only_session(client: Client) -> str:
    deadline = time.monotonic() + 30
    while not (sessions := client.sessions()):
        if time.monotonic() > deadline:
            raise AssertionError("no session was created")
        time.sleep(0.05)
    assert len(sessions) == 1
    return sessions[0].id


def one_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line, got:\n{text}"
    return lines[0]
