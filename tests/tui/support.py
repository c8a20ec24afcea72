"""Waiting inside a Pilot test without blocking the app's event loop."""

from __future__ import annotations

import time
from collections.abc import Callable

from textual.pilot import Pilot

from agentctl.client import Client
from agentctl.protocol import Envelope


async def until(
    pilot: Pilot[None], predicate: Callable[[], object], *, timeout: float = 30.0, what: str = ""
) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        await pilot.pause(0.05)


def events_of(client: Client, session_id: str, type_: str | None = None) -> list[Envelope]:
    return [e for e in client.events(session_id) if type_ is None or e.type == type_]
