"""MCP tool call overhead: through agentctl vs the same call made directly with the SDK client.

The server is the npm reference server `server-everything` (its `echo` tool),
on the host scope, started once per side; both sides run in this process, in
the same run, alternating in rounds so that drift hits both alike:

- direct_us: `Client.call_tool("echo", …)` of the official SDK on its own
  connection (what any MCP client pays);
- agentctl_us: the same call as the step machine makes it: the registry's
  schema check of the arguments (jsonschema), the tool's `arun`, the hub
  (its status line, the session's connection), the SDK call, and the result
  made a tool outcome (capped text); ratio = agentctl_us / direct_us, target <= 1.2;
- step_us: for scale, one whole durable step per call in a real session
  (replayed model response committed, policy, `tool.proposed`/`tool.started`/
  `tool.finished` in DuckDB, the call): what a call costs end to end.

A readable summary goes to stderr; the last stdout line is one JSON object.
Needs `make mcp` (the npm servers under ~/.cache/agentctl/mcp-npm).
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CALLS = 300
ROUNDS = 9
TARGET_RATIO = 1.2
NPM = Path(os.environ.get("AGENTCTL_MCP_NPM", "~/.cache/agentctl/mcp-npm")).expanduser()
EVERYTHING = NPM / "node_modules/@modelcontextprotocol/server-everything/dist/index.js"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


async def main() -> dict[str, object]:
    if not EVERYTHING.is_file():
        sys.exit(f"{EVERYTHING} is missing: run `make mcp`")
    home = Path(tempfile.mkdtemp(prefix="agentctl-bench-mcp-"))
    os.environ["AGENTCTL_HOME"] = str(home)

    from mcp import Client
    from mcp.client.stdio import StdioServerParameters, stdio_client

    from agentctl.mcp.config import ServerConfig, ServerStore
    from agentctl.paths import get_paths
    from agentctl.protocol import Budget, CreateSession
    from agentctl.runtime import Runtime
    from agentctl.tools import ToolContext
    from store import DuckDBEventStore

    command = ["node", str(EVERYTHING), "stdio"]
    paths = get_paths().ensure()
    ServerStore(paths.config).add(ServerConfig(name="everything", command=command, scope="host"))
    args = {"message": "hello"}

    # A session of CALLS echo calls: its listing gives the tool; its wall time the step cost.
    recording = home / "rec.jsonl"
    lines = [{"format": "agentctl-recording", "version": 1}]
    lines += [
        {
            "text": "",
            "tool_calls": [
                {"id": f"c{i}", "name": "mcp__everything__echo", "args": {"message": f"m{i}"}}
            ],
        }
        for i in range(CALLS)  # arguments differ call to call: the loop guard stays out of it
    ]
    lines.append({"text": "done", "tool_calls": []})
    recording.write_text("\n".join(json.dumps(x) for x in lines) + "\n")

    store = DuckDBEventStore(paths.database)
    rt = Runtime(store, paths=paths)
    await rt.start()
    started = time.perf_counter()
    sid = await rt.create_session(
        CreateSession(
            task="bench",
            model=f"replay:{recording}",
            image="none",
            policy="default",
            budget=Budget(max_steps=CALLS + 10),
        )
    )
    while (
        rt.journal.state(sid).status is not None and rt.journal.state(sid).status.value == "running"
    ):
        await rt.wait_idle(sid)
        await asyncio.sleep(0)
        task = rt._tasks.get(sid)
        if task is None or task.done():
            break
    wall = time.perf_counter() - started
    state = rt.journal.state(sid)
    assert state.status is not None and state.status.value == "completed", state.status
    step_us = wall / CALLS * 1e6

    registry = rt.tools_for(state)
    name = "mcp__everything__echo"
    ctx = ToolContext(session_id=sid, sandbox=None, call_id="bench", call_key=f"{sid}:bench:1")

    async def through_agentctl() -> None:
        tool, parsed = registry.validate(name, args)
        assert tool.arun is not None
        outcome = await tool.arun(ctx, parsed)
        assert outcome.exit_code == 0, outcome

    # The direct client's server writes its stderr to a file too, as agentctl's does.
    errlog = (home / "direct-stderr.log").open("w")
    params = StdioServerParameters(command=command[0], args=command[1:])
    direct_client = Client(stdio_client(params, errlog=errlog), cache=None)
    async with direct_client as client:

        async def direct() -> None:
            result = await client.call_tool("echo", args)
            assert not result.is_error

        for _ in range(50):  # warm both: the agentctl side starts its connection here
            await direct()
            await through_agentctl()
        conn = rt.mcp._conns[(sid, "everything")]
        assert conn._client is not None
        own = conn._client

        async def same_connection() -> None:  # the SDK call alone, on agentctl's connection
            result = await own.call_tool("echo", args)
            assert not result.is_error

        direct_rounds: list[float] = []
        agentctl_rounds: list[float] = []
        own_rounds: list[float] = []
        sides = [
            (direct, direct_rounds),
            (through_agentctl, agentctl_rounds),
            (same_connection, own_rounds),
        ]
        for round_ in range(ROUNDS):
            for fn, into in sides[round_ % 3 :] + sides[: round_ % 3]:  # each goes first in turn
                t0 = time.perf_counter()
                for _ in range(CALLS):
                    await fn()
                into.append((time.perf_counter() - t0) / CALLS * 1e6)
    await rt.stop()
    store.close()

    own_us = statistics.median(own_rounds)
    direct_us = statistics.median(direct_rounds)
    agentctl_us = statistics.median(agentctl_rounds)
    ratio = agentctl_us / direct_us
    log(f"MCP echo on server-everything (host stdio), {CALLS} calls x {ROUNDS} rounds")
    log(f"  direct SDK call_tool    {direct_us:9.1f} us/call")
    log(
        f"  through agentctl        {agentctl_us:9.1f} us/call  ratio {ratio:.3f} (target <= {TARGET_RATIO})"
    )
    log(
        f"  SDK call on agentctl's  {own_us:9.1f} us/call  (its server process and connection, no agentctl code)"
    )
    log(f"  whole durable step      {step_us:9.1f} us/call  ({step_us / direct_us:.1f}x the call)")
    return {
        "direct_us": round(direct_us, 1),
        "agentctl_us": round(agentctl_us, 1),
        "ratio": round(ratio, 3),
        "target_ratio": TARGET_RATIO,
        "meets_target": ratio <= TARGET_RATIO,
        "same_connection_us": round(own_us, 1),
        "step_us": round(step_us, 1),
        "calls": CALLS,
        "rounds": ROUNDS,
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main())))
