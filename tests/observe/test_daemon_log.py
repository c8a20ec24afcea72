"""The daemon keeps its own log in the state directory, rotated."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from logging.handlers import RotatingFileHandler

import pytest

from agentctl.client import Client
from agentctl.daemon.__main__ import configure_logging
from agentctl.paths import Paths


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in root.handlers:
        if handler not in handlers:
            handler.close()
    root.handlers[:] = handlers
    root.setLevel(level)


def test_the_log_rotates_in_the_state_directory(paths: Paths, restore_logging: None) -> None:
    configure_logging(paths, to_stderr=False, level="info")
    (handler,) = [h for h in logging.getLogger().handlers if isinstance(h, RotatingFileHandler)]
    assert handler.baseFilename == str(paths.daemon_log)
    assert paths.daemon_log.parent == paths.state
    assert handler.maxBytes == 10 * 1024 * 1024 and handler.backupCount == 3
    handler.maxBytes = 200  # rotation itself: small files, three kept
    for i in range(50):
        logging.getLogger("agentctl.daemon").info("line %d %s", i, "x" * 40)
    rotated = sorted(p.name for p in paths.state.glob("daemon.log*"))
    assert rotated == ["daemon.log", "daemon.log.1", "daemon.log.2", "daemon.log.3"]


def test_a_real_daemon_writes_its_log(daemon: Client, paths: Paths) -> None:
    daemon.health()
    assert "listening on" in paths.daemon_log.read_text()
