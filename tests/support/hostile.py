"""Helpers of the hostile-model suite: sessions on the scripted server, run to their end."""

from __future__ import annotations

from typing import Any

from agentctl.client import Client
from agentctl.protocol import CreateSession, Envelope
from tests.hostile.server import HostileModelServer
from tests.support.daemon import wait_status

ENDED = ("completed", "failed", "paused", "cancelled", "waiting")


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
