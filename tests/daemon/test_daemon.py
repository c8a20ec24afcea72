"""The daemon as a process: sockets, single writer, the HTTP API, shutdown and recovery."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import stat
import subprocess
import time
from collections.abc import Callable

import httpx
import pytest

from agentctl import __version__
from agentctl.client import AsyncClient, Client
from agentctl.daemon import lifecycle
from agentctl.errors import ConflictError, DaemonError, NotFoundError, UsageError
from agentctl.paths import Paths
from agentctl.protocol import (
    CreateSession,
    Decide,
    Envelope,
    ForkSession,
    ResumeSession,
    default_approver,
)
from tests.support.daemon import DaemonProcess, Response, SpawnDaemon, reads, reply, wait_status

Recording = Callable[[list[Response]], str]


def session_req(model: str, task: str = "test task") -> CreateSession:
    return CreateSession(task=task, model=model, image="none")


def ask_then_done(step: int = 0) -> list[Response]:
    return [
        reply("read first", ("read_file", {"path": "a.txt"}), step=step),
        reply("now write", ("shell", {"command": "touch x"}), step=step + 1),
        reply("done"),
    ]


# --- process, sockets, single writer -----------------------------------------------------


def test_health_and_status(daemon: Client, daemon_process: DaemonProcess, paths: Paths) -> None:
    health = daemon.health()
    assert health.ok and health.version == __version__
    status = daemon.status()
    assert status.pid == daemon_process.pid
    assert status.version == __version__
    assert status.socket == str(paths.socket)
    assert status.database == str(paths.database)
    assert status.uptime_s >= 0
    assert status.sessions.get("running") == 0
    assert status.last_offset == 0
    assert status.tcp is None
    assert paths.pidfile.read_text().strip() == str(daemon_process.pid)


def test_socket_is_private(daemon: Client, paths: Paths) -> None:
    assert stat.S_ISSOCK(paths.socket.stat().st_mode)
    assert stat.S_IMODE(paths.socket.stat().st_mode) == 0o600
    assert stat.S_IMODE(paths.runtime.stat().st_mode) == 0o700


def test_second_daemon_refuses_and_names_the_first(
    daemon: Client, daemon_process: DaemonProcess, spawn_daemon: SpawnDaemon, paths: Paths
) -> None:
    second = spawn_daemon()
    assert second.process.wait(30) == 1
    message = second.output()
    assert f"pid {daemon_process.pid}" in message
    assert str(paths.socket) in message
    assert "already running" in message
    assert daemon.status().pid == daemon_process.pid  # the first one is untouched


def test_stale_socket_and_pidfile_are_replaced(spawn_daemon: SpawnDaemon, paths: Paths) -> None:
    # What a daemon killed with SIGKILL leaves behind: a socket file nobody listens on.
    leftover = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    leftover.bind(str(paths.socket))
    leftover.close()
    paths.pidfile.write_text("999999\n")
    assert paths.socket.exists()
    process = spawn_daemon()
    with process.wait_ready() as client:
        assert client.status().pid == process.pid
    # The pidfile is written once both listeners serve, a moment after the first answer.
    deadline = time.monotonic() + 10
    while paths.pidfile.read_text().strip() != str(process.pid):
        assert time.monotonic() < deadline, paths.pidfile.read_text()
        time.sleep(0.02)
    # And after a real SIGKILL, the next start recovers the same way.
    process.kill()
    assert paths.socket.exists()
    again = spawn_daemon()
    with again.wait_ready() as client:
        assert client.health().ok
    assert again.terminate() == 0
    assert not paths.socket.exists() and not paths.pidfile.exists()


def test_tcp_listener_needs_a_token(
    spawn_daemon: SpawnDaemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AGENTCTL_TOKEN", raising=False)
    port = _free_port()
    refused = spawn_daemon("--tcp", str(port))
    assert refused.process.wait(30) == 1
    assert "bearer token" in refused.output()

    process = spawn_daemon("--tcp", str(port), env={"AGENTCTL_TOKEN": "s3cret"})
    with process.wait_ready() as local:
        assert local.status().tcp == f"127.0.0.1:{port}"
    with Client(base_url=f"http://127.0.0.1:{port}", token="s3cret") as remote:
        assert remote.status().pid == process.pid
    answer = httpx.get(f"http://127.0.0.1:{port}/v1/health")
    assert answer.status_code == 401
    assert answer.json()["code"] == "unauthorized"
    wrong = httpx.get(
        f"http://127.0.0.1:{port}/v1/health", headers={"authorization": "Bearer nope"}
    )
    assert wrong.status_code == 401
    assert process.terminate() == 0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- the API ------------------------------------------------------------------------


def test_curl_creates_streams_and_decides(
    daemon: Client, paths: Paths, recording: Recording
) -> None:
    sock = str(paths.socket)
    base = "http://agentctl/v1"

    def curl(*args: str) -> str:
        done = subprocess.run(
            ["curl", "-sS", "--fail-with-body", "--unix-socket", sock, *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return done.stdout

    body = json.dumps({"task": "curl task", "model": recording(ask_then_done()), "image": "none"})
    created = json.loads(
        curl("-X", "POST", f"{base}/sessions", "-H", "content-type: application/json", "-d", body)
    )
    session_id = created["id"]
    assert created["status"] == "running"

    follower = subprocess.Popen(
        ["curl", "-sS", "-N", "--unix-socket", sock,
         f"{base}/sessions/{session_id}/events?after=0&follow=1&until_end=1"],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    wait_status(daemon, session_id, "waiting")
    [approval] = json.loads(curl(f"{base}/approvals?session={session_id}"))
    decided = json.loads(
        curl("-X", "POST", f"{base}/approvals/{approval['id']}",
             "-d", json.dumps({"decision": "approve", "approver": "curl"}))
    )  # fmt: skip
    assert decided["type"] == "approval.decided"
    assert decided["data"]["claimed"] == "curl"  # what curl said; the socket says who it was
    assert decided["data"]["approver"] == decided["data"]["verified_user"] == default_approver()
    out, _ = follower.communicate(timeout=60)
    lines = [json.loads(line) for line in out.splitlines()]
    assert [e["seq"] for e in lines] == list(range(1, len(lines) + 1))
    assert lines[-1]["type"] == "session.status"
    assert lines[-1]["data"]["status"] == "completed"
    assert {"v", "session", "seq", "offset", "ts", "type", "data"} <= set(lines[0])


def test_bad_bodies_are_422_with_a_json_error(daemon: Client, paths: Paths) -> None:
    transport = httpx.HTTPTransport(uds=str(paths.socket))
    with httpx.Client(transport=transport, base_url="http://agentctl") as http:
        malformed = http.post("/v1/sessions", content=b'{"task": ')
        assert malformed.status_code == 422
        assert malformed.json()["code"] == "invalid_request"
        assert "not valid JSON" in malformed.json()["message"]

        unknown = http.post("/v1/sessions", json={"task": "x", "modle": "typo"})
        assert unknown.status_code == 422
        body = unknown.json()
        assert "modle" in body["message"]
        assert body["detail"][0]["type"] == "extra_forbidden"

        invalid = http.post("/v1/sessions", json={"task": ""})
        assert invalid.status_code == 422
        assert invalid.json()["detail"][0]["loc"] == ["task"]

        assert http.get("/v1/events", params={"after": "x"}).status_code == 422
        assert http.get("/v1/sessions", params={"status": "bogus"}).status_code == 422
        assert http.get("/v1/nowhere").status_code == 404
    with pytest.raises(UsageError, match="at least 1 character"):
        daemon.create_session(CreateSession.model_construct(task="", model="replay:x"))


def test_unknown_session_and_approval_are_404(daemon: Client) -> None:
    with pytest.raises(NotFoundError, match="no session"):
        daemon.session("ses_nope")
    with pytest.raises(NotFoundError):
        list(daemon.events("ses_nope"))
    with pytest.raises(NotFoundError):
        daemon.approvals(session="ses_nope")
    with pytest.raises(NotFoundError):
        daemon.decide("apr_nope", Decide(decision="approve", approver="me"))
    with pytest.raises(NotFoundError):
        daemon.cancel("ses_nope")


def test_cursor_beyond_the_end_is_422(daemon: Client, recording: Recording) -> None:
    created = daemon.create_session(session_req(recording([reply("done")])))
    wait_status(daemon, created.id, "completed")
    last = daemon.session(created.id).last_seq
    assert [e.seq for e in daemon.events(created.id, after=last)] == []
    with pytest.raises(UsageError, match=f"last seq {last}"):
        list(daemon.events(created.id, after=last + 1))
    offset = daemon.status().last_offset
    with pytest.raises(UsageError, match=f"last offset {offset}"):
        list(daemon.all_events(after=offset + 5))


def test_decide_twice_is_a_conflict_naming_the_first(daemon: Client, recording: Recording) -> None:
    created = daemon.create_session(session_req(recording(ask_then_done())))
    wait_status(daemon, created.id, "waiting")
    [approval] = daemon.approvals(session=created.id)
    envelope = daemon.decide(approval.id, Decide(decision="deny", approver="alice", reason="no"))
    assert envelope.type == "approval.decided" and envelope.session == created.id
    with pytest.raises(ConflictError, match="alice"):
        daemon.decide(approval.id, Decide(decision="approve", approver="bob"))


def test_session_routes(daemon: Client, recording: Recording) -> None:
    created = daemon.create_session(session_req(recording(ask_then_done()), task="routes"))
    assert created.task == "routes"
    wait_status(daemon, created.id, "waiting")
    assert [s.id for s in daemon.sessions(status="waiting")] == [created.id]
    assert daemon.sessions(status="completed") == []
    assert daemon.status().sessions["waiting"] == 1

    fork = daemon.fork(created.id, ForkSession(at=2))
    assert fork.id != created.id
    assert fork.parent is not None and fork.parent.session == created.id

    daemon.cancel(created.id, "enough")
    assert wait_status(daemon, created.id, "cancelled") == "cancelled"
    assert daemon.session(created.id).reason == "enough"
    with pytest.raises(ConflictError, match="cancelled"):
        daemon.resume(created.id, ResumeSession())

    chat = daemon.create_session(session_req(recording([reply("first"), reply("second")])))
    wait_status(daemon, chat.id, "completed")
    daemon.post_message(chat.id, "one more thing")
    wait_status(daemon, chat.id, "completed", "failed")
    events = list(daemon.events(chat.id))
    assert any(e.type == "message.user" and e.data["text"] == "one more thing" for e in events)
    assert any(e.type == "model.responded" and e.data["text"] == "second" for e in events)


def test_all_events_follow_sees_every_session(daemon: Client, recording: Recording) -> None:
    model = recording([reply("done")])
    ids = [daemon.create_session(session_req(model)).id for _ in range(3)]
    for session_id in ids:
        wait_status(daemon, session_id, "completed")
    seen = list(daemon.all_events(after=0))
    assert [e.offset for e in seen] == list(range(1, len(seen) + 1))
    assert {e.session for e in seen} == set(ids)
    # Follow from the middle: the rest of the backlog, then a live session.
    middle = seen[len(seen) // 2].offset
    stream = daemon.all_events(after=middle, follow=True)
    live = daemon.create_session(session_req(model)).id
    got = []
    for event in stream:
        got.append(event)
        if event.session == live and event.data.get("status") == "completed":
            break
    assert [e.offset for e in got] == list(range(middle + 1, middle + 1 + len(got)))


async def test_async_client(daemon: Client, paths: Paths, recording: Recording) -> None:
    async with AsyncClient(paths.socket) as client:
        assert (await client.health()).ok
        created = await client.create_session(session_req(recording([reply("done")])))
        seen = [e.seq async for e in client.events(created.id, follow=True, until_end=True)]
        assert seen == list(range(1, len(seen) + 1))
        assert (await client.session(created.id)).status == "completed"
        with pytest.raises(NotFoundError):
            await client.session("ses_nope")


# --- lifecycle ------------------------------------------------------------------------


def test_lifecycle_start_status_stop(paths: Paths) -> None:
    assert lifecycle.status(paths) is None
    with pytest.raises(DaemonError, match="no agentctl daemon answers"):
        lifecycle.connect(paths, autostart=False)
    with lifecycle.connect(paths) as client:  # starts one in the background
        pid = client.status().pid
    status = lifecycle.status(paths)
    assert status is not None and status.pid == pid
    assert lifecycle.start_background(paths) == pid  # the new one lost the lock: same daemon
    assert lifecycle.stop(paths) == pid
    assert lifecycle.status(paths) is None
    assert not paths.socket.exists() and not paths.pidfile.exists()
    assert lifecycle.stop(paths) is None
    assert "stopped" in paths.daemon_log.read_text()


def test_a_plain_client_starts_no_daemon_and_connect_async_does(paths: Paths) -> None:
    # The client never starts a process: a create with no daemon fails, and none runs after.
    with Client(paths.socket) as client, pytest.raises(DaemonError, match="no agentctl daemon"):
        client.create_session(CreateSession(task="t", model="replay:/nope", image="none"))
    assert lifecycle.status(paths) is None

    async def connect() -> int:
        with pytest.raises(DaemonError):
            await lifecycle.connect_async(paths, autostart=False)
        client = await lifecycle.connect_async(paths)  # starts one, as the TUI's D does
        try:
            return (await client.status()).pid
        finally:
            await client.aclose()

    try:
        pid = asyncio.run(connect())
        status = lifecycle.status(paths)
        assert status is not None and status.pid == pid
    finally:
        lifecycle.stop(paths)


def test_start_background_points_at_the_log(paths: Paths, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AGENTCTL_TOKEN", raising=False)
    with pytest.raises(DaemonError, match="bearer token") as caught:
        lifecycle.start_background(paths, tcp_port=_free_port())
    assert str(paths.daemon_log) in str(caught.value)


# --- shutdown and recovery ------------------------------------------------------------


def test_sigterm_stops_gracefully_and_state_survives(
    spawn_daemon: SpawnDaemon, paths: Paths, recording: Recording
) -> None:
    process = spawn_daemon()
    client = process.wait_ready()
    created = client.create_session(session_req(recording(ask_then_done())))
    wait_status(client, created.id, "waiting")
    stream = client.events(created.id, follow=True)
    first = next(stream)
    assert first.seq == 1
    started = time.monotonic()
    os.kill(process.pid, signal.SIGTERM)
    rest = list(stream)  # the live stream ends cleanly when the daemon stops
    assert process.process.wait(30) == 0
    assert time.monotonic() - started < 10
    assert [e.seq for e in rest] == list(range(2, len(rest) + 2))
    assert not paths.socket.exists() and not paths.pidfile.exists()
    assert "stopped" in process.output()
    client.close()

    again = spawn_daemon()
    with again.wait_ready() as client:
        assert client.session(created.id).status == "waiting"
        [approval] = client.approvals(session=created.id)
        client.decide(approval.id, Decide(decision="approve", approver="me"))
        wait_status(client, created.id, "completed")
    assert again.terminate() == 0


def test_crash_mid_session_then_start_completes_without_repeating(
    spawn_daemon: SpawnDaemon, recording: Recording
) -> None:
    model = recording([*reads(6), reply("done")])
    crashing = spawn_daemon(env={"AGENTCTL_CRASH_AT": "after:tool.finished:3"})
    with crashing.wait_ready() as client:
        created = client.create_session(session_req(model))
        assert crashing.process.wait(30) == 86  # died like kill -9: no cleanup at all
    restarted = spawn_daemon()
    with restarted.wait_ready() as client:
        wait_status(client, created.id, "completed")
        events = list(client.events(created.id))
    _assert_no_completed_call_started_again(events)
    assert restarted.terminate() == 0


def test_sigkill_while_waiting_then_start_and_approve(
    spawn_daemon: SpawnDaemon, recording: Recording
) -> None:
    process = spawn_daemon()
    with process.wait_ready() as client:
        created = client.create_session(session_req(recording(ask_then_done())))
        wait_status(client, created.id, "waiting")
    process.kill()
    restarted = spawn_daemon()
    with restarted.wait_ready() as client:
        [approval] = client.approvals(session=created.id)
        client.decide(approval.id, Decide(decision="approve", approver="me"))
        wait_status(client, created.id, "completed")
        events = list(client.events(created.id))
    _assert_no_completed_call_started_again(events)
    assert restarted.terminate() == 0


def _assert_no_completed_call_started_again(events: list[Envelope]) -> None:
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    finished: set[str | None] = set()
    for event in events:
        call = event.data.get("call_id")
        if event.type == "tool.started":
            assert call not in finished, f"completed call {call} started again at seq {event.seq}"
        elif event.type == "tool.finished":
            assert call not in finished, f"call {call} finished twice"
            finished.add(call)
    assert events[-1].type == "session.status" and events[-1].data["status"] == "completed"


def test_a_retried_create_or_fork_with_the_same_request_id_makes_nothing_new(
    spawn_daemon: SpawnDaemon, recording: Recording
) -> None:
    daemon_process = spawn_daemon()
    daemon = daemon_process.wait_ready()
    req = session_req(recording([reply("done")])).model_copy(update={"request_id": "req_one"})
    first = daemon.create_session(req)
    assert daemon.create_session(req).id == first.id
    wait_status(daemon, first.id, "completed")
    fork = ForkSession(at=daemon.session(first.id).last_seq, message="again", request_id="req_two")
    forked = daemon.fork(first.id, fork)
    assert daemon.fork(first.id, fork).id == forked.id
    # across a restart of the daemon too: the id is in the log
    daemon.close()
    daemon_process.kill()
    again = spawn_daemon().wait_ready()
    assert again.create_session(req).id == first.id
    assert again.fork(first.id, fork).id == forked.id
    assert sorted(s.id for s in again.sessions()) == sorted([first.id, forked.id])
    again.close()


def test_the_list_pages_and_reads_the_same_after_a_restart(
    spawn_daemon: SpawnDaemon, recording: Recording
) -> None:
    """Ended sessions come back from their snapshots, not a fold: the answers are the same."""
    daemon_process = spawn_daemon()
    daemon = daemon_process.wait_ready()
    made = [
        daemon.create_session(session_req(recording([reply("done")]), f"t{i}")) for i in range(3)
    ]
    for session in made:
        wait_status(daemon, session.id, "completed")
    everything = daemon.sessions()
    assert [s.id for s in everything] == [s.id for s in made]
    assert daemon.sessions(limit=2) == everything[-2:]
    shown = daemon.session(made[0].id)
    counts = daemon.status().sessions
    with pytest.raises(UsageError, match="limit"):
        daemon.sessions(limit=-1)
    daemon.close()
    daemon_process.terminate()
    again = spawn_daemon().wait_ready()
    assert again.sessions() == everything
    assert again.sessions(limit=1) == everything[-1:]
    assert again.sessions(status="completed", limit=5) == everything
    assert again.session(made[0].id) == shown
    assert again.status().sessions == counts
    assert [e.seq for e in again.events(made[0].id)] == list(range(1, shown.last_seq + 1))
    again.close()
