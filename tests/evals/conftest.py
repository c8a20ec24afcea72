"""Fixtures of the eval tests: `agentctl eval` as a subprocess against a real daemon."""

from __future__ import annotations

from tests.cli.conftest import cli  # noqa: F401  (fixtures)
from tests.daemon.conftest import (  # noqa: F401  (fixtures)
    daemon,
    daemon_process,
    paths,
    recording,
    spawn_daemon,
)
