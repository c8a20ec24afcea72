"""Fixtures of the hostile-model suite: the scripted server, a real daemon, the CLI.

Every test drives a real daemon (tests/daemon's fixtures) whose model is
`openai:hostile` at the `model` server; sessions that run commands use the
real default sandbox image on the real Docker engine. The helpers are in
tests/support/hostile.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.cli.conftest import cli, sh  # noqa: F401  (fixtures)
from tests.daemon.conftest import (  # noqa: F401  (fixtures)
    daemon,
    daemon_process,
    paths,
    spawn_daemon,
)
from tests.tui.conftest import tui_daemon  # noqa: F401  (fixture)

from .server import HostileModelServer


@pytest.fixture(scope="session")
def model_server() -> Iterator[HostileModelServer]:
    server = HostileModelServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def model(model_server: HostileModelServer) -> Iterator[HostileModelServer]:
    model_server.reset()
    yield model_server
    model_server.reset()
