"""A change in one pane repaints that pane only (issue 19: keys answered while events arrive).

Textual renders the whole of every widget whose clip meets a changed region,
and a widget's clip is its container's: two panes in one container repaint
each other. The live timeline changes many times a second, and a repaint of
the sessions table beside it cost as much as the timeline's own.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from textual.widget import Widget

from tests.support.tui import TuiDaemon, until


def count_renders(widgets: dict[str, Widget], counts: Counter[str]) -> None:
    for name, widget in widgets.items():
        render: Callable[..., Any] = widget.render_lines

        def counted(crop: Any, name: str = name, render: Callable[..., Any] = render) -> Any:
            counts[name] += 1
            return render(crop)

        widget.render_lines = counted  # type: ignore[method-assign]


async def test_a_changed_pane_repaints_alone(tui_daemon: TuiDaemon) -> None:
    app = tui_daemon.app()
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: app.client is not None, what="the app's client")
        await pilot.pause()
        panes: dict[str, Widget] = {
            "sessions": app.sessions,
            "timeline": app.timeline,
            "approvals": app.approvals,
        }
        for changed in panes:
            counts: Counter[str] = Counter()
            count_renders(panes, counts)
            for _ in range(3):
                panes[changed].refresh()
                await pilot.pause()
            assert counts[changed] >= 3, (changed, counts)
            assert counts.keys() == {changed}, f"a change in {changed} repainted {counts}"
            for widget in panes.values():  # the next pane's round counts afresh
                del widget.render_lines


async def test_moving_the_focus_mounts_nothing_and_the_key_bar_follows(
    tui_daemon: TuiDaemon,
) -> None:
    from tui.screens.dialogs import HelpScreen
    from tui.widgets.keys import KeysBar

    app = tui_daemon.app()
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: app.client is not None, what="the app's client")
        await pilot.pause()
        widgets = list(app.screen.walk_children())
        bar = app.screen.query_one(KeysBar)
        moves: list[tuple[str, Widget]] = [
            ("2", app.timeline),
            ("3", app.approvals.table),
            ("1", app.sessions),
        ]
        for key, pane in moves:
            await pilot.press(key)

            def focused(pane: Widget = pane) -> bool:
                return app.focused is pane

            await until(pilot, focused, what=f"{key} to focus")
            # Textual's Footer composed a widget per key again on each move
            assert list(app.screen.walk_children()) == widgets
        assert "? Help" in bar.text and "q Quit" in bar.text
        assert bar.text.rstrip().endswith("^p palette")
        # a click on a key presses it
        column = bar.text.index("? Help") + 1
        await pilot.click(KeysBar, offset=(column, 0))
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), what="the help screen")


async def test_a_pane_key_repaints_the_panes_it_moves_between_not_the_screen(
    tui_daemon: TuiDaemon,
) -> None:
    # Textual's Screen repaints itself whole when its focus changes; the main
    # screen leaves that to the widgets whose look changed.
    app = tui_daemon.app()
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: app.client is not None, what="the app's client")
        await pilot.press("2")
        await until(pilot, lambda: app.focused is app.timeline, what="the timeline focused")
        await pilot.pause()
        counts: Counter[str] = Counter()
        count_renders({"sessions": app.sessions, "approvals": app.approvals}, counts)
        await pilot.press("1")
        await until(pilot, lambda: app.focused is app.sessions, what="the sessions focused")
        await pilot.pause()
        assert counts["sessions"] >= 1  # its border takes the focus colour
        assert counts["approvals"] == 0, counts


async def test_the_program_keeps_what_it_started_with_out_of_the_collectors_walks(
    tui_daemon: TuiDaemon,
) -> None:
    import gc

    from tui.app import GC_FULL_EVERY

    assert gc.get_freeze_count() == 0
    thresholds = gc.get_threshold()
    app = tui_daemon.app()
    app.freeze_gc = True  # as `agentctl tui` builds it
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            await until(pilot, lambda: app.client is not None, what="the app's client")
            assert gc.get_freeze_count() > 0
            # full collections wait for a pause in the typing
            assert gc.get_threshold()[2] == GC_FULL_EVERY
    finally:
        gc.unfreeze()  # the test process goes on making apps
        gc.set_threshold(*thresholds)
