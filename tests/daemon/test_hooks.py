"""Webhooks against a real daemon: signatures right, wrong and replayed; caps; safe templates."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
from collections.abc import Callable, Iterator

import httpx
import pytest

from agentctl.client import Client
from agentctl.paths import Paths
from agentctl.protocol import AddHook, CreateSession
from tests.support.daemon import DaemonProcess, Response, SpawnDaemon, reply, wait_status


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@pytest.fixture
def http(paths: Paths) -> Iterator[httpx.Client]:
    with httpx.Client(
        transport=httpx.HTTPTransport(uds=str(paths.socket)), base_url="http://agentctl"
    ) as client:
        yield client


def add_hook(daemon: Client, model: str, template: str, max_body: int = 4096) -> str:
    run = CreateSession(task="(from the payload)", model=model, image="none", policy="permissive")
    view = daemon.add_hook(AddHook(name="gh", task_template=template, run=run, max_body=max_body))
    assert view.path == "/v1/hooks/gh" and view.secret
    return view.secret


def post(http: httpx.Client, body: bytes, **headers: str) -> httpx.Response:
    return http.post(
        "/v1/hooks/gh", content=body, headers={"content-type": "application/json", **headers}
    )


def test_signed_deliveries_start_sessions_and_bad_ones_are_refused(
    daemon: Client,
    daemon_process: DaemonProcess,
    http: httpx.Client,
    paths: Paths,
    recording: Callable[[list[Response]], str],
) -> None:
    secret = add_hook(
        daemon,
        recording([reply("reviewed")]),
        "Review PR #{{payload.number}}: {{payload.pull_request.title}}",
    )
    payload = {
        "number": 42,
        "pull_request": {"title": "Fix {{payload.secret}} $(rm -rf /) `id`\x1b[31m"},
        "secret": "leak",
    }
    body = json.dumps(payload).encode()

    ok = post(http, body, **{"X-Hub-Signature-256": sign(secret, body), "X-GitHub-Delivery": "d-1"})
    assert ok.status_code == 202, ok.text
    sid = ok.json()["session"]
    wait_status(daemon, sid, "completed")
    summary = daemon.session(sid)
    # Substituted as text, once: the payload's own braces and shell syntax stay characters.
    assert summary.task == "Review PR #42: Fix {{payload.secret}} $(rm -rf /) `id`[31m"
    assert summary.labels["hook"] == "gh"
    created = next(iter(daemon.events(sid))).data
    artifact = paths.artifacts / created["trigger"]["payload"]
    assert json.loads(artifact.read_bytes()) == payload  # the payload, whole

    replay = post(
        http, body, **{"X-Hub-Signature-256": sign(secret, body), "X-GitHub-Delivery": "d-1"}
    )
    assert replay.status_code == 409 and "seen before" in replay.json()["message"]
    wrong = post(
        http,
        body,
        **{"X-Hub-Signature-256": sign("not-the-secret", body), "X-GitHub-Delivery": "d-2"},
    )
    assert wrong.status_code == 401 and "does not match" in wrong.json()["message"]
    tampered = body.replace(b"42", b"43")
    forged = post(
        http, tampered, **{"X-Hub-Signature-256": sign(secret, body), "X-GitHub-Delivery": "d-3"}
    )
    assert forged.status_code == 401
    unsigned = post(http, body, **{"X-GitHub-Delivery": "d-4"})
    assert unsigned.status_code == 401
    big = json.dumps({"number": 1, "pull_request": {"title": "x" * 5000}}).encode()
    too_big = post(
        http, big, **{"X-Hub-Signature-256": sign(secret, big), "X-GitHub-Delivery": "d-5"}
    )
    assert too_big.status_code == 413
    not_json = b"[1, 2"
    bad = post(http, not_json, **{"X-Hub-Signature-256": sign(secret, not_json)})
    assert bad.status_code == 400
    lacking = json.dumps({"number": 7}).encode()
    missing = post(
        http, lacking, **{"X-Hub-Signature-256": sign(secret, lacking), "X-GitHub-Delivery": "d-6"}
    )
    assert missing.status_code == 422 and "payload.pull_request" in missing.json()["message"]
    # A bearer token works too; a replay without a delivery id is caught by the body's hash.
    plain = json.dumps({"number": 8, "pull_request": {"title": "t"}}).encode()
    first = post(http, plain, Authorization=f"Bearer {secret}")
    assert first.status_code == 202
    again = post(http, plain, Authorization=f"Bearer {secret}")
    assert again.status_code == 409
    assert post(http, plain, Authorization="Bearer guess").status_code == 401

    [view] = daemon.hooks()
    assert view.deliveries == 2 and view.secret is None
    sessions = [s for s in daemon.sessions() if s.labels.get("hook") == "gh"]
    assert len(sessions) == 2  # refusals started nothing
    log = daemon_process.output()
    assert log.count("refused a delivery") == 9
    assert "leak" not in log and secret not in log


def test_hooks_survive_a_restart_and_replays_stay_refused(
    spawn_daemon: SpawnDaemon, http: httpx.Client, recording: Callable[[list[Response]], str]
) -> None:
    first = spawn_daemon()
    client = first.wait_ready()
    secret = add_hook(client, recording([reply("ok")]), "task {{payload.n}}")
    body = b'{"n": 1}'
    headers = {"X-Hub-Signature-256": sign(secret, body), "X-GitHub-Delivery": "same"}
    assert post(http, body, **headers).status_code == 202
    client.close()
    assert first.terminate() == 0
    second = spawn_daemon()
    client = second.wait_ready()
    try:
        assert post(http, body, **headers).status_code == 409
        other = b'{"n": 2}'
        assert post(http, other, **{"X-Hub-Signature-256": sign(secret, other)}).status_code == 202
        client.remove_hook("gh")
        assert post(http, other, **{"X-Hub-Signature-256": sign(secret, other)}).status_code == 404
    finally:
        client.close()
        assert second.terminate() == 0


def test_on_tcp_a_delivery_needs_the_hook_secret_not_the_daemon_token(
    spawn_daemon: SpawnDaemon, recording: Callable[[list[Response]], str]
) -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    process = spawn_daemon("--tcp", str(port), env={"AGENTCTL_TOKEN": "daemon-token-123"})
    client = process.wait_ready()
    try:
        secret = add_hook(client, recording([reply("ok")]), "task {{payload.n}}")
        body = b'{"n": 3}'
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as tcp:
            signed = tcp.post(
                "/v1/hooks/gh", content=body, headers={"X-Hub-Signature-256": sign(secret, body)}
            )
            assert signed.status_code == 202, signed.text
            assert tcp.post("/v1/hooks/gh", content=b'{"n": 4}').status_code == 401
            assert tcp.get("/v1/hooks").status_code == 401  # everything else needs the daemon token
    finally:
        client.close()
        assert process.terminate() == 0
