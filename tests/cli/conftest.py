"""Fixtures of the CLI tests: the command as a subprocess against a real daemon.

Every test gets its own AGENTCTL_HOME (tests/conftest.py) and, when it asks
for `daemon`, a real daemon on it (the daemon tests' fixtures). `cli` runs
`python -m agentctl ARGS` the way a person or a script would, piped; `sh`
runs a bash pipeline with `agentctl` and Debian's `jq` on the PATH. Sessions
run on recordings; `--image none` sessions need no Docker. The helpers are in
tests/support/cli.py.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest

from tests.daemon.conftest import (  # noqa: F401  (fixtures)
    daemon,
    daemon_process,
    paths,
    recording,
    spawn_daemon,
)
from tests.support.cli import ROOT, Run, env


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
