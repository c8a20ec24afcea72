"""The timeline keeps a cursor per session; the command palette runs the same actions as the keys."""

from __future__ import annotations

from collections.abc import Callable

from textual.command import CommandPalette

from agentctl.protocol import CreateSession, Decide
from tests.support.daemon import Response, reply
from tests.support.tui import APPROVER, TuiDaemon, events_of, until

Recording = Callable[[list[Response]], str]


def _session(daemon: TuiDaemon, recording: Recording) -> str:
    model = recording([reply("hi", ("shell", {"command": "echo hi"})), reply("done")])
    req = CreateSession(task="say hi", model=model, image="none", policy="strict")
    return daemon.api.create_session(req).id


async def test_reselecting_a_session_neither_duplicates_nor_misses(
    tui_daemon: TuiDaemon, recording: Recording
) -> None:
    first = _session(tui_daemon, recording)
    second = _session(tui_daemon, recording)
    app = tui_daemon.app(session=first)
    async with app.run_test(size=(160, 48)) as pilot:
        waiting = tui_daemon.api.session(first).last_seq
        await until(pilot, lambda: app.timeline.received_seqs[-1:] == [waiting], what="first")
        app.sessions.select(second)
        await until(pilot, lambda: app.timeline.session == second, what="the second session")

        # The first session moves on while another one is shown.
        pending = tui_daemon.api.approvals(session=first)
        tui_daemon.api.decide(pending[0].id, Decide(decision="approve", approver="elsewhere"))
        await until(pilot, lambda: tui_daemon.api.session(first).status.ended, what="its end")
        last = tui_daemon.api.session(first).last_seq
        # The pane learns the new length before the session is shown again: the
        # events after what the timeline held must still come (they once did not).
        await until(
            pilot, lambda: app.sessions.summaries[first].last_seq == last, what="the summary"
        )

        app.sessions.select(first)
        await until(pilot, lambda: app.timeline.received_seqs[-1:] == [last], what="the catch-up")
        assert app.timeline.received_seqs == list(range(1, last + 1))
        shown = app.timeline.shown_seqs
        assert shown == sorted(set(shown))


async def test_command_palette_approves(tui_daemon: TuiDaemon, recording: Recording) -> None:
    session_id = _session(tui_daemon, recording)
    app = tui_daemon.app()
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: app.approvals.selected is not None, what="the approval")
        await pilot.press("ctrl+p")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette), what="the palette")
        await pilot.press(*"Approve")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await until(pilot, lambda: bool(events_of(tui_daemon.api, session_id, "approval.decided")))
    decided = events_of(tui_daemon.api, session_id, "approval.decided")
    assert decided[0].data["decision"] == "approved"
    assert decided[0].data["claimed"] == APPROVER
