"""The one exception of the MCP layer, apart from the SDK (which loads only where a server is spoken to)."""

from __future__ import annotations


class ServerDown(Exception):
    """The server could not be started, or went away; the message says how."""


__all__ = ["ServerDown"]
