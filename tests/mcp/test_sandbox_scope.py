"""A stdio MCP server in the session's sandbox: the npm filesystem server, run with `docker exec -i`.

It sees the workspace copy in the container and nothing of the host: what
it writes is in the sandbox (the shell tool sees it), not in the user's
folder; a path outside the folder it was given is refused by the server.
Node.js is in the default image; the server's package is copied in with
the workspace (its image has no network to fetch it).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from agentctl.protocol import SessionStatus
from store import DuckDBEventStore
from tests.support.mcp import add_server

from ..runtime.harness import call, create, final, settle, start_runtime, write_recording
from .test_host_servers import events

pytestmark = [pytest.mark.asyncio, pytest.mark.docker]


async def test_filesystem_server_runs_inside_the_sandbox(
    tmp_path: Path, filesystem_server: Path, docker_client: Any, sessions_cleanup: list[str]
) -> None:
    workspace = tmp_path / "ws"
    (workspace / "project").mkdir(parents=True)
    (workspace / "project" / "notes.txt").write_text("hello from the workspace\n")
    package_root = filesystem_server.parents[3]  # node_modules
    shutil.copytree(package_root, workspace / ".mcp" / "node_modules", symlinks=True)
    inside = "/workspace/.mcp/node_modules/@modelcontextprotocol/server-filesystem/dist/index.js"
    add_server(name="fs", command=["node", inside, "/workspace/project"])  # scope: sandbox
    policy = tmp_path / "policy.toml"
    policy.write_text('extends = "permissive"\n[[rule]]\ntool = "mcp__fs__*"\ntier = "allow"\n')
    recording = write_recording(
        tmp_path / "rec.jsonl",
        [
            call("mcp__fs__read_text_file", {"path": "/workspace/project/notes.txt"}, "s1"),
            call(
                "mcp__fs__write_file",
                {"path": "/workspace/project/new.txt", "content": "written in the sandbox"},
                "s2",
            ),
            call(
                "shell",
                {
                    "command": "cat /workspace/project/new.txt; echo; ps -eo args | grep -c '[s]erver-filesystem'"
                },
                "s3",
            ),
            call("mcp__fs__read_text_file", {"path": "/etc/hostname"}, "s4"),
            final(),
        ],
    )
    store = DuckDBEventStore(tmp_path / "db.duckdb")
    rt = await start_runtime(store)
    try:
        sid = await rt.create_session(
            create("fs", recording, image=None, workspace=str(workspace), policy=str(policy))
        )
        sessions_cleanup.append(sid)
        assert await settle(rt, sid, timeout=180) is SessionStatus.COMPLETED
        (listed,) = events(rt, sid, "mcp.listed")
        assert listed["scope"] == "sandbox" and listed["error"] is None, listed
        done = {e["call_id"]: e for e in events(rt, sid, "tool.finished")}
        assert "hello from the workspace" in done["s1"]["output"]
        assert done["s2"]["exit_code"] == 0, done["s2"]
        lines = done["s3"]["output"].splitlines()
        assert lines[0] == "written in the sandbox" and int(lines[1]) >= 1  # the server is in there
        assert done["s4"]["exit_code"] == 1 and "denied" in done["s4"]["output"].lower()
        assert not (workspace / "project" / "new.txt").exists()  # the host folder is untouched
    finally:
        await rt.stop()
