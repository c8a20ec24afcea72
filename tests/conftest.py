"""Test-wide fixtures.

Every test runs with `AGENTCTL_HOME` pointing at a temp dir, so no test
touches real state. Tests that need Docker use the `docker_client` fixture:
it skips when no engine answers, unless `AGENTCTL_REQUIRE_DOCKER=1` (set by
CI), where a missing engine is a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REQUIRE_DOCKER = os.environ.get("AGENTCTL_REQUIRE_DOCKER") == "1"


@pytest.fixture(autouse=True)
def agentctl_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("AGENTCTL_HOME", str(home))
    return home


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
    client.close()
