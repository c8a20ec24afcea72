"""`agentctl daemon start|status|stop`, on this test's AGENTCTL_HOME (no fixture daemon)."""

from __future__ import annotations

import json

from tests.support.cli import Run


def test_daemon_start_status_stop(cli: Run) -> None:
    assert cli("daemon", "status").returncode == 1  # none runs yet
    try:
        started = cli("daemon", "start", "--json")
        assert started.returncode == 0, started.stderr
        pid = json.loads(started.stdout)["pid"]
        status = cli("daemon", "status")
        assert status.returncode == 0 and f"daemon {pid}" in status.stdout
    finally:
        stopped = cli("daemon", "stop", "--json")
    assert json.loads(stopped.stdout) == {"stopped": pid}
    assert json.loads(cli("daemon", "status", "--json").stdout) == {"running": False}
