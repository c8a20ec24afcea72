"""Decisions go to the session on screen: the queue and the sessions pane move together."""

from __future__ import annotations

from collections.abc import Callable

from agentctl.protocol import CreateSession
from tests.support.daemon import Response, reply
from tests.support.tui import TuiDaemon, events_of, until

Recording = Callable[[list[Response]], str]


def waiting_session(daemon: TuiDaemon, recording: Recording, command: str) -> str:
    model = recording([reply("hi", ("shell", {"command": command})), reply("done")])
    req = CreateSession(task=f"run {command}", model=model, image="none", policy="strict")
    return daemon.api.create_session(req).id


def footer_text(app: object) -> str:
    from tui.app import AgentctlApp
    from tui.widgets.keys import KeysBar

    assert isinstance(app, AgentctlApp)
    return app.screen.query_one(KeysBar).text


async def test_a_approves_the_session_on_screen_not_the_queues_first_row(
    tui_daemon: TuiDaemon, recording: Recording
) -> None:
    first = waiting_session(tui_daemon, recording, "echo first")
    second = waiting_session(tui_daemon, recording, "echo second")
    app = tui_daemon.app(session=first)
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: len(app.approvals.pending) == 2, what="both approvals")
        await until(pilot, lambda: app.timeline.session == first, what="the first on screen")
        # The person picks the second session in the sessions pane and presses `a`.
        app.sessions.focus()
        app.sessions.select(second)
        await until(pilot, lambda: app.timeline.session == second, what="the second on screen")
        await until(
            pilot,
            lambda: app.decision_target is not None and app.decision_target.session == second,
            what="the queue to follow the selection",
        )
        await until(pilot, lambda: second[-7:] in footer_text(app), what="the footer's target")
        assert "Approve shell" in footer_text(app)
        await pilot.press("a")
        await until(
            pilot, lambda: bool(events_of(tui_daemon.api, second, "approval.decided")), what="it"
        )
        await pilot.pause(0.3)
    assert events_of(tui_daemon.api, first, "approval.decided") == []
    assert events_of(tui_daemon.api, second, "approval.decided")[0].data["decision"] == "approved"


async def test_moving_in_the_queue_shows_that_approvals_session(
    tui_daemon: TuiDaemon, recording: Recording
) -> None:
    first = waiting_session(tui_daemon, recording, "echo first")
    second = waiting_session(tui_daemon, recording, "echo second")
    app = tui_daemon.app(session=first)
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: len(app.approvals.pending) == 2, what="both approvals")
        await until(pilot, lambda: app.timeline.session == first, what="the first on screen")
        app.approvals.table.focus()
        await pilot.pause()
        row_of_second = next(i for i, a in enumerate(app.approvals.ordered) if a.session == second)
        app.approvals.table.move_cursor(row=row_of_second)
        await until(pilot, lambda: app.timeline.session == second, what="its session on screen")
        assert app.sessions.selected == second
        assert app.decision_target is not None and app.decision_target.session == second


async def test_no_decision_for_a_session_without_an_approval(
    tui_daemon: TuiDaemon, recording: Recording
) -> None:
    waiting = waiting_session(tui_daemon, recording, "echo first")
    done_model = recording([reply("nothing to do")])
    done = tui_daemon.api.create_session(
        CreateSession(task="say nothing", model=done_model, image="none")
    ).id
    app = tui_daemon.app(session=waiting)
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: len(app.approvals.pending) == 1, what="the approval")
        await until(pilot, lambda: done in app.sessions.summaries, what="both sessions")
        app.sessions.select(done)
        await until(pilot, lambda: app.timeline.session == done, what="the done one on screen")
        assert app.decision_target is None
        await pilot.press("a")
        await pilot.pause(0.3)
    assert events_of(tui_daemon.api, waiting, "approval.decided") == []
