"""A long session opens at its end with only its last page held; older pages come as the view goes up."""

from __future__ import annotations

from collections.abc import Callable

from agentctl.protocol import CreateSession
from tests.support.daemon import Response, reads, reply, wait_status
from tests.support.tui import TuiDaemon, until
from tui.widgets.session_log import PAGE, page_of

Recording = Callable[[list[Response]], str]


async def test_pages_are_fetched_as_the_view_reaches_them(
    tui_daemon: TuiDaemon, recording: Recording
) -> None:
    model = recording([*reads(120), reply("done")])
    req = CreateSession(task="long", model=model, image="none")
    sid = tui_daemon.api.create_session(req).id
    wait_status(tui_daemon.api, sid, "completed", timeout=60)
    last = tui_daemon.api.session(sid).last_seq
    assert last > 2 * PAGE
    app = tui_daemon.app(session=sid)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: last in app.timeline.received_seqs, what="the end")
        held = {page_of(s) for s in app.timeline.received_seqs}
        # what the screen needs of the end only: the first page was never read
        assert page_of(last) in held and 0 not in held and len(held) <= 2
        app.timeline.focus()
        await pilot.press("g")
        await until(pilot, lambda: 1 in app.timeline.received_seqs, what="the first page")
        assert app.timeline.selected_event is not None
        assert app.timeline.selected_event.seq == 1
        await pilot.press("j", "j")
        assert app.timeline.selected_event.seq > 1
        await pilot.press("G")
        await pilot.pause()
        assert app.timeline.at_tail
        seqs = app.timeline.received_seqs
    assert seqs == sorted(set(seqs))
    events = {e.seq: e for e in tui_daemon.api.events(sid)}
    assert all(app.timeline.events_of(sid)[i] == events[s] for i, s in enumerate(seqs))


def test_an_event_below_a_full_screen_does_not_repaint_it() -> None:
    """Scrolled up in a live session, arrivals below the screen change the title only."""
    import asyncio

    from textual.app import App, ComposeResult

    from tui.widgets.timeline import Timeline

    from .stub import EVENTS, PARENT

    class One(App[None]):
        def compose(self) -> ComposeResult:
            yield Timeline(id="t")

    async def run() -> None:
        app = One()
        async with app.run_test(size=(100, 8)) as pilot:
            timeline = app.query_one(Timeline)
            events = [e for e in EVENTS if e.session == PARENT]
            timeline.show(PARENT)
            for event in events[:-2]:
                timeline.add(event)
            timeline.highlight_seq(1)  # the top: the screen is full long before the end
            await pilot.pause()
            frame = timeline.frame()
            assert timeline._frame_end is not None
            timeline.add(events[-2])
            assert timeline.frame() is frame  # not laid out again
            assert f"{events[-2].seq} events" in str(timeline.border_title)
            timeline.action_last()  # at the end, an arrival is drawn
            await pilot.pause()
            frame = timeline.frame()
            timeline.add(events[-1])
            assert timeline.frame() is not frame

    asyncio.run(run())
