"""Fixtures of the fork and replay tests: a real daemon, recordings, the CLI, Docker cleanup.

The daemon fixtures are the daemon tests' own (`tests/daemon/conftest.py`):
`python -m agentctl.daemon` on the test's AGENTCTL_HOME, stopped with SIGTERM
at the end. Every session a test makes is remembered so that its container
and checkpoint images are removed afterwards; nothing else in the engine is
touched (other test runs may share it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.daemon.conftest import daemon, daemon_process, paths, spawn_daemon  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]

Response = dict[str, Any]


def shell(command: str, call_id: str, text: str = "") -> Response:
    return {
        "text": text or f"running {command}",
        "tool_calls": [{"id": call_id, "name": "shell", "args": {"command": command}}],
        "usage": {"input_tokens": 10, "output_tokens": 5},
    }


def tool(name: str, args: dict[str, Any], call_id: str) -> Response:
    return {"text": f"{name}", "tool_calls": [{"id": call_id, "name": name, "args": args}]}


def final(text: str = "done") -> Response:
    return {"text": text, "tool_calls": [], "usage": {"input_tokens": 10, "output_tokens": 5}}


def write_recording(path: Path, responses: list[Response]) -> Path:
    lines = [{"format": "agentctl-recording", "version": 1}, *responses]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


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
