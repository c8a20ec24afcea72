"""A daemon with no session to run imports no Docker SDK, HTTP client, JSON Schema or cron
library: they load with the first sandbox, model call, schema or schedule (each costs tens
of milliseconds and megabytes at every start otherwise). Measured on the real daemon
process with Python's own import log, and the lazy package namespaces kept whole."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

from tests.support.daemon import SpawnDaemon

LOADED_ON_USE = (
    "docker",
    "paramiko",
    "requests",
    "urllib3",
    "httpx",
    "jsonschema",
    "croniter",
    "rich",
    "pygments",
    "textual",
    "typer",
)


def test_an_idle_daemon_imports_none_of_the_heavy_libraries(spawn_daemon: SpawnDaemon) -> None:
    daemon = spawn_daemon(env={"PYTHONPROFILEIMPORTTIME": "1"})
    daemon.wait_ready().close()
    assert daemon.terminate() == 0
    imported = {
        line.rsplit("|", 1)[1].strip().split(".")[0]
        for line in daemon.output().splitlines()
        if line.startswith("import time:") and line.count("|") == 2
    }
    assert {"agentctl", "duckdb", "uvicorn"} <= imported  # the log is the daemon's imports
    assert sorted(imported & set(LOADED_ON_USE)) == []


@pytest.mark.parametrize("package", ["sandboxes", "agentctl.runtime"])
def test_a_lazy_package_exports_what_it_lists(package: str) -> None:
    module = importlib.import_module(package)
    assert sorted(module.__all__) == sorted(module._WHERE)
    for name in module.__all__:
        assert getattr(module, name) is getattr(importlib.import_module(module._WHERE[name]), name)
    with pytest.raises(AttributeError):
        module.no_such_name  # noqa: B018


@pytest.mark.parametrize(
    "module", ["agentctl.mcp.hub", "agentctl.mcp.elicit", "agentctl.runtime.replies", "sandboxes"]
)
def test_a_module_imports_on_its_own(module: str) -> None:
    # Each was once importable only after something else had loaded the runtime.
    done = subprocess.run(
        [sys.executable, "-c", f"import {module}"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
