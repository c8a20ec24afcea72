"""The TUI against a real daemon: decide, edit-and-approve, fork, cancel, all from keys."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from textual.widgets import Input, Label, TextArea

from agentctl.protocol import CreateSession, SessionStatus
from tests.support.daemon import Response, reply
from tests.support.tui import APPROVER, TuiDaemon, events_of, until
from tui.screens.dialogs import ConfirmDialog, DenyDialog, EditArgsDialog, ForkDialog

Recording = Callable[[list[Response]], str]


def strict_session(daemon: TuiDaemon, model: str, image: str | None = "none") -> str:
    req = CreateSession(task="say hi", model=model, image=image, policy="strict")
    return daemon.api.create_session(req).id


def status_of(daemon: TuiDaemon, session_id: str) -> SessionStatus:
    return daemon.api.session(session_id).status


async def test_approve_lets_the_session_go_on(tui_daemon: TuiDaemon, recording: Recording) -> None:
    model = recording([reply("hi", ("shell", {"command": "echo hi"})), reply("done")])
    session_id = strict_session(tui_daemon, model)
    app = tui_daemon.app()
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: app.approvals.selected is not None, what="the approval")
        assert app.approvals.selected is not None
        approval_id = app.approvals.selected.id
        await pilot.press("a")
        await until(pilot, lambda: status_of(tui_daemon, session_id).ended, what="the end")
        await until(pilot, lambda: app.approvals.selected is None, what="an empty queue")
        await until(
            pilot,
            lambda: app.sessions.summaries[session_id].status is SessionStatus.COMPLETED,
            what="the pane to show completed",
        )
    decided = events_of(tui_daemon.api, session_id, "approval.decided")
    assert [(e.data["approval_id"], e.data["decision"], e.data["claimed"]) for e in decided] == [
        (approval_id, "approved", APPROVER)
    ]
    assert status_of(tui_daemon, session_id) is SessionStatus.COMPLETED
    assert tui_daemon.api.approvals() == []


async def test_deny_with_a_reason(tui_daemon: TuiDaemon, recording: Recording) -> None:
    model = recording([reply("hi", ("shell", {"command": "rm -rf /"})), reply("ok, I won't")])
    session_id = strict_session(tui_daemon, model)
    app = tui_daemon.app()
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: app.approvals.selected is not None, what="the approval")
        await pilot.press("d")
        assert isinstance(app.screen, DenyDialog)
        await pilot.press("enter")  # no reason: refused in the dialog, which stays open
        await until(
            pilot,
            lambda: "reason is required" in str(app.screen.query_one("#error", Label).content),
        )
        app.screen.query_one("#reason", Input).value = "too dangerous"
        await pilot.press("enter")
        await until(
            pilot, lambda: not isinstance(app.screen, DenyDialog), what="the dialog to close"
        )
        await until(pilot, lambda: status_of(tui_daemon, session_id).ended, what="the end")
    decided = events_of(tui_daemon.api, session_id, "approval.decided")
    assert len(decided) == 1
    assert decided[0].data["decision"] == "denied"
    assert decided[0].data["reason"] == "too dangerous"
    assert decided[0].data["claimed"] == APPROVER
    assert events_of(tui_daemon.api, session_id, "tool.started") == []


async def test_edit_shows_bad_json_and_the_daemons_422_in_the_dialog(
    tui_daemon: TuiDaemon, recording: Recording
) -> None:
    model = recording([reply("hi", ("shell", {"command": "echo hi"})), reply("done")])
    session_id = strict_session(tui_daemon, model)
    app = tui_daemon.app()
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: app.approvals.selected is not None, what="the approval")
        await pilot.press("e")
        dialog = app.screen
        assert isinstance(dialog, EditArgsDialog)
        area = dialog.query_one("#args", TextArea)
        assert area.text.startswith("{")
        error = dialog.query_one("#error", Label)

        area.text = '{"command": '
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "not JSON" in str(error.content), what="the JSON error")

        area.text = '{"cmd": 1}'
        await pilot.press("ctrl+s")
        await until(
            pilot, lambda: "invalid arguments for shell" in str(error.content), what="the 422"
        )
        assert app.screen is dialog  # still open: the person can fix the arguments
        await pilot.press("escape")
    assert status_of(tui_daemon, session_id) is SessionStatus.WAITING
    assert events_of(tui_daemon.api, session_id, "approval.decided") == []


@pytest.mark.docker
async def test_edit_and_approve_runs_the_edited_call(
    docker_client: object, tui_daemon: TuiDaemon, recording: Recording
) -> None:
    model = recording([reply("hi", ("shell", {"command": "echo hi"})), reply("done")])
    session_id = strict_session(tui_daemon, model, image=None)
    app = tui_daemon.app()
    edited = {"command": "echo edited-by-a-person"}
    async with app.run_test(size=(160, 48)) as pilot:
        await until(
            pilot, lambda: app.approvals.selected is not None, timeout=120, what="the approval"
        )
        await pilot.press("e")
        app.screen.query_one("#args", TextArea).text = '{"command": "echo edited-by-a-person"}'
        await pilot.press("ctrl+s")
        await until(
            pilot, lambda: not isinstance(app.screen, EditArgsDialog), what="the dialog to close"
        )
        await until(
            pilot, lambda: status_of(tui_daemon, session_id).ended, timeout=120, what="the end"
        )
    started = events_of(tui_daemon.api, session_id, "tool.started")
    assert [e.data["args"] for e in started] == [edited]
    finished = events_of(tui_daemon.api, session_id, "tool.finished")
    assert finished[0].data["exit_code"] == 0
    assert "edited-by-a-person" in finished[0].data["output"]
    decided = events_of(tui_daemon.api, session_id, "approval.decided")[0]
    assert decided.data["args"] == edited


def _highlight_seq(app: object, seq: int) -> None:
    from tui.app import AgentctlApp

    assert isinstance(app, AgentctlApp)
    app.timeline.highlight_seq(seq)


async def test_fork_at_a_selected_event(tui_daemon: TuiDaemon, recording: Recording) -> None:
    model = recording(
        [
            reply("one", ("shell", {"command": "echo 1"}), step=1),
            reply("two", ("shell", {"command": "echo 2"}), step=2),
            reply("done"),
        ]
    )
    session_id = strict_session(tui_daemon, model)
    app = tui_daemon.app(session=session_id)
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: app.approvals.selected is not None, what="the first approval")
        await pilot.press("a")
        await until(
            pilot,
            lambda: (
                any(e.type == "checkpoint.created" for e in app.timeline.events_of(session_id))
                and app.approvals.selected is not None
            ),
            what="a checkpoint and the second approval",
        )
        log = app.timeline.events_of(session_id)
        checkpoint = next(e.seq for e in log if e.type == "checkpoint.created")
        inside = next(e.seq for e in log if e.type == "tool.started")

        # A cut inside a step is refused; the dialog shows the daemon's nearest valid points.
        app.timeline.focus()
        _highlight_seq(app, inside)
        await pilot.press("f")
        assert isinstance(app.screen, ForkDialog)
        await pilot.click("#submit")
        error = app.screen.query_one("#error", Label)
        await until(pilot, lambda: "nearest valid points" in str(error.content), what="the refusal")
        assert str(checkpoint) in str(error.content)
        await pilot.press("escape")

        app.timeline.focus()
        _highlight_seq(app, checkpoint)
        await pilot.press("f")
        app.screen.query_one("#message", Input).value = "try another way"
        await pilot.click("#submit")
        await until(pilot, lambda: not isinstance(app.screen, ForkDialog), what="the fork")
        await until(pilot, lambda: len(app.sessions.summaries) == 2, what="the fork in the pane")
        fork_id = next(s for s in app.sessions.summaries if s != session_id)
        summary = app.sessions.summaries[fork_id]
        assert summary.parent is not None
        assert (summary.parent.session, summary.parent.seq) == (session_id, checkpoint)
        row = app.sessions.get_row(fork_id)
        assert row[7] == f"…{session_id[-8:]}@{checkpoint}"
        await until(pilot, lambda: app.timeline.session == fork_id, what="the fork selected")
    forked = tui_daemon.api.session(fork_id)
    assert forked.parent is not None and forked.parent.session == session_id
    messages = events_of(tui_daemon.api, fork_id, "message.user")
    assert [e.data["text"] for e in messages] == ["try another way"]


async def test_cancel_after_confirming(tui_daemon: TuiDaemon, recording: Recording) -> None:
    model = recording([reply("hi", ("shell", {"command": "echo hi"})), reply("done")])
    session_id = strict_session(tui_daemon, model)
    app = tui_daemon.app()
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: app.sessions.selected == session_id, what="the session")
        await pilot.press("c")
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("a")  # a stray key under a dialog decides nothing behind it
        await pilot.pause(0.3)
        assert events_of(tui_daemon.api, session_id, "approval.decided") == []
        await pilot.press("enter")  # the focused default is "Back"
        await until(pilot, lambda: not isinstance(app.screen, ConfirmDialog))
        assert status_of(tui_daemon, session_id) is SessionStatus.WAITING

        await pilot.press("c")
        await pilot.click("#submit")
        await until(pilot, lambda: status_of(tui_daemon, session_id) is SessionStatus.CANCELLED)
        await until(
            pilot,
            lambda: app.sessions.summaries[session_id].status is SessionStatus.CANCELLED,
            what="the pane to show cancelled",
        )
    status = events_of(tui_daemon.api, session_id, "session.status")[-1]
    assert status.data["reason"] == f"cancelled from the TUI by {APPROVER}"
