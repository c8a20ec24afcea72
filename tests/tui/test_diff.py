"""The diff key against a real daemon and a real container: `v` shows the session's changes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from textual.widgets import Static

from agentctl.protocol import CreateSession
from tests.support.daemon import Response, reply, wait_status
from tests.support.tui import TuiDaemon, until
from tui.screens.diff import DiffScreen

pytestmark = pytest.mark.docker

Recording = Callable[[list[Response]], str]


async def test_v_shows_the_selected_session_s_workspace_diff(
    tui_daemon: TuiDaemon, recording: Recording, sessions_cleanup: list[str], tmp_path: Path
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "notes.txt").write_text("before\n")
    model = recording(
        [reply("edit", ("shell", {"command": "echo after > notes.txt"})), reply("done")]
    )
    req = CreateSession(task="edit", model=model, policy="permissive", workspace=str(project))
    sid = tui_daemon.api.create_session(req).id
    sessions_cleanup.append(sid)
    assert wait_status(tui_daemon.api, sid, "completed", "failed", timeout=120) == "completed"
    app = tui_daemon.app(session=sid)
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: app.sessions.selected == sid, what="the session selected")
        await pilot.press("v")
        await until(
            pilot,
            lambda: isinstance(app.screen, DiffScreen) and app.screen.query("#diff-patch"),
            what="the diff screen",
        )
        patch = str(app.screen.query_one("#diff-patch", Static).render())
        assert "-before" in patch and "+after" in patch and "notes.txt" in patch
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, DiffScreen), what="closed")
