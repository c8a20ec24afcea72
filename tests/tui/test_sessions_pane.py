"""The sessions pane paints what changed: a session's update its own row, a focus
move the cursor's row (issue 19: keys answered while a live session updates its row
every debounce). And its keys and clicks move the cursor as the timeline's do."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from textual.app import App, ComposeResult
from textual.widgets import Static

from agentctl.protocol import SessionStatus, SessionSummary
from tui.widgets.sessions import SessionsPane

from .stub import _summary

IDS = [f"ses_01JD00000000000000000000{i:02d}" for i in range(6)]


def summaries(**changes: Any) -> list[SessionSummary]:
    """Six sessions, the changes made to the third."""
    rows = [dict(task=f"task {i}") for i in range(len(IDS))]
    rows[2].update(changes)
    return [
        _summary(sid, SessionStatus.COMPLETED, **row) for sid, row in zip(IDS, rows, strict=True)
    ]


class OnePane(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.pane = SessionsPane(id="sessions")
        self.selected: list[str] = []

    def compose(self) -> ComposeResult:
        yield self.pane
        yield Static("elsewhere", id="other")

    def on_sessions_pane_selected(self, message: SessionsPane.Selected) -> None:
        self.selected.append(message.session_id)


def painted(pane: SessionsPane) -> Iterator[list[str]]:
    """Records the plain text of every row the pane lays out anew."""
    made: list[str] = []
    strip = pane._strip

    def counted(*args: Any) -> Any:
        line = strip(*args)
        made.append(line.text)
        return line

    pane._strip = counted  # type: ignore[method-assign,assignment]
    yield made


async def test_an_update_and_a_focus_move_paint_one_row_again() -> None:
    app = OnePane()
    async with app.run_test(size=(120, 20)) as pilot:
        app.pane.load(summaries())
        app.pane.select(IDS[0])
        app.set_focus(None)
        await pilot.pause()
        shown = [app.pane.render_line(y).text for y in range(1, 7)]
        assert all(f"task {i}" in line for i, line in enumerate(shown))  # newest first: same ts

        made = next(painted(app.pane))
        app.pane.upsert(summaries(steps=7)[2])  # a live session's steps, same width
        await pilot.pause()
        assert len(made) == 1 and "task 2" in made[0] and " 7 " in made[0], made

        made.clear()
        app.pane.focus()
        await pilot.pause()
        assert app.focused is app.pane
        assert len(made) == 1 and "task 0" in made[0], made  # the cursor's row, brighter

        made.clear()
        app.pane.upsert(summaries(task="task 2, a much longer task than the others")[2])
        await pilot.pause()
        assert len(made) >= 6, made  # the TASK column widened: every row moves


async def test_keys_and_clicks_move_the_cursor_and_say_which_session() -> None:
    app = OnePane()
    async with app.run_test(size=(120, 20)) as pilot:
        app.pane.load(summaries())
        app.pane.focus()
        await pilot.pause()
        assert app.pane.selected == app.pane.order[0]
        await pilot.press("j", "j")
        assert app.pane.selected == app.pane.order[2]
        await pilot.press("k")
        assert app.pane.selected == app.pane.order[1]
        await pilot.press("G")
        assert app.pane.selected == app.pane.order[-1]
        await pilot.press("down")  # at the end: stays
        assert app.pane.selected == app.pane.order[-1]
        await pilot.press("g")
        assert app.pane.selected == app.pane.order[0]
        await pilot.pause()
        assert app.selected[-4:] == [app.pane.order[i] for i in (2, 1, 5, 0)]

        await pilot.click("#sessions", offset=(5, 1 + 3))  # the header is the first line
        await pilot.pause()
        assert app.pane.selected == app.pane.order[3]
        assert app.selected[-1] == app.pane.order[3]
        await pilot.click("#sessions", offset=(5, 0))  # the header: nothing
        assert app.pane.selected == app.pane.order[3]


class ShortPane(OnePane):
    CSS = "#sessions { height: 3; }"  # the header and 2 rows


async def test_the_cursor_stays_on_screen_in_a_short_pane() -> None:
    app = ShortPane()
    async with app.run_test(size=(120, 20)) as pilot:
        app.pane.load(summaries())
        app.pane.focus()
        await pilot.pause()
        await pilot.press("j", "j", "j")
        await pilot.pause()
        row = app.pane.order.index(app.pane.selected or "")
        assert row == 3
        lines = [app.pane.render_line(y).text for y in range(3)]
        assert lines[0].split()[0] == "SESSION"  # the header stays on top
        assert any(f"task {IDS.index(app.pane.order[row])}" in line for line in lines[1:])
        await pilot.press("g")
        await pilot.pause()
        assert "task" in app.pane.render_line(1).text
        assert app.pane.scroll_offset.y == 0
