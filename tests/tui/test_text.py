"""The TUI shows tool output as written: brackets without a stray backslash, from a real tool."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from html import unescape

import pytest

from agentctl.protocol import CreateSession
from tests.support.daemon import Response, reply, wait_status
from tests.support.tui import TuiDaemon, until

LINE = "def mean(values: list[float]) -> dict[str, [int]]: ...  [bold]not markup[/bold]"


@pytest.fixture
def cleanup(docker_client: object, tui_daemon: TuiDaemon) -> Iterator[None]:
    yield
    from sandboxes import DockerSandboxDriver

    driver = DockerSandboxDriver()
    for session in tui_daemon.api.sessions():
        driver.remove_stream(session.id)
        for checkpoint in driver.list_checkpoints(session.id):
            driver.client.images.remove(checkpoint.image, force=True)


@pytest.mark.docker
async def test_the_timeline_shows_brackets_as_the_tool_printed_them(
    tui_daemon: TuiDaemon, recording: Callable[[list[Response]], str], cleanup: None
) -> None:
    model = recording([reply("show it", ("shell", {"command": f"echo '{LINE}'"})), reply("done")])
    req = CreateSession(task="print a signature", model=model, policy="permissive")
    sid = tui_daemon.api.create_session(req).id
    wait_status(tui_daemon.api, sid, "completed", timeout=120)
    app = tui_daemon.app(session=sid)
    async with app.run_test(size=(200, 50)) as pilot:
        last = tui_daemon.api.session(sid).last_seq
        await until(pilot, lambda: app.timeline.received_seqs[-1:] == [last], what="the log")
        await pilot.pause()
        screen = unescape(app.export_screenshot()).replace("\xa0", " ")
    assert LINE in screen
    assert "\\[" not in screen
