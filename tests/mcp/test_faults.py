"""A misbehaving server (FastMCP, written here) is an error result and a status line, never a stuck session."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from agentctl.protocol import SessionStatus
from store import DuckDBEventStore
from tests.support.mcp import FAULT_SERVER, add_server

from ..runtime.harness import call, create, final, settle, start_runtime, write_recording
from .test_host_servers import events

pytestmark = pytest.mark.asyncio


async def test_faults_become_results_and_status_lines(
    tmp_path: Path, fault_server: tuple[list[str], Path]
) -> None:
    command, log = fault_server
    add_server(
        name="faults", command=command, scope="host", env={"FAULT_LOG": str(log)}, timeout_s=3
    )
    store = DuckDBEventStore(tmp_path / "db.duckdb")
    rt = await start_runtime(store, output_cap=2000)
    recording = write_recording(
        tmp_path / "rec.jsonl",
        [
            call("mcp__faults__crash", {}, "f1"),
            call("mcp__faults__peek", {"text": "after the crash"}, "f2"),  # restarted on demand
            call("mcp__faults__hang", {}, "f3"),
            call("mcp__faults__bad_structured", {}, "f4"),
            call("mcp__faults__flood", {"lines": 5000}, "f5"),
            call("mcp__faults__record", {"text": "once"}, "f6"),
            final(),
        ],
    )
    try:
        started = time.monotonic()
        # Destructive by their hints, these would be asked for; the user's rule allows them.
        policy = tmp_path / "policy.toml"
        policy.write_text(
            'extends = "permissive"\n[[rule]]\ntool = "mcp__faults__*"\ntier = "allow"\n'
        )
        sid = await rt.create_session(create("faults", recording, policy=str(policy)))
        assert await settle(rt, sid) is SessionStatus.COMPLETED
        assert time.monotonic() - started < 60
        done = {e["call_id"]: e for e in events(rt, sid, "tool.finished")}
        assert done["f1"]["exit_code"] is None and "exited during crash" in done["f1"]["error"]
        assert done["f2"]["exit_code"] == 0 and "after the crash" in done["f2"]["output"]
        assert done["f3"]["timed_out"] and "timed out after 3 s" in done["f3"]["error"]
        assert "output schema" in (done["f4"]["error"] or ""), done["f4"]
        assert done["f5"]["truncated"] and len(done["f5"]["output"].encode()) <= 2000
        assert done["f5"]["artifact"]
        kept = rt.paths.artifacts / done["f5"]["artifact"]
        assert kept.read_text().count("\n") == 4999
        assert done["f6"]["exit_code"] == 0 and log.read_text() == "once\n"
        status = rt.mcp.status["faults"]
        assert status.faults >= 3 and status.calls == 6
        proposed = {e["call_id"]: e for e in events(rt, sid, "tool.proposed")}
        assert all(p["rule"].startswith("mcp__faults__*") for p in proposed.values())
    finally:
        await rt.stop()


async def test_a_server_that_does_not_start_is_recorded_and_the_session_goes_on(
    tmp_path: Path,
) -> None:
    add_server(name="broken", command=["/nonexistent/mcp-server"], scope="host")
    add_server(
        name="quits",
        command=[sys.executable, "-c", "import sys; sys.exit('bad config')"],
        scope="host",
    )
    store = DuckDBEventStore(tmp_path / "db.duckdb")
    rt = await start_runtime(store)
    recording = write_recording(
        tmp_path / "rec.jsonl", [call("mcp__broken__anything", {}, "b1"), final()]
    )
    try:
        sid = await rt.create_session(create("broken", recording))
        assert await settle(rt, sid) is SessionStatus.COMPLETED
        listed = {e["server"]: e for e in events(rt, sid, "mcp.listed")}
        assert "not started" in listed["broken"]["error"] and listed["broken"]["tools"] == []
        assert "bad config" in listed["quits"]["error"]  # its stderr is in the reason
        (finished,) = events(rt, sid, "tool.finished")
        assert "unknown tool" in finished["error"]
        assert rt.mcp.status["broken"].state == "failed"
    finally:
        await rt.stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_streamable_http_server_with_a_header_from_keys(
    tmp_path: Path, fault_server: tuple[list[str], Path]
) -> None:
    port = _free_port()
    env = {**os.environ, "FAULT_LOG": str(fault_server[1])}
    proc = subprocess.Popen([sys.executable, str(FAULT_SERVER), "http", str(port)], env=env)
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        store = DuckDBEventStore(tmp_path / "db.duckdb")
        rt = await start_runtime(store)
        rt.keys.set("faults-token", "s3cret-value-123")
        add_server(
            name="web",
            url=f"http://127.0.0.1:{port}/mcp",
            headers={"Authorization": "Bearer ${key:faults-token}"},
        )
        recording = write_recording(
            tmp_path / "rec.jsonl", [call("mcp__web__record", {"text": "over http"}, "h1"), final()]
        )
        try:
            policy = tmp_path / "policy.toml"
            policy.write_text('[[rule]]\ntool = "mcp__web__record"\ntier = "allow"\n')
            sid = await rt.create_session(create("http", recording, policy=str(policy)))
            assert await settle(rt, sid) is SessionStatus.COMPLETED
            (finished,) = events(rt, sid, "tool.finished")
            assert finished["exit_code"] == 0 and "over http" in finished["output"]
            everything: list[Any] = [e.data for e in rt.store.read_stream(sid)]
            assert "s3cret-value-123" not in repr(everything)
        finally:
            await rt.stop()
    finally:
        proc.terminate()
        proc.wait(10)
