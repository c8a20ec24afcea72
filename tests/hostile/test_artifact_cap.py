"""What the host keeps of one session's outputs is capped; past the cap the result says so."""

from __future__ import annotations

from pathlib import Path

from agentctl.protocol import SessionStatus
from store import DuckDBEventStore
from tests.runtime.harness import create, settle, start_runtime, write_recording

FLOOD = "head -c 200000 /dev/zero | tr '\\0' a"


async def test_a_session_keeps_at_most_its_artifact_cap(
    tmp_path: Path, sessions_cleanup: list[str]
) -> None:
    calls = [{"id": f"c{i}", "name": "shell", "args": {"command": FLOOD}} for i in range(4)]
    recording = write_recording(
        tmp_path / "r.jsonl", [{"text": "", "tool_calls": calls}, {"text": "done"}]
    )
    with DuckDBEventStore(tmp_path / "events.duckdb") as store:
        rt = await start_runtime(store, artifact_cap=500_000)
        try:
            sid = await rt.create_session(create("flood", recording, image=None))
            sessions_cleanup.append(sid)
            assert await settle(rt, sid) is SessionStatus.COMPLETED
            finished = [e.data for e in store.read_stream(sid) if e.type == "tool.finished"]
        finally:
            await rt.stop()
    assert [f["artifact"] is not None for f in finished] == [True, True, False, False]
    assert "this session's kept outputs reached their 500000 byte cap" in finished[2]["output"]
    kept = list((rt.paths.artifacts / sid).iterdir())
    assert len(kept) == 2 and sum(p.stat().st_size for p in kept) == 400_000
