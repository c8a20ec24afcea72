"""SVG snapshots of each screen, from a fixed stub daemon and a frozen clock.

Regenerate with `pytest tests/tui/test_snapshots.py --snapshot-update` and
review the SVGs under `__snapshots__/` like code.
"""

from __future__ import annotations

from typing import Any

from textual.pilot import Pilot
from textual.widgets import Input, TextArea

from agentctl.client.follow import Backoff
from tests.support.tui import until
from tui.app import AgentctlApp

from .stub import NOW, PARENT, StubClient

SIZE = (160, 48)


def stub_app() -> AgentctlApp:
    async def connect() -> StubClient:
        return StubClient()

    return AgentctlApp(
        client_factory=connect,
        session=PARENT,
        approver="tester",
        clock=lambda: NOW,
        backoff=Backoff(initial_s=0.05, maximum_s=0.5),
        debounce_s=0.01,
    )


async def loaded(pilot: Pilot[Any]) -> None:
    app = pilot.app
    assert isinstance(app, AgentctlApp)
    await until(
        pilot,
        lambda: (
            len(app.timeline.received_seqs) == 13
            and len(app.approvals.pending) == 2
            and len(app.sessions.summaries) == 3
        ),
        what="the stub data",
    )
    await pilot.pause()


def test_main_screen(snap_compare: Any) -> None:
    assert snap_compare(stub_app(), terminal_size=SIZE, run_before=loaded)


def test_tool_output_collapsed_and_checkpoint_selected(snap_compare: Any) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await loaded(pilot)
        app = pilot.app
        assert isinstance(app, AgentctlApp)
        app.timeline.focus()
        app.timeline.highlight_seq(7)
        await pilot.press("enter", "enter")  # folded -> whole output -> head only
        await pilot.press("right_square_bracket")  # on to the checkpoint
        await pilot.pause()

    assert snap_compare(stub_app(), terminal_size=SIZE, run_before=run_before)


def test_help_screen(snap_compare: Any) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await loaded(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(stub_app(), terminal_size=SIZE, run_before=run_before)


def test_deny_dialog(snap_compare: Any) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await loaded(pilot)
        await pilot.press("d")
        await pilot.pause()
        reason = pilot.app.screen.query_one("#reason", Input)
        reason.cursor_blink = False
        reason.value = "never touch the tests' expectations"
        await pilot.pause()

    assert snap_compare(stub_app(), terminal_size=SIZE, run_before=run_before)


def test_edit_dialog(snap_compare: Any) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await loaded(pilot)
        await pilot.press("e")
        await pilot.pause()
        pilot.app.screen.query_one("#args", TextArea).cursor_blink = False
        await pilot.pause()

    assert snap_compare(stub_app(), terminal_size=SIZE, run_before=run_before)


def test_fork_dialog_shows_the_refusal(snap_compare: Any) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await loaded(pilot)
        app = pilot.app
        assert isinstance(app, AgentctlApp)
        app.timeline.highlight_seq(6)
        await pilot.press("f")
        await pilot.pause()
        await pilot.click("#submit")
        await until(pilot, lambda: bool(app.screen.query_one("#error").display), what="the error")
        # the pressed button's brief "-active" look ends on a timer: a loaded machine
        # could otherwise take the snapshot inside it
        submit = app.screen.query_one("#submit")
        await until(pilot, lambda: not submit.has_class("-active"), what="the press effect to end")
        await pilot.pause()

    assert snap_compare(stub_app(), terminal_size=SIZE, run_before=run_before)


def test_cancel_confirmation(snap_compare: Any) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await loaded(pilot)
        await pilot.press("c")
        await pilot.pause()

    assert snap_compare(stub_app(), terminal_size=SIZE, run_before=run_before)


def test_diff_screen(snap_compare: Any) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await loaded(pilot)
        await pilot.press("v")
        app = pilot.app
        await until(pilot, lambda: type(app.screen).__name__ == "DiffScreen", what="the diff")
        await pilot.pause()

    assert snap_compare(stub_app(), terminal_size=SIZE, run_before=run_before)


SMALL = (80, 24)


def test_main_screen_at_80x24(snap_compare: Any) -> None:
    assert snap_compare(stub_app(), terminal_size=SMALL, run_before=loaded)


def test_too_small(snap_compare: Any) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await pilot.pause()

    assert snap_compare(stub_app(), terminal_size=(50, 12), run_before=run_before)


def test_sessions_filtered_at_80x24(snap_compare: Any) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await loaded(pilot)
        app = pilot.app
        assert isinstance(app, AgentctlApp)
        app.sessions.focus()
        await pilot.press("slash", *"fix")
        app.prompt.cursor_blink = False
        await pilot.pause()

    assert snap_compare(stub_app(), terminal_size=SMALL, run_before=run_before)


def test_run_dialog(snap_compare: Any) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await loaded(pilot)
        await pilot.press("ctrl+n")
        await pilot.pause()
        for field in pilot.app.screen.query(Input):
            field.cursor_blink = False
        await pilot.pause()

    assert snap_compare(stub_app(), terminal_size=SIZE, run_before=run_before)


def test_detail_screen(snap_compare: Any) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await loaded(pilot)
        await pilot.press("i")
        app = pilot.app
        await until(pilot, lambda: type(app.screen).__name__ == "DetailScreen", what="detail")
        await pilot.pause()

    assert snap_compare(stub_app(), terminal_size=SIZE, run_before=run_before)


def test_trace_screen_at_80x24(snap_compare: Any) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await loaded(pilot)
        await pilot.press("t")
        app = pilot.app
        await until(pilot, lambda: type(app.screen).__name__ == "TraceScreen", what="trace")
        await pilot.pause()

    assert snap_compare(stub_app(), terminal_size=SMALL, run_before=run_before)
