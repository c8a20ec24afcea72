"""`agentctl mcp add|ls|rm` and `agentctl tools ls` against a real daemon and real servers."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from agentctl.paths import get_paths
from tests.support.cli import Run

from ..cli.conftest import cli  # noqa: F401  (a fixture)

ATTACK = "evil\x1b]0;pwned\x07"


def test_add_ls_rm_and_tools_ls(cli: Run, everything: list[str], time_server: list[str]) -> None:  # noqa: F811
    assert cli("mcp", "add", "everything", "--scope", "host", "--", *everything).returncode == 0
    assert cli("mcp", "add", "time", "--scope", "host", "--", *time_server).returncode == 0
    added = cli(
        "mcp",
        "add",
        "broken",
        "--scope",
        "host",
        "--env",
        "TOKEN=${key:nope}",
        "--",
        "/no/such/server",
    )
    assert added.returncode == 0, added.stderr
    config = get_paths().config / "mcp.json"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert "${key:nope}" in config.read_text()  # a reference, not a value

    again = cli("mcp", "add", "time", "--", "x")
    assert again.returncode == 2 and "exists" in again.stderr
    bad = cli("mcp", "add", "two__parts", "--", "x")
    assert bad.returncode == 2 and "not a server name" in bad.stderr
    neither = cli("mcp", "add", "lonely")
    assert neither.returncode == 2 and "no command" in neither.stderr

    listed = cli("mcp", "ls", "--json", timeout=120)
    assert listed.returncode == 0, listed.stderr
    servers = {s["name"]: s for s in json.loads(listed.stdout)}
    assert servers["broken"]["state"] == "failed" and "key 'nope'" in servers["broken"]["line"]
    assert servers["broken"]["env"] == ["TOKEN"]  # names, never values
    assert {t["name"] for t in servers["time"]["tools"]} >= {"mcp__time__get_current_time"}
    assert any(t["name"] == "mcp__everything__echo" for t in servers["everything"]["tools"])
    table = cli("mcp", "ls", timeout=120)
    assert table.returncode == 0 and "everything" in table.stdout and "echo" in table.stdout

    tools = cli("tools", "ls", "--json", timeout=120)
    assert tools.returncode == 0, tools.stderr
    by_name = {t["name"]: t for t in json.loads(tools.stdout)}
    assert by_name["shell"]["source"] == "builtin" and not by_name["shell"]["idempotent"]
    echo = by_name["mcp__everything__echo"]
    assert echo["idempotent"] and echo["tier"] == "allow"  # readOnlyHint, default preset
    toggle = by_name["mcp__everything__toggle-simulated-logging"]
    assert not toggle["idempotent"] and toggle["tier"] == "ask"
    strict = json.loads(cli("tools", "ls", "--json", "--policy", "strict", timeout=120).stdout)
    assert {t["tier"] for t in strict if t["source"] != "builtin"} == {
        "ask"
    }  # strict takes no hints
    permissive = json.loads(
        cli("tools", "ls", "--json", "--policy", "permissive", timeout=120).stdout
    )
    assert {t["tier"] for t in permissive if t["source"] != "builtin"} == {
        "allow"
    }  # nor does permissive: it allows what it does not deny

    assert cli("mcp", "rm", "broken").returncode == 0
    assert cli("mcp", "rm", "broken").returncode == 2
    assert "broken" not in config.read_text()


def test_a_server_cannot_write_to_the_terminal(cli: Run, tmp_path: Path) -> None:  # noqa: F811
    """Server-given text (here a start failure's stderr) is shown neutralised."""
    script = tmp_path / "evil.py"
    script.write_text(f"import sys; sys.stderr.write({ATTACK!r}); sys.exit(1)\n")
    assert (
        cli("mcp", "add", "evil", "--scope", "host", "--", "python3", str(script)).returncode == 0
    )
    table = cli("mcp", "ls", timeout=120)
    assert table.returncode == 0
    assert "pwned" in table.stdout  # shown, as visible escapes
    assert "\x1b" not in table.stdout and "\x07" not in table.stdout
