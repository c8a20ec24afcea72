"""The pure parts of the widgets: countdowns, the output views, edited-argument parsing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from rich.console import Console
from rich.panel import Panel

from agentctl.protocol import Envelope
from agentctl.render import FOLD_LINES, render_event
from tui.screens.dialogs import parse_args
from tui.widgets.approvals import countdown
from tui.widgets.event_text import hang, prompt_for
from tui.widgets.session_log import OutputView, next_view

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


def _event(type_: str, data: dict[str, object], seq: int = 13) -> Envelope:
    return Envelope(session="ses_x", seq=seq, offset=seq, ts=NOW, type=type_, data=data)


def test_wrapped_lines_keep_their_gutter_and_indent() -> None:
    output = "short\n" + "x" * 100 + " tail\n"
    finished = _event("tool.finished", {"call_id": "c", "exit_code": 0, "output": output})
    console = Console(width=50, record=True, color_system=None)
    renderable = render_event(finished, fold=False)
    assert renderable is not None
    console.print(hang(renderable, 50))
    lines = console.export_text().splitlines()
    assert len(lines) == 5
    assert all(line.startswith("       │ ") for line in lines[1:])  # the gutter, every line

    said = _event("message.user", {"text": "word " * 30})
    console = Console(width=50, record=True, color_system=None)
    renderable = render_event(said)
    assert renderable is not None
    console.print(hang(renderable, 50))
    lines = console.export_text().splitlines()
    assert len(lines) > 2
    assert lines[0].startswith("  13 ") and "user word" in lines[0]
    assert all(line.startswith(" " * 14 + "word") for line in lines[1:])  # under its text


def test_edited_arguments_show_as_edited_and_a_restart_says_so() -> None:
    decided = _event(
        "approval.decided",
        {
            "approval_id": "apr_1",
            "decision": "approved",
            "approver": "ann",
            "args": {"command": "echo safe"},
        },
    )
    text = text_of(render_event(decided))
    assert "approved (edited) by ann" in text
    assert 'runs with edited arguments {"command": "echo safe"}' in text
    plain = _event(
        "approval.decided", {"approval_id": "apr_1", "decision": "approved", "approver": "ann"}
    )
    assert "edited" not in text_of(render_event(plain))
    interrupted = _event("tool.interrupted", {"call_id": "call_1"})
    assert "daemon restarted call call_1 was running" in text_of(render_event(interrupted))


def test_the_help_lists_every_key_of_the_app_and_its_panes() -> None:
    """A key bound without a line in the help fails here."""
    from textual.binding import Binding

    from tui.app import AgentctlApp
    from tui.screens.dialogs import HelpScreen
    from tui.widgets.sessions import SessionsPane
    from tui.widgets.timeline import Timeline

    shown = {
        "question_mark": "?",
        "slash": "/",
        "colon": ":",
        "minus": "-",
        "plus": "+",
        "left_square_bracket": "[",
        "right_square_bracket": "]",
        "pageup": "pgup",
        "pagedown": "pgdn",
        "up": "k",
        "down": "j",
        "home": "g",
        "end": "G",
    }
    documented = {word for key, _ in HelpScreen.KEYS for word in key.split()}
    for binding in [*AgentctlApp.BINDINGS, *Timeline.BINDINGS, *SessionsPane.BINDINGS]:
        assert isinstance(binding, Binding)
        for key in binding.key.split(","):
            assert shown.get(key, key) in documented, key
