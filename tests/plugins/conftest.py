"""The plugin tests use the daemon tests' fixtures: a real daemon on a temp home."""

from __future__ import annotations

from tests.daemon.conftest import daemon, daemon_process, paths, spawn_daemon  # noqa: F401
