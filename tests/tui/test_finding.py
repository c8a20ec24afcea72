"""Finding things: the sessions filter and sort, the summary line, timeline search, go to seq."""

from __future__ import annotations

from collections.abc import Callable

from agentctl.protocol import CreateSession, Decide
from tests.support.daemon import Response, reply
from tests.support.tui import TuiDaemon, until
from tui.widgets.event_text import found_in

Recording = Callable[[list[Response]], str]


def started(daemon: TuiDaemon, recording: Recording, task: str, *commands: str) -> str:
    responses = [
        reply(f"running {c}", ("shell", {"command": c}), step=i) for i, c in enumerate(commands)
    ]
    model = recording([*responses, reply("done")])
    req = CreateSession(
        task=task, model=model, image="none", policy="strict", labels={"team": task.split()[0]}
    )
    return daemon.api.create_session(req).id


def finish(daemon: TuiDaemon, session_id: str) -> None:
    """Approve every call of a session until it ends (from outside the app)."""
    import time

    deadline = time.monotonic() + 60
    while not daemon.api.session(session_id).status.ended:
        assert time.monotonic() < deadline, "the session did not end"
        for approval in daemon.api.approvals(session=session_id):
            daemon.api.decide(approval.id, Decide(decision="approve", approver="elsewhere"))
        time.sleep(0.05)  # polling the daemon from the test thread, not the app's loop


async def test_slash_filters_the_sessions_and_escape_restores(
    tui_daemon: TuiDaemon, recording: Recording
) -> None:
    alpha = started(tui_daemon, recording, "alpha build the docs", "echo a")
    beta = started(tui_daemon, recording, "beta fix the parser", "echo b")
    app = tui_daemon.app(session=alpha)
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: len(app.sessions.order) == 2, what="both sessions")
        app.sessions.focus()
        await pilot.press("slash")
        assert app.prompt.display and app.prompt.has_focus
        await pilot.press(*"parser")
        await until(pilot, lambda: app.sessions.order == [beta], what="the filter")
        assert "/parser (1 shown)" in str(app.sessions.border_title)
        await pilot.press("escape")  # backs out: the filter it had (none) comes back
        await until(pilot, lambda: len(app.sessions.order) == 2, what="no filter")
        assert not app.prompt.display

        await pilot.press("slash", *"team=alpha", "enter")  # a label; enter keeps it
        await until(pilot, lambda: app.sessions.order == [alpha], what="the label filter")
        assert app.sessions.has_focus and not app.prompt.display
        await pilot.press("slash", *"waiting")  # a status
        await until(pilot, lambda: len(app.sessions.order) == 2, what="the status filter")


async def test_waiting_sessions_first_short_ids_task_and_profile_and_the_summary(
    tui_daemon: TuiDaemon, recording: Recording
) -> None:
    done = started(tui_daemon, recording, "zeta done first", "echo z")
    finish(tui_daemon, done)
    waiting = started(tui_daemon, recording, "alpha waits", "echo w")
    newest = started(tui_daemon, recording, "omega also done", "echo o")
    finish(tui_daemon, newest)
    app = tui_daemon.app()
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: len(app.sessions.order) == 3, what="the sessions")
        await until(pilot, lambda: app.sessions.order[0] == waiting, what="waiting first")
        assert app.sessions.order == [waiting, newest, done]  # then the newest
        # The newest is shown at start; the top row is not shown first on the way to it.
        await until(pilot, lambda: app.timeline.session == newest, what="the newest shown")
        assert list(app.timeline.logs) == [newest]
        row = app.sessions.get_row(waiting)
        assert row[0] == f"…{waiting[-8:]}"  # a short id
        assert str(row[1]) == "waiting" and str(row[2]) == "alpha waits" and str(row[3]) == "-"
        title = str(app.sessions.border_title)
        assert title.startswith("Sessions · 3 · 1 waiting · $")
        assert "today" in title

        app.sessions.focus()
        await pilot.press("s")  # by status: waiting still first, then completed ones
        assert app.sessions.sort_by == "status"
        assert app.sessions.order[0] == waiting
        await pilot.press("s", "s", "s")  # task
        assert app.sessions.sort_by == "task"
        assert app.sessions.order == [waiting, newest, done]  # omega < zeta
        assert "by task" in str(app.sessions.border_title)


async def test_search_the_timeline_with_n_and_N_and_go_to_a_seq(
    tui_daemon: TuiDaemon, recording: Recording
) -> None:
    session_id = started(tui_daemon, recording, "three calls", "echo one", "echo two", "echo three")
    finish(tui_daemon, session_id)
    events = list(tui_daemon.api.events(session_id))
    hits = [e.seq for e in events if found_in(e, "echo t")]  # echo two's, then echo three's
    assert len(hits) >= 2
    app = tui_daemon.app(session=session_id)
    async with app.run_test(size=(160, 48)) as pilot:
        last = events[-1].seq
        await until(pilot, lambda: app.timeline.received_seqs[-1:] == [last], what="the log")
        app.timeline.focus()
        await pilot.press("g")  # the first event
        await pilot.press("slash", *"$ shell", "enter")  # no match: the words are the data's
        await pilot.press("slash")
        await pilot.press("ctrl+a", "ctrl+k", *"echo t", "enter")
        await until(pilot, lambda: app.timeline.cursor_seq == hits[0], what="the first match")
        assert app.timeline.has_focus
        await pilot.press("n")
        await until(pilot, lambda: app.timeline.cursor_seq == hits[1], what="the next")
        await pilot.press("N")
        await until(pilot, lambda: app.timeline.cursor_seq == hits[0], what="back")
        await pilot.press("G", "n")  # past the last: said so, the cursor stays at the end
        await pilot.press("colon", *"x", "enter")  # not a seq: a warning, nothing moves
        await pilot.press("colon", *"3", "enter")
        await until(pilot, lambda: app.timeline.cursor_seq == 3, what="seq 3")
        assert app.timeline.selected_event is not None and app.timeline.selected_event.seq == 3
