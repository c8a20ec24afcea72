"""A real daemon per test on the test's AGENTCTL_HOME, replay recordings, and the app under test.

`tui_daemon` starts `python -m agentctl.daemon` (the daemon tests' `DaemonProcess`),
and can restart it on the same home (the reconnect test). The app is built
with the same factory the CLI uses, given an `AsyncClient` on that socket
(`TuiDaemon` in tests/support/tui.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from agentctl.paths import get_paths
from tests.daemon.conftest import recording  # noqa: F401  (a fixture)
from tests.support.tui import TuiDaemon


@pytest.fixture
def tui_daemon(agentctl_home: Path, tmp_path: Path) -> Iterator[TuiDaemon]:
    daemon = TuiDaemon(get_paths().ensure(), tmp_path)
    daemon.start()
    yield daemon
    if daemon.process is not None and daemon.process.process.poll() is None:
        daemon.stop()
