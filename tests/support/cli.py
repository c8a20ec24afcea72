"""Helpers of the CLI tests: the replies their sessions run on, the environment of a command.

`env` is the environment the `cli`, `sh` and `spawn` fixtures of
tests/cli/conftest.py run `agentctl` in: the test's AGENTCTL_HOME, `agentctl`
on the PATH.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from agentctl.client import Client
from tests.support.daemon import Response, reply

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
