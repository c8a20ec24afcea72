"""A fixed daemon for rendering snapshots ONLY: the same sessions, events and clock every run.

Functional tests use the real daemon; a snapshot needs ids, times and
deadlines that never change, which a live daemon cannot give.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

from agentctl.errors import UsageError
from agentctl.protocol import (
    ApprovalContext,
    ApprovalView,
    DaemonStatus,
    Decide,
    Envelope,
    FileChange,
    ForkSession,
    Health,
    ParentRef,
    SessionStatus,
    SessionSummary,
    SessionTrace,
    TraceSpan,
    WorkspaceDiff,
)

NOW = datetime(2026, 11, 21, 21, 30, 0, tzinfo=UTC)
PARENT = "ses_01JD0000000000000000PARENT"
FORK = "ses_01JD00000000000000000FORK"
OTHER = "ses_01JD0000000000000000OTHER"

DIFF = """--- a/stats.py
+++ b/stats.py
@@ -1,3 +1,3 @@
 def mean(values):
-    return sum(values) / (len(values) - 1)
+    return sum(values) / len(values)
"""

OUTPUT = "\n".join(f"test_{i} ... ok" for i in range(1, 16)) + "\nFAILED (failures=1)\n"


def _summary(id_: str, status: SessionStatus, task: str, **kw: Any) -> SessionSummary:
    base: dict[str, Any] = dict(
        id=id_,
        status=status,
        task=task,
        model="replay:recordings/demo.jsonl",
        created_at=NOW - timedelta(minutes=5),
        updated_at=NOW,
        steps=3,
        input_tokens=2598,
        output_tokens=252,
        cost_usd=0.0123,
        pending_approvals=0,
        parent=None,
        last_seq=20,
    )
    base.update(kw)
    return SessionSummary(**base)


SESSIONS = [
    _summary(
        PARENT,
        SessionStatus.WAITING,
        "The tests fail. Find out why and fix it.",
        pending_approvals=1,
        last_seq=13,
        agent="fixer",
    ),
    _summary(
        OTHER,
        SessionStatus.WAITING,
        "Clean up the build folder",
        steps=1,
        cost_usd=0.001,
        pending_approvals=1,
    ),
    _summary(
        FORK,
        SessionStatus.COMPLETED,
        "The tests fail. Find out why and fix it.",
        parent=ParentRef(session=PARENT, seq=12),
        steps=4,
    ),
]

_RAW: list[tuple[str, dict[str, Any]]] = [
    (
        "session.created",
        {
            "task": "The tests fail. Find out why and fix it.",
            "model": "replay:recordings/demo.jsonl",
            "parent": None,
        },
    ),
    ("session.status", {"status": "running", "reason": "created"}),
    ("model.requested", {"attempt": 1}),
    (
        "model.responded",
        {
            "text": "Let me run the tests.",
            "tool_calls": [],
            "usage": {"input_tokens": 903, "output_tokens": 44},
            "latency_ms": 780,
        },
    ),
    (
        "tool.proposed",
        {
            "call_id": "c1",
            "name": "shell",
            "args": {"command": "python3 -m unittest -v"},
            "tier": "allow",
            "rule": "default",
        },
    ),
    (
        "tool.started",
        {"call_id": "c1", "name": "shell", "args": {"command": "python3 -m unittest -v"}},
    ),
    ("tool.finished", {"call_id": "c1", "exit_code": 1, "output": OUTPUT, "duration_ms": 412}),
    ("checkpoint.created", {"image": "agentctl-ckpt:parent-7", "parent_checkpoint": None}),
    ("model.requested", {"attempt": 1}),
    (
        "model.responded",
        {
            "text": "mean() divides by len - 1; I'll fix it.",
            "tool_calls": [],
            "usage": {"input_tokens": 1187, "output_tokens": 109},
            "latency_ms": 1400,
        },
    ),
    (
        "tool.proposed",
        {
            "call_id": "c2",
            "name": "edit_file",
            "args": {"path": "stats.py"},
            "tier": "ask",
            "rule": "default preset: writes ask",
        },
    ),
    (
        "approval.requested",
        {
            "approval_id": "apr_01JD000000000000000000FIX",
            "call_id": "c2",
            "name": "edit_file",
            "args": {"path": "stats.py"},
            "tier": "ask",
            "context": {"diff": DIFF},
            "expires_at": "2026-11-21T21:34:32Z",
        },
    ),
    ("session.status", {"status": "waiting", "reason": "approval apr_01JD000000000000000000FIX"}),
]

EVENTS = [
    Envelope(
        session=PARENT, seq=i, offset=i, ts=NOW - timedelta(seconds=60 - 4 * i), type=t, data=d
    )
    for i, (t, d) in enumerate(_RAW, start=1)
]

APPROVALS = [
    ApprovalView(
        id="apr_01JD000000000000000000FIX",
        session=PARENT,
        call_id="c2",
        tool="edit_file",
        args={
            "path": "stats.py",
            "old": "return sum(values) / (len(values) - 1)",
            "new": "return sum(values) / len(values)",
        },
        tier="ask",
        rule="default preset: writes ask",
        context=ApprovalContext(
            last_message="mean() divides by len - 1; I'll fix it.",
            diff=DIFF,
            rule="default preset: writes ask",
        ),
        requested_at=NOW - timedelta(seconds=28),
        expires_at=NOW + timedelta(minutes=4, seconds=32),
        on_expiry="deny",
        seq=12,
    ),
    ApprovalView(
        id="apr_01JD00000000000000000RMRF",
        session=OTHER,
        call_id="c1",
        tool="shell",
        args={"command": "rm -rf build/"},
        tier="ask",
        rule="default preset: shell asks",
        context=ApprovalContext(
            last_message="I'll remove the build folder.", rule="default preset: shell asks"
        ),
        requested_at=NOW - timedelta(seconds=5),
        expires_at=None,
        on_expiry="deny",
        seq=6,
    ),
]


class StubClient:
    """Serves the fixed data above; streams end in a wait, like a quiet live follow."""

    async def health(self) -> Health:
        return Health(version="0.1.0")

    async def status(self) -> DaemonStatus:
        return DaemonStatus(
            pid=1,
            version="0.1.0",
            socket="/run/agentctl.sock",
            database="events.duckdb",
            uptime_s=1.0,
            sessions={},
            last_offset=len(EVENTS),
        )

    async def sessions(self, status: str | None = None) -> list[SessionSummary]:
        return list(SESSIONS)

    async def session(self, session_id: str) -> SessionSummary:
        return next(s for s in SESSIONS if s.id == session_id)

    async def _stream(self, events: list[Envelope]) -> AsyncIterator[Envelope]:
        for e in events:
            yield e
        await asyncio.Event().wait()

    def events(
        self,
        session_id: str,
        after: int = 0,
        follow: bool = False,
        *,
        until_end: bool = False,
        live: bool = False,
        limit: int | None = None,
    ) -> AsyncIterator[Envelope]:
        events = [e for e in EVENTS if e.session == session_id and e.seq > after]
        if limit is not None:
            return self._page(events[:limit])
        return self._stream(events)

    async def _page(self, events: list[Envelope]) -> AsyncIterator[Envelope]:
        for e in events:
            yield e

    def all_events(self, after: int = 0, follow: bool = False) -> AsyncIterator[Envelope]:
        return self._stream([e for e in EVENTS if e.offset > after])

    async def cancel(self, session_id: str, reason: str | None = None) -> None:
        return None

    async def fork(self, session_id: str, req: ForkSession) -> SessionSummary:
        raise UsageError(
            f"seq {req.at} of {session_id} is inside a step (a tool call and its result, "
            "or a write not yet checkpointed) (nearest valid points: 4 (before), 8 (after))"
        )

    async def approvals(self, session: str | None = None) -> list[ApprovalView]:
        return list(APPROVALS)

    async def decide(self, approval_id: str, req: Decide) -> Envelope:
        return EVENTS[-1]

    async def diff(
        self, session_id: str, at: int | None = None, stat: bool = False
    ) -> WorkspaceDiff:
        patch = (
            "diff --git a/app.py b/app.py\n--- a/app.py\n+++ b/app.py\n"
            "@@ -1,2 +1,2 @@\n print('hello')\n-print('world')\n+print('\x1b[2Jagentctl')\n"
        )
        return WorkspaceDiff(
            session=session_id,
            at=None,
            source="container",
            files=[
                FileChange(path="app.py", status="modified", additions=1, deletions=1, patch=patch),
                FileChange(
                    path="logo.png",
                    status="added",
                    new_mode="100644",
                    binary=True,
                    patch="diff --git a/logo.png b/logo.png\nnew file mode 100644\n"
                    "Binary files /dev/null and b/logo.png differ\n",
                ),
            ],
            additions=1,
            deletions=1,
        )

    async def create_session(self, req: Any) -> SessionSummary:
        raise UsageError("the stub daemon starts no session")

    async def resume(self, session_id: str, req: Any = None) -> None:
        return None

    async def trace(self, session_id: str) -> SessionTrace:
        spans = [
            TraceSpan(
                kind="model",
                name="replay",
                step=1,
                start_s=0.0,
                duration_s=1.2,
                seq_start=3,
                seq_end=4,
            ),
            TraceSpan(
                kind="approval",
                name="shell\x1b[2J",
                step=1,
                start_s=1.2,
                duration_s=30.0,
                seq_start=5,
                seq_end=6,
            ),
            TraceSpan(
                kind="tool",
                name="shell",
                step=1,
                start_s=31.2,
                duration_s=0.8,
                seq_start=7,
                seq_end=8,
            ),
        ]
        return SessionTrace(
            session=session_id,
            status=SessionStatus.WAITING,
            model="replay:demo",
            started_at=NOW - timedelta(seconds=32),
            ended_at=NOW,
            wall_s=32.0,
            seconds={"model": 1.2, "approval": 30.0, "tool": 0.8},
            steps=[],
            spans=spans,
        )

    async def aclose(self) -> None:
        return None
