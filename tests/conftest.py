"""Test-wide fixtures.

Every test runs with `AGENTCTL_HOME` pointing at a temp dir, so no test
touches real state. Tests that need Docker use the `docker_client` fixture:
it skips when no engine answers, unless `AGENTCTL_REQUIRE_DOCKER=1` (set by
CI), where a missing engine is a failure.

Helpers live in `tests/support/` (conftest files hold fixtures only); pytest
rewrites the asserts there as it does in tests and conftests.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

pytest.register_assert_rewrite("tests.support")

from tests.support.run import (  # noqa: E402  (after the assert rewriting is registered)
    RUN_LABEL,
    docker_or_skip,
    remove_run_leftovers,
    stop_daemon_of_home,
)

if TYPE_CHECKING:
    import docker

    from tests.support.engine import SecondEngine
    from tests.support.postgres import PostgresServer
    from tests.support.registry import RegistryServer

# The label of every sandbox and checkpoint of this run (see tests/support/run.py).
os.environ["AGENTCTL_SANDBOX_LABELS"] = RUN_LABEL


@pytest.fixture(autouse=True)
def agentctl_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("AGENTCTL_HOME", str(home))
    yield home
    stop_daemon_of_home()  # a CLI command in the test may have started one on demand


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    client = docker_or_skip()
    yield client
    remove_run_leftovers(client)
    client.close()


@pytest.fixture
def sessions_cleanup(docker_client: docker.DockerClient) -> Iterator[list[str]]:
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


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL server for the run (fails, never skips, when it is not installed)."""
    from tests.support.postgres import PostgresServer

    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def registry_server() -> Iterator[RegistryServer]:
    """A real image registry on a loopback port (fails, never skips, when not installed)."""
    from tests.support.registry import RegistryServer

    server = RegistryServer().start()
    yield server
    server.close()


@pytest.fixture(scope="session")
def second_engine(docker_client: docker.DockerClient) -> Iterator[SecondEngine]:
    """A second Docker engine of its own, on tcp://127.0.0.1 with TLS, empty at start."""
    from tests.support.engine import SecondEngine

    engine = SecondEngine().start()
    print(f"second engine answered after {engine.started_s:.2f} s", file=sys.stderr)
    yield engine
    engine.stop()
