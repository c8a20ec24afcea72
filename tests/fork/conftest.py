"""Fixtures of the fork and replay tests: a real daemon, recordings, the CLI, Docker cleanup.

The daemon fixtures are the daemon tests' own (`tests/daemon/conftest.py`):
`python -m agentctl.daemon` on the test's AGENTCTL_HOME, stopped with SIGTERM
at the end. Every session a test makes is remembered so that its container
and checkpoint images are removed afterwards; nothing else in the engine is
touched (other test runs may share it). The replies of recordings are in
tests/support/fork.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.daemon.conftest import daemon, daemon_process, paths, spawn_daemon  # noqa: F401
from tests.support.fork import ROOT, Response, write_recording


@pytest.fixture
def recording(tmp_path: Path) -> Callable[[str, list[Response]], str]:
    """Write a recording named `name`; returns the model spec `replay:PATH` (absolute)."""

    def write(name: str, responses: list[Response]) -> str:
        return f"replay:{write_recording(tmp_path / f'{name}.jsonl', responses)}"

    return write


@pytest.fixture
def cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    """`agentctl ARGS` as a subprocess on the test's AGENTCTL_HOME (the fixture's daemon)."""

    def run(*args: str, timeout: float = 240.0) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "agentctl", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200"},
            cwd=ROOT,
        )

    return run
