"""The real llama.cpp server, started once per test run on loopback.

Missing (no `make llama`), its tests skip, unless `AGENTCTL_REQUIRE_LLAMA=1`
(set by CI), where that is a failure: CI must run them for real.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentctl.paths import Paths, get_paths

from .server import REQUIRE_ENV, LlamaServer, missing

pytestmark = pytest.mark.llama


def _require() -> None:
    why = missing()
    if why is None:
        return
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{why} ({REQUIRE_ENV}=1: the llama.cpp tests must run)")
    pytest.skip(why)


@pytest.fixture(scope="session")
def llama(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    _require()
    server = LlamaServer(tmp_path_factory.mktemp("llama") / "server.log").start()
    yield server
    server.stop()


def write_endpoint(paths: Paths, url: str, **options: str) -> None:
    """`[providers.local]` pointing at the server: `--model local:smol`."""
    lines = ["[providers.local]", f'base_url = "{url}"', "timeout_s = 120"]
    lines += [f"{k} = {v}" for k, v in options.items()]
    paths.config_file.write_text("\n".join(lines) + "\n")


@pytest.fixture
def paths(agentctl_home: Path) -> Paths:
    return get_paths().ensure()


# The daemon fixtures of tests/daemon, for the end-to-end tests here.
from tests.daemon.conftest import daemon, daemon_process, spawn_daemon  # noqa: E402

__all__ = ["daemon", "daemon_process", "llama", "paths", "spawn_daemon", "write_endpoint"]
