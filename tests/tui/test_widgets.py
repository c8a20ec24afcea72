"""The pure parts of the widgets: countdowns, the output views, edited-argument parsing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from rich.console import Console
from rich.panel import Panel

from agentctl.render import FOLD_LINES
from tui.screens.dialogs import parse_args
from tui.widgets.approvals import countdown
from tui.widgets.timeline import OutputView, next_view, prompt_for

from .stub import EVENTS, NOW


def text_of(renderable: object) -> str:
    console = Console(width=120, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_countdown() -> None:
    assert countdown(None, NOW) == "no deadline"
    assert countdown(NOW + timedelta(minutes=4, seconds=32), NOW) == "4:32"
    assert countdown(NOW + timedelta(hours=1, seconds=5), NOW) == "1:00:05"
    assert countdown(NOW - timedelta(seconds=1), NOW) == "expired"


def test_output_views_cycle() -> None:
    assert next_view(OutputView.FOLDED, FOLD_LINES + 4) is OutputView.FULL
    assert next_view(OutputView.FULL, FOLD_LINES + 4) is OutputView.COLLAPSED
    assert next_view(OutputView.COLLAPSED, FOLD_LINES + 4) is OutputView.FOLDED
    assert next_view(OutputView.FOLDED, 3) is OutputView.COLLAPSED  # nothing folded: no "full"


def test_tool_output_views_render_through_render_event() -> None:
    finished = next(e for e in EVENTS if e.type == "tool.finished")
    folded = text_of(prompt_for(finished))
    assert "more lines" in folded and "FAILED (failures=1)" in folded
    full = text_of(prompt_for(finished, OutputView.FULL))
    assert "test_1 ..." in full and "more lines" not in full
    collapsed = text_of(prompt_for(finished, OutputView.COLLAPSED))
    assert "exit 1" in collapsed and "16 lines of output" in collapsed and "test_" not in collapsed


def test_checkpoints_are_boxed_and_hidden_events_stay_hidden() -> None:
    checkpoint = next(e for e in EVENTS if e.type == "checkpoint.created")
    assert isinstance(prompt_for(checkpoint), Panel)
    first_request = next(e for e in EVENTS if e.type == "model.requested")
    assert prompt_for(first_request) is None


def test_parse_args() -> None:
    assert parse_args('{"command": "ls"}') == {"command": "ls"}
    with pytest.raises(ValueError, match="not JSON"):
        parse_args('{"command": ')
    with pytest.raises(ValueError, match="JSON object"):
        parse_args('["ls"]')
