"""The TUI across a daemon restart: it reconnects with its cursors, no gap, no duplicate."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from agentctl.client.follow import Link
from agentctl.protocol import CreateSession, Decide, SessionStatus
from tests.support.daemon import Response, reply
from tests.support.tui import TuiDaemon, until

Recording = Callable[[list[Response]], str]


async def test_restart_resumes_the_timeline_without_gap_or_duplicate(
    tui_daemon: TuiDaemon, recording: Recording
) -> None:
    model = recording(
        [
            reply("one", ("shell", {"command": "echo 1"}), step=1),
            reply("two", ("shell", {"command": "echo 2"}), step=2),
            reply("done"),
        ]
    )
    req = CreateSession(task="count", model=model, image="none", policy="strict")
    session_id = tui_daemon.api.create_session(req).id
    app = tui_daemon.app(session=session_id)
    async with app.run_test(size=(160, 48)) as pilot:
        await until(
            pilot,
            lambda: any(e.type == "approval.requested" for e in app.timeline.events_of(session_id)),
            what="the first approval in the timeline",
        )
        before = list(app.timeline.received_seqs)
        assert before == list(range(1, before[-1] + 1))

        await asyncio.to_thread(tui_daemon.restart)  # the app runs on while the daemon is away
        await until(pilot, lambda: app.links.get("global") is Link.RESTORED, what="the reconnect")
        await until(pilot, lambda: app.links.get("timeline") is Link.RESTORED, what="the timeline")
        # In words, no offsets; the timeline has a line where the daemon went away.
        assert str(app.link_bar.content) == "● connected"
        log = app.timeline.session_log
        assert log is not None
        assert log.marks and min(log.marks) >= before[-1]
        assert "the daemon restarted" in next(iter(log.marks.values()))

        # New events after the restart, decided from outside the TUI.
        for _ in range(2):
            await until(pilot, lambda: bool(tui_daemon.api.approvals(session=session_id)))
            pending = tui_daemon.api.approvals(session=session_id)
            tui_daemon.api.decide(pending[0].id, Decide(decision="approve", approver="elsewhere"))
        await until(
            pilot, lambda: tui_daemon.api.session(session_id).status.ended, what="the session's end"
        )
        last = tui_daemon.api.session(session_id).last_seq
        await until(pilot, lambda: app.timeline.received_seqs[-1:] == [last], what="the last event")
        await until(
            pilot,
            lambda: app.sessions.summaries[session_id].status is SessionStatus.COMPLETED,
            what="the pane",
        )
        seqs = app.timeline.received_seqs
        shown = app.timeline.shown_seqs
        offset = app.offset.after
    assert seqs == list(range(1, last + 1))  # every event exactly once, in order
    assert len(seqs) > len(before)
    assert shown == sorted(set(shown)) and set(shown) <= set(seqs)
    assert offset == tui_daemon.api.status().last_offset
