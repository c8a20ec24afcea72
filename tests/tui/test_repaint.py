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

from .conftest import TuiDaemon
from .support import until


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
