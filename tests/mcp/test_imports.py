"""The MCP SDK loads only where a server is spoken to: the CLI and the daemon start without it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_sdk_is_not_imported_by_the_cli_or_the_daemon() -> None:
    code = (
        "import sys, agentctl.cli.main, agentctl.daemon.server, agentctl.runtime;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('mcp', 'mcp_types', 'httpx2')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
