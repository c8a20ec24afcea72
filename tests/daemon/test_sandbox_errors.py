"""The sandbox layer's errors reach a client as agentctl's, with what to do.

The failing driver is a real one pointed at an engine that is not there
(DOCKER_HOST names a socket nobody listens on): each request that needs the
engine is a 503 `sandbox_unavailable` that names `agentctl doctor`, never a
500 `internal_error`, and the daemon goes on answering.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from agentctl.errors import SandboxUnavailableError
from agentctl.protocol import CreateSession
from tests.support.daemon import SpawnDaemon


def test_no_engine_is_a_503_that_says_what_to_do(spawn_daemon: SpawnDaemon, tmp_path: Path) -> None:
    nowhere = f"unix://{tmp_path}/no-engine.sock"
    process = spawn_daemon(env={"DOCKER_HOST": nowhere})
    client = process.wait_ready()
    try:
        for image in (None, "python:3.12-slim"):  # the default image, and one named
            with pytest.raises(SandboxUnavailableError) as caught:
                client.create_session(CreateSession(task="t", image=image))
            error = caught.value
            assert error.code == "sandbox_unavailable" and error.http_status == 503
            assert error.hint is not None and "agentctl doctor" in error.hint, error.hint
            assert "internal" not in error.message
        assert client.sessions() == []  # nothing half-made
        assert client.health().ok
        ran = subprocess.run(
            [sys.executable, "-m", "agentctl", "run", "t", "--detach"],
            capture_output=True,
            text=True,
            env={**os.environ, "DOCKER_HOST": nowhere},
            timeout=60,
        )
        assert ran.returncode == 1, ran.stderr
        assert "agentctl doctor" in ran.stderr and "Traceback" not in ran.stderr
    finally:
        client.close()
        assert process.terminate() == 0, process.output()
