"""The real llama.cpp server, started once per test run on loopback.

Missing (no `make llama`), its tests skip, unless `AGENTCTL_REQUIRE_LLAMA=1`
(set by CI), where that is a failure: CI must run them for real (see
tests/support/llama.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from agentctl.paths import Paths, get_paths

# The daemon fixtures of tests/daemon, for the end-to-end tests here.
from tests.daemon.conftest import daemon, daemon_process, spawn_daemon
from tests.support.llama import require

from .server import LlamaServer

pytestmark = pytest.mark.llama


@pytest.fixture(scope="session")
def llama(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    require()
    server = LlamaServer(tmp_path_factory.mktemp("llama") / "server.log").start()
    yield server
    server.stop()


@pytest.fixture
def paths(agentctl_home: Path) -> Paths:
    return get_paths().ensure()


__all__ = ["daemon", "daemon_process", "llama", "paths", "spawn_daemon"]
