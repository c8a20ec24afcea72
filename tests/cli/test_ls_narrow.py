"""`agentctl ls` in a narrow terminal: STATUS stays whole, the task gives way first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rich.console import Console

from agentctl.protocol import ParentRef, SessionStatus, SessionSummary
from agentctl.render import sessions_table

NOW = datetime(2026, 11, 21, 21, 30, tzinfo=UTC)


def summary(id_: str, status: SessionStatus, parent: ParentRef | None = None) -> SessionSummary:
    return SessionSummary(
        id=id_,
        status=status,
        task="The tests fail. Find out why and fix it.",
        model="replay:x",
        created_at=NOW - timedelta(minutes=5),
        updated_at=NOW,
        steps=3,
        input_tokens=1,
        output_tokens=1,
        cost_usd=0.0123,
        pending_approvals=1 if status is SessionStatus.WAITING else 0,
        parent=parent,
        last_seq=9,
    )


SESSIONS = [
    summary("ses_01JD0000000000000000PARENT", SessionStatus.WAITING),
    summary(
        "ses_01JD00000000000000000FORK",
        SessionStatus.COMPLETED,
        ParentRef(session="ses_01JD0000000000000000PARENT", seq=12),
    ),
]


def shown(width: int) -> list[str]:
    console = Console(width=width, record=True, color_system=None)
    console.print(sessions_table(SESSIONS, NOW, width=width))
    return console.export_text().splitlines()


def test_wide_shows_every_column_and_the_whole_task() -> None:
    lines = shown(160)
    assert "TASK" in lines[0] and "STATUS" in lines[0]
    assert "The tests fail. Find out why and fix it." in lines[1]
    assert "ses_01JD0000000000000000PARENT@12" in lines[2]


def test_narrow_drops_the_task_first_and_keeps_status_whole() -> None:
    medium = shown(100)  # room for some of the task: it is cut, nothing else is
    assert "TASK" in medium[0] and " completed " in medium[2] and "…00PARENT@12" in medium[2]
    for width in (70, 80):
        lines = shown(width)
        assert "TASK" not in lines[0], width
        assert " waiting " in lines[1] and " completed " in lines[2], width
        assert "ses_01JD0000000000000000PARENT " in lines[1], width  # ids whole
        assert all(len(line) <= width for line in lines)
