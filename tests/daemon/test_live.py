"""Live model deltas through a real daemon: seen while the model is still answering, never stored.

A scriptable loopback server streams the reply and holds it at a gate, so
the test looks at the clients while the response is half sent.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from agentctl.client import Client
from agentctl.paths import Paths
from agentctl.protocol import LIVE_DELTA, CreateSession, Envelope
from tests.providers.fake_server import FakeModelServer, Reply, openai_chunks
from tests.support.daemon import SpawnDaemon, wait_status


@pytest.fixture
def server() -> Iterator[FakeModelServer]:
    fake = FakeModelServer()
    fake.start()
    yield fake
    fake.stop()


def endpoint(paths: Paths, server: FakeModelServer) -> None:
    paths.config_file.write_text(
        f'[providers.fake]\nbase_url = "{server.url}/v1"\ntimeout_s = 30\n'
    )


def test_deltas_reach_attached_clients_before_the_response_and_only_it_is_stored(
    paths: Paths, server: FakeModelServer, daemon: Client
) -> None:
    endpoint(paths, server)
    server.script(Reply.sse(openai_chunks(["Hel", "lo ", "world"]), gate_after=3))
    summary = daemon.create_session(
        CreateSession(task="greet", model="fake:m", image="none", policy="permissive")
    )
    seen: list[Envelope] = []
    held_when_first_delta = threading.Event()

    for event in daemon.events(summary.id, follow=True, live=True):
        seen.append(event)
        if event.type == LIVE_DELTA and not server.gate.is_set():
            # The server stops at its gate and holds the rest: what we have is live.
            assert server.at_gate.wait(10)
            held_when_first_delta.set()
            # A client attaching now gets the response so far at once.
            with Client(paths.socket) as late:
                first = next(iter(late.events(summary.id, after=event.seq, follow=True, live=True)))
            assert first.type == LIVE_DELTA and first.data["snapshot"] is True
            assert first.data["text"] and "Hello ".startswith(first.data["text"])
            server.open_gate()
        if event.type == "session.status" and event.data["status"] == "completed":
            break

    assert held_when_first_delta.is_set()  # text was shown while the server still held the rest
    types = [e.type for e in seen]
    assert types.index(LIVE_DELTA) < types.index("model.responded")
    streamed = "".join(e.data["text"] for e in seen if e.type == LIVE_DELTA)
    responded = next(e for e in seen if e.type == "model.responded")
    assert streamed == responded.data["text"] == "Hello world"
    assert responded.data["first_token_ms"] is not None

    stored = list(daemon.events(summary.id))
    assert LIVE_DELTA not in [e.type for e in stored]
    assert [e.type for e in stored].count("model.responded") == 1
    assert [e.seq for e in stored] == list(range(1, len(stored) + 1))
    # No usage in the stream and no price for the model: the cost is unknown, not $0.
    assert daemon.session(summary.id).cost_known is False


def test_a_client_that_asks_for_no_live_events_gets_none(
    paths: Paths, server: FakeModelServer, daemon: Client
) -> None:
    endpoint(paths, server)
    server.script(Reply.sse(openai_chunks(["quiet"])))
    summary = daemon.create_session(CreateSession(task="t", model="fake:m", image="none"))
    wait_status(daemon, summary.id, "completed")
    events = list(daemon.events(summary.id, follow=True, until_end=True))
    assert LIVE_DELTA not in [e.type for e in events]


def test_cancel_closes_the_model_request_in_flight(
    paths: Paths, server: FakeModelServer, daemon: Client
) -> None:
    endpoint(paths, server)
    server.script(Reply.sse(openai_chunks(["never", " ends"]), gate_after=2))
    summary = daemon.create_session(CreateSession(task="t", model="fake:m", image="none"))
    assert server.at_gate.wait(30)
    daemon.cancel(summary.id)
    assert server.disconnected.wait(30)  # the daemon dropped the HTTP request
    assert daemon.session(summary.id).status.value == "cancelled"


def test_shutdown_closes_the_model_request_in_flight_and_start_asks_again(
    paths: Paths, server: FakeModelServer, spawn_daemon: SpawnDaemon
) -> None:
    endpoint(paths, server)
    server.script(
        Reply.sse(openai_chunks(["never", " ends"]), gate_after=2),
        Reply.sse(openai_chunks(["second time"])),
    )
    first = spawn_daemon()
    client = first.wait_ready()
    summary = client.create_session(CreateSession(task="t", model="fake:m", image="none"))
    assert server.at_gate.wait(30)
    client.close()
    assert first.terminate() == 0  # quickly: the model call is cancelled, not waited for
    assert server.disconnected.wait(10)
    again = spawn_daemon().wait_ready()
    wait_status(again, summary.id, "completed")
    texts = [e.data["text"] for e in again.events(summary.id) if e.type == "model.responded"]
    assert texts == ["second time"]
    again.close()


def test_a_stored_key_never_reaches_the_log_or_the_live_stream(
    paths: Paths, server: FakeModelServer, daemon: Client
) -> None:
    from agentctl.keys import KeyStore

    secret = "sk-local-SECRET-0123456789"
    KeyStore(paths.config).set("local", secret)  # after the daemon started: read at request time
    paths.config_file.write_text(
        f'[providers.fake]\nbase_url = "{server.url}/v1"\napi_key_name = "local"\n'
    )
    server.script(Reply.sse(openai_chunks([f"the key is {secret}"])))
    summary = daemon.create_session(CreateSession(task="leak", model="fake:m", image="none"))
    seen = []
    for event in daemon.events(summary.id, follow=True, live=True):
        seen.append(event)
        if event.type == "session.status" and event.data["status"] == "completed":
            break
    assert server.requests[0].headers["authorization"] == f"Bearer {secret}"
    stored = list(daemon.events(summary.id))
    assert secret not in "".join(e.model_dump_json() for e in stored + seen)
    responded = next(e for e in stored if e.type == "model.responded")
    assert "[REDACTED:key:local]" in responded.data["text"]
