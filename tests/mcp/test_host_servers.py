"""Real MCP servers on the host scope, through the whole step machine (in-process runtime)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agentctl.protocol import SessionStatus
from agentctl.runtime import Runtime
from store import DuckDBEventStore
from tests.support.mcp import add_server

from ..runtime.harness import call, create, final, settle, start_runtime, write_recording

pytestmark = pytest.mark.asyncio


def events(rt: Runtime, sid: str, type_: str) -> list[dict[str, Any]]:
    return [e.data for e in rt.store.read_stream(sid) if e.type == type_]


async def run_session(
    tmp_path: Path, responses: list[dict[str, Any]], **kwargs: Any
) -> tuple[Runtime, str]:
    store = DuckDBEventStore(tmp_path / "db.duckdb")
    rt = await start_runtime(store)
    recording = write_recording(tmp_path / "rec.jsonl", responses)
    sid = await rt.create_session(create("use mcp", recording, **kwargs))
    await settle(rt, sid)
    return rt, sid


async def test_everything_server_tools_are_listed_validated_and_called(
    tmp_path: Path, everything: list[str]
) -> None:
    add_server(name="everything", command=everything, scope="host")
    rt, sid = await run_session(
        tmp_path,
        [
            call("mcp__everything__echo", {"message": "hello"}, "c1"),
            call("mcp__everything__get-sum", {"a": "two", "b": 3}, "c2"),  # breaks the schema
            call("mcp__everything__get-sum", {"a": 2, "b": 3}, "c3"),
            call("mcp__everything__get-tiny-image", {}, "c4"),
            final(),
        ],
    )
    try:
        assert rt.journal.state(sid).status is SessionStatus.COMPLETED
        listed = events(rt, sid, "mcp.listed")
        assert [item["server"] for item in listed] == ["everything"]
        names = {t["name"] for t in listed[0]["tools"]}
        assert {"mcp__everything__echo", "mcp__everything__get-sum"} <= names
        assert listed[0]["protocol"]
        finished = {e["call_id"]: e for e in events(rt, sid, "tool.finished")}
        assert finished["c1"]["exit_code"] == 0 and "Echo: hello" in finished["c1"]["output"]
        assert "invalid arguments" in finished["c2"]["error"]
        assert "5" in finished["c3"]["output"]
        assert "artifact" in finished["c4"]["output"]
        started = events(rt, sid, "tool.started")
        assert {s["call_id"] for s in started} == {"c1", "c3", "c4"}  # c2 never reached it
        assert all(s["idempotent"] for s in started)  # readOnlyHint
        proposed = {e["call_id"]: e for e in events(rt, sid, "tool.proposed")}
        assert proposed["c1"]["tier"] == "allow"
        images = list((rt.paths.artifacts / sid).glob("*.png"))
        assert len(images) == 1 and images[0].read_bytes().startswith(b"\x89PNG")
        assert finished["c4"]["attachments"] == [f"{sid}/{images[0].name}"]  # named in the log
    finally:
        await rt.stop()


async def test_time_server_from_pypi(tmp_path: Path, time_server: list[str]) -> None:
    add_server(name="time", command=time_server, scope="host")
    rt, sid = await run_session(
        tmp_path,
        [call("mcp__time__get_current_time", {"timezone": "Europe/Paris"}, "t1"), final()],
    )
    try:
        assert rt.journal.state(sid).status is SessionStatus.COMPLETED
        (finished,) = events(rt, sid, "tool.finished")
        assert finished["exit_code"] == 0, finished
        assert "Europe/Paris" in finished["output"]
    finally:
        await rt.stop()


async def test_the_policy_wins_over_annotations(tmp_path: Path, everything: list[str]) -> None:
    add_server(name="everything", command=everything, scope="host")
    policy = tmp_path / "policy.toml"
    policy.write_text(
        'extends = "default"\n'
        '[[rule]]\ntool = "mcp__everything__*"\nargs = { message = "*secret*" }\ntier = "deny"\n'
    )
    rt, sid = await run_session(
        tmp_path,
        [
            call("mcp__everything__echo", {"message": "a secret"}, "d1"),
            call("mcp__everything__echo", {"message": "plain"}, "d2"),
            final(),
        ],
        policy=str(policy),
    )
    try:
        proposed = {e["call_id"]: e for e in events(rt, sid, "tool.proposed")}
        assert proposed["d1"]["tier"] == "deny"  # read-only by its hint, denied by the rule
        assert proposed["d2"]["tier"] == "allow" and proposed["d2"]["rule"].startswith("tool hint")
        finished = {e["call_id"]: e for e in events(rt, sid, "tool.finished")}
        assert "denied by policy" in finished["d1"]["error"]
        assert json.dumps(finished["d2"]["output"]).count("Echo: plain") == 1
    finally:
        await rt.stop()
