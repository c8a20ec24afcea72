"""Fixtures of the observability tests: a real daemon (the daemon tests' own), the CLI, recordings.

`daemon` is `python -m agentctl.daemon` on the test's AGENTCTL_HOME, stopped
with SIGTERM at the end; `cli` runs `python -m agentctl` against it;
`sessions_cleanup` removes the containers and checkpoint images of the
sessions a Docker test made, and nothing else of the shared engine. The
helpers are in tests/support/observe.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.daemon.conftest import daemon, daemon_process, paths, spawn_daemon  # noqa: F401
from tests.support.observe import ROOT, Cli, Response


@pytest.fixture
def recording(tmp_path: Path) -> Callable[[str, list[Response]], str]:
    """Write a recording named `name`; returns the model spec `replay:PATH`."""

    def write(name: str, responses: list[Response]) -> str:
        path = tmp_path / f"{name}.jsonl"
        lines = [{"format": "agentctl-recording", "version": 1}, *responses]
        path.write_text("".join(json.dumps(line) + "\n" for line in lines))
        return f"replay:{path}"

    return write


@pytest.fixture
def cli() -> Cli:
    """`agentctl ARGS` as a subprocess on the test's AGENTCTL_HOME (the fixture's daemon)."""

    def run(
        *args: str, input: str | None = None, timeout: float = 120.0
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "agentctl", *args],
            capture_output=True,
            text=True,
            input=input,
            timeout=timeout,
            env={**os.environ, "NO_COLOR": "1", "COLUMNS": "160"},
            cwd=ROOT,
        )

    return run
