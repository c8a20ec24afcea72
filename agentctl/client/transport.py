"""Where the daemon is (its socket, or a URL with a bearer token) and the timeouts."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import httpx

from agentctl.paths import get_paths

DEFAULT_TIMEOUT_S = 60.0
CONNECT_TIMEOUT_S = 5.0
RETRY_WINDOW_S = 60.0  # how long a create or fork is retried while the daemon comes back
TOKEN_ENV = "AGENTCTL_TOKEN"


@dataclass(frozen=True)
class Endpoint:
    base_url: str
    where: str  # said in error messages
    uds: str | None
    headers: dict[str, str]

    @classmethod
    def of(cls, socket: Path | str | None, base_url: str | None, token: str | None) -> Endpoint:
        if base_url is not None:
            token = token or os.environ.get(TOKEN_ENV)
            headers = {"authorization": f"Bearer {token}"} if token else {}
            return cls(base_url.rstrip("/"), base_url, None, headers)
        path = str(socket if socket is not None else get_paths().socket)
        return cls("http://agentctl", path, path, {})


def stream_timeout(timeout: float) -> httpx.Timeout:
    return httpx.Timeout(timeout, connect=CONNECT_TIMEOUT_S, read=None)  # a follow waits forever
