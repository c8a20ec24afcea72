"""Test-wide fixtures.

Every test runs with `AGENTCTL_HOME` pointing at a temp dir, so no test
touches real state. Tests that need Docker use the `docker_client` fixture:
it skips when no engine answers, unless `AGENTCTL_REQUIRE_DOCKER=1` (set by
CI), where a missing engine is a failure.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REQUIRE_DOCKER = os.environ.get("AGENTCTL_REQUIRE_DOCKER") == "1"

# Every sandbox this test run creates (in-process or in a daemon it spawns) carries
# this label, and so does every checkpoint committed from it: the session's
# finalizer below removes exactly those, and nothing else on the engine.
RUN_LABEL = f"agentctl.test-run=pytest-{os.getpid()}"
os.environ["AGENTCTL_SANDBOX_LABELS"] = RUN_LABEL


@pytest.fixture(autouse=True)
def agentctl_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("AGENTCTL_HOME", str(home))
    yield home
    _stop_daemon_of_home()  # a CLI command in the test may have started one on demand


def _stop_daemon_of_home() -> None:
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


def _docker_or_skip():  # type: ignore[no-untyped-def]
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


@pytest.fixture(scope="session")
def docker_client() -> Iterator[object]:
    client = _docker_or_skip()
    yield client
    _remove_run_leftovers(client)
    client.close()


@pytest.fixture
def sessions_cleanup(docker_client: Any) -> Iterator[list[str]]:
    """Session ids whose containers and checkpoint images go at the end of the test."""
    from sandboxes import DockerSandboxDriver

    made: list[str] = []
    yield made
    driver = DockerSandboxDriver()
    for sid in made:
        try:
            driver.remove_stream(sid)
            for checkpoint in driver.list_checkpoints(sid):
                docker_client.images.remove(checkpoint.image, force=True)
        except Exception as exc:  # cleanup must not hide the test's result
            print(f"cleanup of {sid}: {exc}", file=sys.stderr)


def _remove_run_leftovers(client) -> None:  # type: ignore[no-untyped-def]
    # best effort: a container or image may be gone already, or an image still in use
    for container in client.containers.list(all=True, filters={"label": RUN_LABEL}):
        with contextlib.suppress(Exception):
            container.remove(force=True)
    for image in client.images.list(filters={"label": RUN_LABEL}):
        with contextlib.suppress(Exception):
            client.images.remove(image.id, force=True)
