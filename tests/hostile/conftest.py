"""Fixtures of the hostile-model suite: the scripted server, a real daemon, the CLI.

Every test drives a real daemon (tests/daemon's fixtures) whose model is
`openai:hostile` at the `model` server; sessions that run commands use the
real default sandbox image on the real Docker engine.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from agentctl.client import Client
from agentctl.protocol import CreateSession, Envelope
from tests.cli.conftest import cli, sh  # noqa: F401  (fixtures)
from tests.daemon.conftest import (  # noqa: F401  (fixtures)
    daemon,
    daemon_process,
    paths,
    spawn_daemon,
)
from tests.daemon.support import wait_status
from tests.tui.conftest import tui_daemon  # noqa: F401  (fixture)

from .server import HostileModelServer

ENDED = ("completed", "failed", "paused", "cancelled", "waiting")


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


def start(client: Client, model: HostileModelServer, task: str = "do it", **kwargs: Any) -> str:
    kwargs.setdefault("image", "none")
    kwargs.setdefault("policy", "permissive")
    req = CreateSession(task=task, model="openai:hostile", base_url=model.url, **kwargs)
    return client.create_session(req).id


def run_to_end(
    client: Client, model: HostileModelServer, task: str = "do it", **kwargs: Any
) -> tuple[str, str]:
    """Start a session and wait until it stops; (id, status)."""
    sid = start(client, model, task, **kwargs)
    return sid, wait_status(client, sid, *ENDED, timeout=120)


def events(client: Client, sid: str, type_: str | None = None) -> list[Envelope]:
    return [e for e in client.events(sid) if type_ is None or e.type == type_]


def assert_alive(client: Client) -> None:
    """The daemon still answers, and its log still takes appends (a session can be listed)."""
    assert client.health().ok
    client.sessions()
