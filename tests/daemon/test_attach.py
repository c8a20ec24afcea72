"""Attach, disconnect, re-attach with the cursor: exactly what was missed (docs/design.md §7)."""

from __future__ import annotations

import random
import socket
import threading
import time
from collections.abc import Callable

import pytest

from agentctl.client import Client
from agentctl.errors import AgentctlError
from agentctl.paths import Paths
from agentctl.protocol import CreateSession, Envelope
from tests.support.daemon import Response, SpawnDaemon, assert_exact_log, reads, reply, wait_status

Recording = Callable[[list[Response]], str]


def long_session(client: Client, recording: Recording, steps: int) -> str:
    model = recording([*reads(steps), reply("done")])
    return client.create_session(CreateSession(task="long", model=model, image="none")).id


def _ended(event: Envelope) -> bool:
    return event.type == "session.status" and event.data["status"] == "completed"


def test_reconnect_with_the_cursor_sees_exactly_what_it_missed(
    daemon: Client, recording: Recording
) -> None:
    session_id = long_session(daemon, recording, steps=1000)
    received: list[Envelope] = []
    stream = daemon.events(session_id, follow=True)
    for event in stream:
        received.append(event)
        if len(received) == 40:
            break
    stream.close()  # disconnect mid-stream, while the session runs
    assert daemon.session(session_id).status == "running", "the session ended too soon to test"
    cursor = received[-1].seq
    received.extend(daemon.events(session_id, after=cursor, follow=True, until_end=True))
    assert _ended(received[-1])
    assert_exact_log(received, list(daemon.events(session_id)))


def test_reconnect_a_hundred_times_at_random_moments(daemon: Client, recording: Recording) -> None:
    rng = random.Random(5)
    cuts_while_running = 0
    for _ in range(2):  # one at a time, so each runs while its stream is cut
        session_id = long_session(daemon, recording, steps=1500)
        received: list[Envelope] = []
        for _ in range(50):
            cursor = received[-1].seq if received else 0
            stream = daemon.events(session_id, after=cursor, follow=True, until_end=True)
            take = rng.randint(0, 12)
            # Sometimes cut by count, sometimes by time (a disconnect mid-batch).
            deadline = time.monotonic() + rng.uniform(0, 0.02)
            for event in stream:
                received.append(event)
                take -= 1
                if take <= 0 or time.monotonic() > deadline:
                    break
            stream.close()
            cuts_while_running += daemon.session(session_id).status == "running"
        cursor = received[-1].seq if received else 0
        received.extend(daemon.events(session_id, after=cursor, follow=True, until_end=True))
        assert _ended(received[-1])
        assert_exact_log(received, list(daemon.events(session_id)))
    assert cuts_while_running >= 10, "too few disconnects happened while a session ran"


def test_kill_9_mid_session_then_start_completes(
    spawn_daemon: SpawnDaemon, recording: Recording
) -> None:
    process = spawn_daemon()
    with process.wait_ready() as client:
        session_id = long_session(client, recording, steps=200)
        for event in client.events(session_id, follow=True):
            if event.seq >= 300:
                break
        process.kill()  # SIGKILL, while the session runs
        assert process.process.returncode == -9
    restarted = spawn_daemon()
    with restarted.wait_ready() as client:
        wait_status(client, session_id, "completed")
        events = list(client.events(session_id))
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    finished: set[str] = set()
    for event in events:
        call = str(event.data.get("call_id"))
        if event.type == "tool.started":
            assert call not in finished, f"completed call {call} started again (seq {event.seq})"
        elif event.type == "tool.finished":
            finished.add(call)
    assert len(finished) == 200
    assert _ended(events[-1])
    assert restarted.terminate() == 0


def test_a_client_that_stops_reading_blocks_nobody(
    spawn_daemon: SpawnDaemon, paths: Paths, recording: Recording
) -> None:
    process = spawn_daemon("--stream-buffer", "32", "--log-level", "debug")
    client = process.wait_ready()
    # A follower of every session that sends its request and then never reads.
    stalled = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.connect(str(paths.socket))
    stalled.sendall(b"GET /v1/events?after=0&follow=1 HTTP/1.1\r\nhost: agentctl\r\n\r\n")

    # Meanwhile sessions run to completion and another follower sees all of them live.
    ids = [long_session(client, recording, steps=220) for _ in range(3)]
    follower_done = threading.Event()
    followed: list[Envelope] = []

    def follow() -> None:
        with Client(paths.socket) as other:
            for event in other.events(ids[-1], follow=True, until_end=True):
                followed.append(event)
        follower_done.set()

    thread = threading.Thread(target=follow)
    thread.start()
    for session_id in ids:
        wait_status(client, session_id, "completed", timeout=120)
    assert follower_done.wait(60)
    thread.join()
    assert_exact_log(followed, list(client.events(ids[-1])))
    total = client.status().last_offset
    assert total > 3000  # far more than the stalled client's buffer and socket hold

    # The stalled client finally reads: everything, in order, nothing twice.
    stalled.settimeout(30)
    data = b""
    offsets: list[int] = []
    while not offsets or offsets[-1] < total:
        chunk = stalled.recv(1 << 16)
        assert chunk, "the daemon closed the stalled stream"
        data += chunk
        offsets = _offsets(data)
    stalled.close()
    assert offsets == list(range(1, total + 1))
    assert "live buffer overflowed" in process.output()  # it did fall back to the store
    client.close()
    assert process.terminate() == 0


def _offsets(raw: bytes) -> list[int]:
    """The offsets in a chunked HTTP/1.1 NDJSON response received so far."""
    _, _, body = raw.partition(b"\r\n\r\n")
    payload = b""
    while body:
        size_line, sep, rest = body.partition(b"\r\n")
        if not sep:
            break
        size = int(size_line, 16)
        if len(rest) < size + 2:
            break
        payload += rest[:size]
        body = rest[size + 2 :]
    lines = payload.split(b"\n")
    return [Envelope.model_validate_json(line).offset for line in lines[:-1] if line]


def test_pages_of_the_log_with_after_and_limit(daemon: Client, recording: Recording) -> None:
    session_id = long_session(daemon, recording, steps=40)
    wait_status(daemon, session_id, "completed")
    whole = list(daemon.events(session_id))
    last = whole[-1].seq
    # Any page: `limit` events after `after`; the pages together are the exact log.
    pages = [list(daemon.events(session_id, after=a, limit=25)) for a in range(0, last, 25)]
    assert [e for page in pages for e in page] == whole
    assert all(len(page) == 25 for page in pages[:-1])
    assert [e.seq for e in daemon.events(session_id, after=last - 3, limit=100)] == [
        last - 2,
        last - 1,
        last,
    ]
    assert list(daemon.events(session_id, after=last, limit=5)) == []
    # Without a limit nothing changed: the whole log after the cursor.
    assert list(daemon.events(session_id, after=10)) == whole[10:]


def test_limit_is_refused_on_a_follow_and_below_one(daemon: Client, recording: Recording) -> None:
    session_id = long_session(daemon, recording, steps=2)
    wait_status(daemon, session_id, "completed")
    with pytest.raises(AgentctlError, match="limit applies to a read"):
        list(daemon.events(session_id, follow=True, limit=5))
    with pytest.raises(AgentctlError, match="limit"):
        list(daemon.events(session_id, limit=0))
