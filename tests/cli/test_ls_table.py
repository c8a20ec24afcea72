"""`agentctl ls` writes a table that fits as plain lines: the same characters rich would print."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from rich.console import Console
from rich.text import Text

from agentctl.protocol import ParentRef, SessionStatus, SessionSummary
from agentctl.render import sessions_table, sessions_view

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def summary(i: int, task: str) -> SessionSummary:
    return SessionSummary(
        id=f"ses_{i:026d}",
        status=list(SessionStatus)[i % 6],
        task=task,
        model="replay:x",
        created_at=NOW - timedelta(seconds=i * 3701),
        updated_at=NOW,
        steps=i * 7 % 300,
        input_tokens=0,
        output_tokens=0,
        cost_usd=i * 0.0013,
        cost_known=i % 5 != 0,
        pending_approvals=i % 3,
        parent=ParentRef(session=f"ses_{i + 1:026d}", seq=i) if i % 4 == 0 else None,
        last_seq=i,
    )


SESSIONS = [
    summary(0, "fix the bug\nand more lines"),
    summary(1, "\x1b[31mred\x1b[0m and a bell \x07 from a model"),
    summary(2, "  "),
    summary(3, "ünïcödé task"),
    *(summary(i, f"task {i} " * (i % 4)) for i in range(4, 40)),
]


def printed(renderable: object, width: int) -> str:
    out = io.StringIO()
    console = Console(file=out, width=width, color_system=None, soft_wrap=True)
    console.print(renderable)
    return out.getvalue()


@pytest.mark.parametrize("width", [160, 200, 400])
def test_a_table_that_fits_is_printed_as_rich_prints_it(width: int) -> None:
    view = sessions_view(SESSIONS, NOW, width)
    assert isinstance(view, Text)  # the fast path was taken
    assert printed(view, width) == printed(sessions_table(SESSIONS, NOW), width)
    assert "\x1b" not in printed(view, width) and "\x07" not in printed(view, width)


def test_a_table_that_must_give_way_goes_to_rich() -> None:
    view = sessions_view(SESSIONS, NOW, 80)
    assert not isinstance(view, Text)
    # the narrow table: every column but the task whole, the task dropped first
    assert printed(view, 80) == printed(sessions_table(SESSIONS, NOW, width=80), 80)
