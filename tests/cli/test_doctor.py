"""`agentctl doctor`: each problem with what to do about it; exit 1 when a check fails."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentctl.client import Client
from agentctl.errors import ExitCode
from tests.support.cli import Run
from tests.support.registry import RegistryServer

SECRET = "sk-test-0123456789-do-not-print"


def test_a_missing_engine_fails_with_what_to_do_and_keys_are_never_printed(
    daemon: Client, cli: Run
) -> None:
    bad = {"DOCKER_HOST": "unix:///nonexistent/docker.sock", "OPENAI_API_KEY": SECRET}
    text = cli("doctor", **bad)
    assert text.returncode == ExitCode.FAILED
    assert SECRET not in text.stdout + text.stderr
    lines = text.stdout.splitlines()
    engine = next(i for i, line in enumerate(lines) if line.split()[1:2] == ["engine"])
    assert lines[engine].startswith("✗") and "→" in lines[engine + 1]  # the fix, on the next line
    report = json.loads(cli("doctor", "--json", **bad).stdout)
    checks = {c["name"]: c for c in report["checks"]}
    assert report["ok"] is False
    assert checks["engine"]["status"] == "fail" and checks["engine"]["fix"]
    assert checks["image"]["status"] == "skip"
    assert (
        checks["daemon"]["status"] == "ok"
        and str(daemon.status().pid) in checks["daemon"]["detail"]
    )
    assert checks["database"]["status"] == "ok"
    # The key was exported in doctor's shell, after the daemon started: the daemon
    # cannot see it, and doctor says so instead of reporting it as set.
    assert checks["openai"]["status"] == "warn" and SECRET not in json.dumps(report)
    assert "agentctl keys set openai" in checks["openai"]["fix"]
    assert {"replay", "anthropic", "config", "ollama", "llamacpp"} <= set(checks)


def test_doctor_reports_the_key_the_daemon_sees_from_the_keys_file(
    daemon: Client, cli: Run
) -> None:
    assert cli("keys", "set", "openai", input=SECRET + "\n").returncode == 0
    report = json.loads(cli("doctor", "--json").stdout)
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["openai"]["status"] == "ok", checks["openai"]
    assert "keys.json" in checks["openai"]["detail"]
    assert SECRET not in json.dumps(report)


@pytest.mark.docker
def test_all_ok_with_the_engine_and_the_image(
    docker_client: object, daemon: Client, cli: Run
) -> None:
    result = cli("doctor", "--json")
    report = json.loads(result.stdout)
    failed = [c for c in report["checks"] if c["status"] == "fail"]
    assert result.returncode == 0 and report["ok"] and not failed, failed


def test_the_registry_check_asks_the_configured_registry(
    tmp_path: Path, registry_server: RegistryServer
) -> None:
    from agentctl.cli import doctor
    from agentctl.paths import get_paths

    ctx = doctor._Context(paths=get_paths().ensure())
    assert doctor._registry(ctx) == []  # none configured: nothing to say
    ctx.paths.config_file.write_text(f'[sandbox]\nregistry = "{registry_server.address}"\n')
    [ok] = doctor._registry(ctx)
    assert (ok.name, ok.status) == ("registry", "ok"), ok
    registry_server.stop()
    try:
        [down] = doctor._registry(ctx)
    finally:
        registry_server.start()
    assert (down.name, down.status) == ("registry", "fail")
    assert f"no registry answers on {registry_server.address}" in down.detail
    ctx.paths.config_file.write_text('[sandbox]\nregistry = "http://x:1"\n')
    [bad] = doctor._registry(ctx)
    assert bad.status == "fail" and "sandbox.registry" in bad.detail
