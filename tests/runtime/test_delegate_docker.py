"""`delegate` with `sandbox: fork`: the child starts from a copy of the parent's files at its
latest checkpoint, in a real Docker sandbox, and what the child changes stays the child's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agentctl.protocol import CreateSession
from store import DuckDBEventStore

from .harness import call, final, start_runtime
from .test_delegate import child_of, events, profile, until


@pytest.mark.docker
async def test_a_forked_child_sees_the_parents_files_and_changes_only_its_own(
    tmp_path: Path, docker_client: Any, sessions_cleanup: list[str]
) -> None:
    from sandboxes import ensure_default_image

    image = ensure_default_image()
    profile(
        "worker",
        [
            call("shell", {"command": "cat note.txt && echo from-child > child.txt"}),
            final("read it"),
        ],
        extra='tools = ["shell"]',
    )
    profile(
        "boss",
        [
            call("shell", {"command": "echo from-parent > note.txt"}, call_id="s0"),
            call("delegate", {"task": "read", "profile": "worker", "sandbox": "fork"}, "d1"),
            call("shell", {"command": "cat child.txt || echo absent"}, call_id="s2"),
            final("done"),
        ],
        extra='tools = ["shell", "delegate"]',
    )
    rt = await start_runtime(DuckDBEventStore(tmp_path / "events.duckdb"))
    sid = await rt.create_session(CreateSession(task="fork a child", agent="boss", image=image))
    sessions_cleanup.append(sid)
    child = await child_of(rt, sid)
    sessions_cleanup.append(child)
    assert (await until(rt, sid)).value == "completed"
    [checkpoint] = [d["image"] for d in events(rt, sid, "checkpoint.created")][:1]
    created = events(rt, child, "session.created")[0]
    assert created["sandbox"]["image"] == checkpoint  # the parent's files at its checkpoint
    [read] = events(rt, child, "tool.finished")
    assert read["exit_code"] == 0 and "from-parent" in read["output"]
    [after] = [d for d in events(rt, sid, "tool.finished") if d["call_id"] == "s2"]
    assert after["output"].endswith("absent\n")  # the child's write is not the parent's
    await rt.stop()
