"""`agentctl run` in a terminal shows a streamed response as it forms, and only then the event.

The command runs under a pseudo-terminal, as for a person; a loopback server
streams the reply and holds it at a gate, so the test reads the screen while
the response is half sent.
"""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from agentctl.client import Client
from agentctl.paths import Paths
from tests.providers.fake_server import FakeModelServer, Reply, openai_chunks
from tests.support.cli import env


@pytest.fixture
def server() -> Iterator[FakeModelServer]:
    fake = FakeModelServer()
    fake.start()
    yield fake
    fake.stop()


class Terminal:
    def __init__(self, *args: str, environ: dict[str, str]) -> None:
        master, slave = pty.openpty()
        self.master = master
        self.process = subprocess.Popen(
            [sys.executable, "-m", "agentctl", *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=environ,
        )
        os.close(slave)
        self.screen = b""

    def read_until(self, wanted: bytes, timeout: float = 30.0) -> bytes:
        deadline = time.monotonic() + timeout
        while wanted not in self.screen:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{wanted!r} never shown; screen: {self.screen[-800:]!r}")
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:
                    chunk = b""
                if not chunk:
                    raise AssertionError(f"{wanted!r} never shown; screen: {self.screen!r}")
                self.screen += chunk
        return self.screen

    def close(self) -> int:
        code = self.process.wait(30)
        os.close(self.master)
        return code


def test_run_shows_streamed_text_before_the_response_ends_then_the_event(
    paths: Paths, server: FakeModelServer, daemon: Client
) -> None:
    paths.config_file.write_text(f'[providers.fake]\nbase_url = "{server.url}/v1"\n')
    # The model's text carries an escape sequence: it must not reach the terminal raw.
    server.script(Reply.sse(openai_chunks(["Hello", " \x1b[31mworld"]), gate_after=3))
    term = Terminal(
        "run", "greet", "--model", "fake:m", "--image", "none", environ=env(COLUMNS="100")
    )
    try:
        screen = term.read_until(b"Hello")
        assert server.at_gate.wait(10) and not server.gate.is_set()  # still held
        assert "⋯".encode() in screen  # the live line
        server.open_gate()
        screen = term.read_until(b"completed")
    finally:
        code = term.close()
    assert code == 0
    assert b"\x1b[J" in screen  # the live line was erased, then replaced by the event
    after_live = screen[screen.rindex(b"\x1b[J") :]
    assert b"assistant" in after_live and b"Hello" in after_live
    live_region = screen[screen.index("⋯".encode()) : screen.rindex(b"\x1b[J")]
    assert b"\x1b[31m" not in live_region  # the model's escape sequence was neutralised
    assert "\ufffd[31mworld".encode() in live_region
