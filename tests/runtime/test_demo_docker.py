"""The demo scenario, in-process, in the real default sandbox image."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from agentctl.protocol import CreateSession, Decide, SessionStatus
from store import DuckDBEventStore

from .harness import settle, start_runtime

if TYPE_CHECKING:
    import docker

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.docker


async def test_demo_needs_one_approval_then_fixes_the_test(
    tmp_path: Path, docker_client: object
) -> None:
    store = DuckDBEventStore(tmp_path / "events.duckdb")
    rt = await start_runtime(store)
    sid = await rt.create_session(
        CreateSession(
            task="The tests fail. Fix it.",
            model=f"replay:{ROOT / 'recordings/demo.jsonl'}",
            workspace=str(ROOT / "recordings/demo/workspace"),
        )
    )
    try:
        assert await settle(rt, sid, 120) is SessionStatus.WAITING
        pending = rt.approvals(sid)
        assert [a.tool for a in pending] == ["edit_file"]
        assert "-    return sum(values) / (len(values) - 1)" in (pending[0].context.diff or "")
        await rt.decide(pending[0].id, Decide(decision="approve", approver="tester"))
        assert await settle(rt, sid, 120) is SessionStatus.COMPLETED
        events = store.read_stream(sid)
        finished = [e.data for e in events if e.type == "tool.finished"]
        tests_runs = [d for d in finished if "Ran 3 tests" in d["output"]]
        assert [d["exit_code"] for d in tests_runs] == [1, 0]
        assert any(e.type == "checkpoint.created" and e.data["image"] for e in events)
        # the host folder was copied, not mounted: it still has the bug
        assert "(len(values) - 1)" in (ROOT / "recordings/demo/workspace/stats.py").read_text()
    finally:
        await rt.stop()
        store.close()


async def test_a_container_removed_behind_our_back_is_restored_from_its_checkpoint(
    tmp_path: Path, docker_client: docker.DockerClient
) -> None:
    from agentctl.protocol import Budget, ResumeSession

    from .harness import call, final, write_recording

    rec = write_recording(
        tmp_path / "r.jsonl",
        [
            call("write_file", {"path": "notes.txt", "content": "kept\n"}, "w"),
            call("shell", {"command": "cat notes.txt"}, "cat"),
            final(),
        ],
    )
    store = DuckDBEventStore(tmp_path / "events.duckdb")
    rt = await start_runtime(store)
    sid = await rt.create_session(
        CreateSession(
            task="t", model=f"replay:{rec}", policy="permissive", budget=Budget(max_steps=1)
        )
    )
    try:
        assert (
            await settle(rt, sid, 120) is SessionStatus.PAUSED
        )  # after the write and its checkpoint
        container = rt.journal.state(sid).container
        docker_client.containers.get(container).remove(force=True)
        rt.sandboxes.live.clear()  # as after a daemon restart
        await rt.resume(sid, ResumeSession(budget=Budget(max_steps=5)))
        assert await settle(rt, sid, 120) is SessionStatus.COMPLETED
        events = store.read_stream(sid)
        restored = [e.data for e in events if e.type == "sandbox.restored"]
        checkpoints = [e.data["image"] for e in events if e.type == "checkpoint.created"]
        assert restored and restored[0]["image"] == checkpoints[0]
        [cat] = [e.data for e in events if e.type == "tool.finished" and e.data["call_id"] == "cat"]
        assert cat["output"] == "kept\n"
    finally:
        await rt.stop()
        store.close()
