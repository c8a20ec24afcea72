from __future__ import annotations

from pathlib import Path

from agentctl.protocol import SessionStatus
from store import InMemoryEventStore

from .harness import (
    Counter,
    call,
    create,
    final,
    registry,
    settle,
    start_runtime,
    types,
    write_recording,
)


async def test_noop_session_completes_with_write_ahead_order(tmp_path: Path) -> None:
    counter = Counter()
    rec = write_recording(
        tmp_path / "r.jsonl", [call("count", {"n": 1}), call("count", {"n": 2}), final()]
    )
    store = InMemoryEventStore()
    rt = await start_runtime(store, registry(counter.tool()))
    sid = await rt.create_session(create("count twice", rec))
    assert await settle(rt, sid) is SessionStatus.COMPLETED
    assert counter.runs == [1, 2]
    assert types(rt, sid) == [
        "session.created",
        "session.status",
        "model.requested",
        "model.responded",
        "tool.proposed",
        "tool.started",
        "tool.finished",
        "checkpoint.created",
        "model.requested",
        "model.responded",
        "tool.proposed",
        "tool.started",
        "tool.finished",
        "checkpoint.created",
        "model.requested",
        "model.responded",
        "session.status",
    ]
    await rt.stop()
