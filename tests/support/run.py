"""What the whole test run shares: its sandbox label, the Docker engine, a home's daemon.

Every sandbox this test run creates (in-process or in a daemon it spawns) carries
`RUN_LABEL`, and so does every checkpoint committed from it: the root conftest
sets it in the environment, and `remove_run_leftovers` removes exactly those at
the end of the run, and nothing else on the engine.

Nothing here imports agentctl at module level: the root conftest imports this
before any test has set its AGENTCTL_HOME.
"""

from __future__ import annotations

import contextlib
import os
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    import docker

REQUIRE_DOCKER = os.environ.get("AGENTCTL_REQUIRE_DOCKER") == "1"
RUN_LABEL = f"agentctl.test-run=pytest-{os.getpid()}"


def stop_daemon_of_home() -> None:
    """Stop the daemon of the current AGENTCTL_HOME, if a command started one on demand."""
    import signal
    import time

    from agentctl.paths import get_paths

    try:
        pid = int(get_paths().pidfile.read_text().strip())
    except (OSError, ValueError):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
        for _ in range(100):
            time.sleep(0.05)
            os.kill(pid, 0)  # raises once it is gone
        os.kill(pid, signal.SIGKILL)


def docker_or_skip() -> docker.DockerClient:
    """A client of the engine that answers; skip (or fail, AGENTCTL_REQUIRE_DOCKER=1) without one."""
    try:
        import docker

        client = docker.from_env(timeout=120)
        client.ping()
        return client
    except Exception as exc:
        message = f"Docker engine not available: {exc}"
        if REQUIRE_DOCKER:
            pytest.fail(message + " (AGENTCTL_REQUIRE_DOCKER=1: Docker tests must run)")
        pytest.skip(message)


def remove_run_leftovers(client: docker.DockerClient) -> None:
    """Remove the containers and images labelled with this run's `RUN_LABEL`."""
    # best effort: a container or image may be gone already, or an image still in use
    for container in client.containers.list(all=True, filters={"label": RUN_LABEL}):
        with contextlib.suppress(Exception):
            container.remove(force=True)
    for image in client.images.list(filters={"label": RUN_LABEL}):
        with contextlib.suppress(Exception):
            client.images.remove(image.id, force=True)
