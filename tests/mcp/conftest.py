"""Where the real MCP servers are, and how their tests fail when one is missing.

The npm reference servers are installed by `make mcp` under
~/.cache/agentctl/mcp-npm (AGENTCTL_MCP_NPM overrides it); the PyPI time
server is a dev dependency of the venv. A missing server skips its tests on
a laptop, and fails them where AGENTCTL_REQUIRE_MCP=1 or AGENTCTL_REQUIRE_DOCKER=1
(CI): a test that needs a server must run there, never pass by skipping.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from agentctl.mcp.config import ServerConfig, ServerStore
from agentctl.paths import get_paths

REQUIRE = (
    os.environ.get("AGENTCTL_REQUIRE_MCP") == "1"
    or os.environ.get("AGENTCTL_REQUIRE_DOCKER") == "1"
)
NPM = Path(os.environ.get("AGENTCTL_MCP_NPM", "~/.cache/agentctl/mcp-npm")).expanduser()
FAULT_SERVER = Path(__file__).with_name("fault_server.py")


def missing(what: str) -> None:
    message = f"{what} is not installed (run `make mcp`)"
    if REQUIRE:
        pytest.fail(message + " (AGENTCTL_REQUIRE_MCP/DOCKER=1: the MCP tests must run)")
    pytest.skip(message)


def npm_server(package: str) -> Path:
    entry = NPM / "node_modules" / "@modelcontextprotocol" / package / "dist" / "index.js"
    if not entry.is_file():
        missing(f"@modelcontextprotocol/{package}")
    if shutil.which("node") is None:
        missing("node")
    return entry


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


def add_server(**fields: object) -> ServerConfig:
    server = ServerConfig.model_validate(fields)
    ServerStore(get_paths().ensure().config).add(server, replace=True)
    return server
