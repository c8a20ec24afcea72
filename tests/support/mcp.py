"""Where the real MCP servers are, how their tests fail when one is missing, adding a server.

The npm reference servers are installed by `make mcp` under
~/.cache/agentctl/mcp-npm (AGENTCTL_MCP_NPM overrides it); the PyPI time
server is a dev dependency of the venv. A missing server skips its tests on
a laptop, and fails them where AGENTCTL_REQUIRE_MCP=1 or AGENTCTL_REQUIRE_DOCKER=1
(CI): a test that needs a server must run there, never pass by skipping.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import NoReturn

import pytest

from agentctl.mcp.config import ServerConfig, ServerStore
from agentctl.paths import get_paths

REQUIRE = (
    os.environ.get("AGENTCTL_REQUIRE_MCP") == "1"
    or os.environ.get("AGENTCTL_REQUIRE_DOCKER") == "1"
)
NPM = Path(os.environ.get("AGENTCTL_MCP_NPM", "~/.cache/agentctl/mcp-npm")).expanduser()
FAULT_SERVER = Path(__file__).resolve().parents[1] / "mcp" / "fault_server.py"


def missing(what: str) -> NoReturn:
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


def add_server(**fields: object) -> ServerConfig:
    server = ServerConfig.model_validate(fields)
    ServerStore(get_paths().ensure().config).add(server, replace=True)
    return server
