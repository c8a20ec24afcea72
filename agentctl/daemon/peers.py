"""Who is at the other end of a connection: SO_PEERCRED on the Unix socket.

uvicorn builds each request's ASGI scope from its protocol object; this
protocol adds the peer's credentials, read from the kernel once per
connection, to the scope's `state` (`request.state.peer`), and marks how the
request came (`request.state.via`: socket or tcp). Handlers that need to know
who is asking (deciding an approval) read it from there, never from the body.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from starlette.requests import Request
from uvicorn.protocols.http.h11_impl import H11Protocol

from agentctl.identity import Identity, daemon_owner, from_peer, peer_credentials

log = logging.getLogger(__name__)


class PeerAwareH11(H11Protocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        sock = transport.get_extra_info("socket")
        peer: tuple[int, int, int] | None = None
        try:
            peer = peer_credentials(sock) if sock is not None else None
        except OSError as exc:  # no credentials: the request is not treated as anyone's
            log.warning("could not read the peer credentials of a connection: %s", exc)
        state: dict[str, Any] = dict(self.app_state)
        state["peer"] = peer
        state["via"] = "socket" if peer is not None else "tcp"
        self.app_state = state


def identity_of(request: Request) -> Identity:
    """The verified caller: the socket's peer, or the daemon's owner over TCP (its token)."""
    state = request.scope.get("state") or {}
    peer = state.get("peer")
    if peer is not None:
        pid, uid, gid = peer
        return from_peer(pid, uid, gid)
    return daemon_owner("tcp")


__all__ = ["PeerAwareH11", "identity_of"]
