"""Careless input at the API and the CLI: a clear error, the right status, nothing lost."""

from __future__ import annotations

import json
import os
import signal
import socket
from pathlib import Path

import httpx

from agentctl.client import Client
from agentctl.paths import Paths
from tests.support.cli import Run
from tests.support.hostile import assert_alive, run_to_end

from .server import HostileModelServer


def raw(paths: Paths, method: str, path: str, body: bytes | None = None) -> httpx.Response:
    transport = httpx.HTTPTransport(uds=str(paths.socket))
    with httpx.Client(transport=transport, base_url="http://agentctl", timeout=60) as http:
        headers = {"content-type": "application/json"}
        return http.request(method, path, content=body, headers=headers)


def error_of(response: httpx.Response) -> dict[str, str]:
    assert response.headers["content-type"] == "application/json", response.text
    body: dict[str, str] = response.json()
    assert set(body) == {"code", "message", "detail"}
    return body


def test_invalid_utf8_and_lone_surrogates_are_422(daemon: Client, paths: Paths) -> None:
    bad = raw(paths, "POST", "/v1/sessions", b'{"task": "\xff\xfe", "image": "none"}')
    assert bad.status_code == 422
    assert "not valid UTF-8 (byte 0xff" in error_of(bad)["message"]
    lone = raw(paths, "POST", "/v1/sessions", b'{"task": "\\ud800", "image": "none"}')
    assert lone.status_code == 422
    assert error_of(lone)["code"] == "invalid_request"
    assert daemon.sessions() == []


def test_a_huge_body_is_413_and_a_2_mb_task_422(daemon: Client, paths: Paths) -> None:
    huge = json.dumps({"task": "x" * 50_000_000, "image": "none"}).encode()
    answer = raw(paths, "POST", "/v1/sessions", huge)
    assert answer.status_code == 413
    body = error_of(answer)
    assert body["code"] == "payload_too_large"
    assert "the daemon takes at most 8388608" in body["message"]
    big = json.dumps({"task": "x" * 2_000_000, "image": "none"}).encode()
    answer = raw(paths, "POST", "/v1/sessions", big)
    assert answer.status_code == 422
    assert "task: Value error, is 2000000 bytes; at most 256000" in error_of(answer)["message"]
    assert daemon.sessions() == []
    assert_alive(daemon)


def test_a_2_mb_task_is_a_usage_error_in_the_cli(daemon: Client, cli: Run) -> None:
    result = cli("run", "-", "--image", "none", input="x" * 2_000_000)
    assert result.returncode == 2, result.stderr
    assert "error: invalid CreateSession: task: Value error, is 2000000 bytes" in result.stderr
    assert "Traceback" not in result.stderr


def test_sandbox_limits_must_be_positive_and_bounded(daemon: Client, paths: Paths) -> None:
    bad = ({"memory_mb": 0}, {"pids": 0}, {"cpus": 0}, {"pids": -1}, {"disk_mb": 0}, {"files": 0})
    for limits in bad:
        body = json.dumps({"task": "t", "image": "none", "limits": limits}).encode()
        answer = raw(paths, "POST", "/v1/sessions", body)
        assert answer.status_code == 422, limits
        assert "must be from" in error_of(answer)["message"]
    assert daemon.sessions() == []


def test_run_checks_its_limits_before_it_asks(cli: Run) -> None:
    for value, said in (
        ("files=10", "files must be from 1,000 to 100,000,000, not 10"),
        ("disk=5", "'disk=5' is not NAME=N with NAME one of memory_mb, cpus, pids, disk_mb"),
        ("pids=many", "'pids=many': 'many' is not a number"),
    ):
        result = cli("run", "t", "--image", "none", "--limit", value)
        assert result.returncode == 2, result.stderr
        assert said in result.stderr and "Traceback" not in result.stderr


def test_unknown_routes_and_methods_answer_json(daemon: Client, paths: Paths) -> None:
    missing = raw(paths, "GET", "/v1/nope")
    assert missing.status_code == 404
    assert error_of(missing)["message"] == "no route GET /v1/nope; the API is under /v1"
    outside = raw(paths, "GET", "/etc/passwd")
    assert outside.status_code == 404 and error_of(outside)["code"] == "not_found"
    wrong = raw(paths, "DELETE", "/v1/sessions")
    assert wrong.status_code == 405
    assert error_of(wrong)["code"] == "method_not_allowed"


def test_ids_that_look_like_paths_name_no_session(daemon: Client, paths: Paths, cli: Run) -> None:
    commands: list[tuple[str, str]] = [
        ("show", "session"),
        ("log", "session"),
        ("attach", "session"),
        ("approve", "approval"),
    ]
    for command, kind in commands:
        result = cli(command, "../../etc/passwd")
        assert result.returncode == 1, result
        assert f"error: no {kind} '../../etc/passwd'" in result.stderr, result.stderr
    answer = raw(paths, "GET", "/v1/sessions/..%2F..%2Fetc%2Fpasswd/events")
    assert answer.status_code == 404
    assert error_of(answer)["message"] == "no session '../../etc/passwd'"


def test_an_empty_id_is_a_usage_error(daemon: Client, cli: Run) -> None:
    for args in (("show", ""), ("log", ""), ("approve", ""), ("cancel", "")):
        result = cli(*args)
        assert result.returncode == 2, result
        assert "error: an id cannot be empty" in result.stderr
        assert "ValidationError" not in result.stderr


def test_mount_needs_a_workspace(daemon: Client, cli: Run, tmp_path: Path) -> None:
    for flag in ("--mount", "--mount-ro"):
        result = cli("run", "t", "--image", "none", flag)
        assert result.returncode == 2
        assert "needs --workspace DIR" in result.stderr
    assert daemon.sessions() == []


def test_mount_is_refused_by_the_api_without_a_workspace(daemon: Client, paths: Paths) -> None:
    body = json.dumps({"task": "t", "image": "none", "mount_workspace": True}).encode()
    answer = raw(paths, "POST", "/v1/sessions", body)
    assert answer.status_code == 422
    assert "mount_workspace needs a workspace folder" in error_of(answer)["message"]


def test_a_missing_image_is_refused_at_create(
    daemon: Client, cli: Run, docker_client: object
) -> None:
    result = cli("run", "t", "--image", "nosuch:tag")
    assert result.returncode == 2, result
    assert "error: image 'nosuch:tag' is not in the Docker engine" in result.stderr
    assert daemon.sessions() == []


def test_daemon_tcp_start_listens(cli: Run) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    token = "t0ken-for-this-test"
    try:
        result = cli("daemon", "--tcp", str(port), "start", AGENTCTL_TOKEN=token)
        assert result.returncode == 0, result.stderr
        status = json.loads(cli("daemon", "status", "--json").stdout)
        assert status["tcp"] == f"127.0.0.1:{port}"
        answer = httpx.get(
            f"http://127.0.0.1:{port}/v1/health", headers={"authorization": f"Bearer {token}"}
        )
        assert answer.status_code == 200
        assert httpx.get(f"http://127.0.0.1:{port}/v1/health").status_code == 401
        again = cli("daemon", "--tcp", str(port + 1), "start", AGENTCTL_TOKEN=token)
        assert again.returncode == 2 and f"listening on 127.0.0.1:{port}" in again.stderr
    finally:
        cli("daemon", "stop")


def test_daemon_tcp_start_without_a_token_is_a_usage_error(cli: Run) -> None:
    result = cli("daemon", "--tcp", "1", "start", AGENTCTL_TOKEN="")
    assert result.returncode == 2
    assert "a TCP listener needs a bearer token" in result.stderr
    assert cli("daemon", "status").returncode == 1


def test_daemon_status_when_its_socket_was_removed(
    daemon: Client, paths: Paths, cli: Run, daemon_process: object
) -> None:
    pid = daemon.status().pid
    paths.socket.unlink()
    result = cli("daemon", "status")
    assert result.returncode == 1
    assert f"a daemon runs (pid {pid}) but no client can reach it" in result.stderr
    assert "socket file is missing" in result.stderr
    assert json.loads(cli("daemon", "status", "--json").stdout) == {
        "running": True,
        "answering": False,
        "pid": pid,
    }
    started = cli("daemon", "start")
    assert started.returncode == 1 and "no client can reach it" in started.stderr
    os.kill(pid, signal.SIGTERM)  # unreachable by the CLI, so stopped by its pid


def test_a_session_after_all_of_that(daemon: Client, model: HostileModelServer) -> None:
    _, status = run_to_end(daemon, model)
    assert status == "completed"
