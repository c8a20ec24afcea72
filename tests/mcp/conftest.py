"""The real MCP servers as fixtures: the command that starts each one.

Where they are installed, and how a missing one skips or fails its tests, is in
tests/support/mcp.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.support.mcp import FAULT_SERVER, missing, npm_server


@pytest.fixture
def everything() -> list[str]:
    return ["node", str(npm_server("server-everything")), "stdio"]


@pytest.fixture
def filesystem_server() -> Path:
    return npm_server("server-filesystem")


@pytest.fixture
def time_server() -> list[str]:
    try:
        import mcp_server_time  # noqa: F401
    except ImportError:
        missing("mcp-server-time (PyPI)")
    return [sys.executable, "-m", "mcp_server_time", "--local-timezone", "UTC"]


@pytest.fixture
def fault_server(tmp_path: Path) -> tuple[list[str], Path]:
    """The fault server's command and the log its side effects append to."""
    return [sys.executable, str(FAULT_SERVER)], tmp_path / "fault.log"
