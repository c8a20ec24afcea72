"""The TUI's timeline shows a streamed response as it forms, then the stored event in its place."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agentctl.protocol import CreateSession
from tests.providers.fake_server import FakeModelServer, Reply, openai_chunks
from tests.support.tui import TuiDaemon, until


@pytest.fixture
def server() -> Iterator[FakeModelServer]:
    fake = FakeModelServer()
    fake.start()
    yield fake
    fake.stop()


async def test_the_timeline_shows_the_response_as_it_streams(
    tui_daemon: TuiDaemon, server: FakeModelServer
) -> None:
    tui_daemon.paths.config_file.write_text(f'[providers.fake]\nbase_url = "{server.url}/v1"\n')
    server.script(Reply.sse(openai_chunks(["Stream", "ing now"]), gate_after=3))
    req = CreateSession(task="talk", model="fake:m", image="none")
    app = tui_daemon.app()
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: app.client is not None, what="the app's client")
        assert app.client is not None
        session_id = (await app.client.create_session(req)).id
        await until(pilot, lambda: app.sessions.select(session_id), what="the session")
        await until(
            pilot,
            lambda: app.timeline.live_text == "Streaming now",
            what=f"live text ({app.timeline.live_text!r}, {app.timeline.received_seqs})",
        )
        assert not server.gate.is_set()  # the server still holds the end of the reply
        assert any("Streaming now" in strip.text for strip in app.timeline.frame())
        server.open_gate()
        await until(
            pilot,
            lambda: "model.responded" in [e.type for e in app.timeline.events_of(session_id)],
            what="the stored response",
        )
        assert app.timeline.live_text == ""
        assert not any("⋯" in strip.text for strip in app.timeline.frame())
        assert app.timeline.shown_seqs == sorted(app.timeline.shown_seqs)
