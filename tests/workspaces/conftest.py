"""The workspace tests share the fork tests' fixtures: a real daemon, recordings, the CLI."""

from __future__ import annotations

from tests.daemon.conftest import daemon, daemon_process, paths, spawn_daemon  # noqa: F401
from tests.fork.conftest import cli, recording  # noqa: F401
