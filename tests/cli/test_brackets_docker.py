"""Tool output with `[` reads as written in `agentctl log`/`attach` (no stray backslash).

`render._indent` once escaped markup into a plain `Text`, which shows the escape
(`list\\[float]`). A real shell call in a real sandbox prints the brackets.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from rich.console import Console

from agentctl.client import Client
from agentctl.protocol import CreateSession, Envelope
from agentctl.render import render_event
from tests.support.cli import Run
from tests.support.daemon import Response, reply, wait_status

LINE = "def mean(values: list[float]) -> dict[str, [int]]: ...  [bold]not markup[/bold]"


def plain(renderable: object) -> str:
    console = Console(width=200, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_render_event_shows_brackets_as_they_are() -> None:
    event = Envelope(
        session="ses_x",
        seq=7,
        offset=7,
        ts=datetime(2026, 1, 1, tzinfo=UTC),
        type="tool.finished",
        data={"call_id": "c1", "exit_code": 0, "output": LINE + "\n", "duration_ms": 1},
    )
    for fold in (True, False):
        text = plain(render_event(event, fold=fold))
        assert LINE in text, text
        assert "\\[" not in text


@pytest.fixture
def cleanup(docker_client: object, daemon: Client) -> Iterator[None]:
    yield
    from sandboxes import DockerSandboxDriver

    driver = DockerSandboxDriver()
    for session in daemon.sessions():
        driver.remove_stream(session.id)
        for checkpoint in driver.list_checkpoints(session.id):
            driver.client.images.remove(checkpoint.image, force=True)


@pytest.mark.docker
def test_log_and_attach_show_brackets_from_a_real_tool(
    daemon: Client,
    cli: Run,
    recording: Callable[[list[Response]], str],
    cleanup: None,
) -> None:
    model = recording([reply("show it", ("shell", {"command": f"echo '{LINE}'"})), reply("done")])
    req = CreateSession(task="print a signature", model=model, policy="permissive")
    sid = daemon.create_session(req).id
    wait_status(daemon, sid, "completed", timeout=120)
    for args in (("log", sid), ("log", sid, "--full"), ("attach", sid)):
        result = cli(*args, NO_COLOR="1")
        assert result.returncode == 0, result.stderr
        assert LINE in result.stdout, (args, result.stdout)
        assert "\\[" not in result.stdout
