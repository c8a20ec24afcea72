"""Fixtures of the sandbox tests: the default image (built once per recipe),
a driver, unique stream ids whose containers and checkpoints are removed at
teardown, and a module-scoped sandbox for tests that can share one."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from sandboxes import DockerSandboxDriver, Sandbox, SandboxSpec, ensure_default_image
from tests.support.sandboxes import remove_streams


@pytest.fixture(scope="session")
def default_image(docker_client: Any) -> str:
    return ensure_default_image(docker_client)


@pytest.fixture(scope="session")
def driver(docker_client: Any) -> DockerSandboxDriver:
    return DockerSandboxDriver(docker_client)


@pytest.fixture
def new_stream(driver: DockerSandboxDriver) -> Iterator[Callable[[], str]]:
    """Unique stream ids; their containers and checkpoints go at teardown."""
    made: list[str] = []

    def make() -> str:
        stream = f"ses_T{uuid.uuid4().hex[:20].upper()}"
        made.append(stream)
        return stream

    yield make
    remove_streams(driver, made)


@pytest.fixture(scope="module")
def shared_sandbox(driver: DockerSandboxDriver, default_image: str) -> Iterator[Sandbox]:
    """One sandbox per module, for tests that do not step on each other."""
    stream = f"ses_M{uuid.uuid4().hex[:20].upper()}"
    sandbox = driver.create(stream, SandboxSpec(image=default_image))
    yield sandbox
    remove_streams(driver, [stream])
