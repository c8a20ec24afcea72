"""Helpers for runtime tests: recordings written on the fly, an in-process runtime, waiting."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from agentctl.paths import get_paths
from agentctl.protocol import CreateSession, SessionStatus
from agentctl.runtime import Runtime
from agentctl.tools import Tool, ToolContext, ToolOutcome, ToolRegistry, default_registry
from store import EventStore


def write_recording(path: Path, responses: Sequence[dict[str, Any]]) -> Path:
    lines = [json.dumps({"format": "agentctl-recording", "version": 1})]
    lines += [
        json.dumps({"usage": {"input_tokens": 10, "output_tokens": 5}, **r}) for r in responses
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def call(
    name: str, args: dict[str, Any] | str, call_id: str | None = None, text: str = ""
) -> dict[str, Any]:
    return {
        "text": text,
        "tool_calls": [{"id": call_id or f"c_{name}", "name": name, "args": args}],
    }


def final(text: str = "done") -> dict[str, Any]:
    return {"text": text, "tool_calls": []}


class NoopArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    n: int = 0


class Counter:
    """An in-process, non-idempotent tool that counts its executions (side effects)."""

    def __init__(self) -> None:
        self.runs: list[int] = []

    def tool(self, name: str = "count", idempotent: bool = False) -> Tool:
        def run(ctx: ToolContext, args: NoopArgs) -> ToolOutcome:
            self.runs.append(args.n)
            return ToolOutcome(exit_code=0, output=f"ran {args.n}")

        return Tool(
            name,
            "count a side effect",
            NoopArgs,
            idempotent=idempotent,
            run=run,
            needs_sandbox=False,
        )


def registry(*tools: Tool) -> ToolRegistry:
    reg = default_registry()
    for tool in tools:
        reg.register(tool)
    return reg


async def start_runtime(
    store: EventStore, tools: ToolRegistry | None = None, **kwargs: Any
) -> Runtime:
    from agentctl.providers.retry import RetryPolicy

    kwargs.setdefault(
        "retry_policy", RetryPolicy(max_attempts=3, base_delay_s=0.01, max_delay_s=0.05)
    )
    rt = Runtime(store, paths=get_paths().ensure(), tools=tools, **kwargs)
    await rt.start()
    return rt


async def settle(rt: Runtime, sid: str, timeout: float = 60.0) -> SessionStatus:
    """Wait until the session's actor stops; its status then."""

    async def loop() -> SessionStatus:
        while True:
            await rt.wait_idle(sid)
            await asyncio.sleep(0)
            task = rt._tasks.get(sid)
            if task is None or task.done():
                status = rt.journal.state(sid).status
                assert status is not None
                return status

    return await asyncio.wait_for(loop(), timeout)


def create(task: str, recording: Path, **kwargs: Any) -> CreateSession:
    kwargs.setdefault("image", "none")
    kwargs.setdefault("policy", "permissive")
    return CreateSession(task=task, model=f"replay:{recording}", **kwargs)


def types(rt: Runtime, sid: str) -> list[str]:
    return [e.type for e in rt.store.read_stream(sid)]


def appending_lines(path: Path, steps: int, *, long_output: bool = False) -> Path:
    """A recording whose steps each append `line-i` to /workspace/log.txt (a side effect
    that must happen exactly once) and read the file back (idempotent); then, with
    `long_output`, a call printing more than the output cap (kept as an artifact); then a
    `cat` of the file (call id "cat"), and a final answer."""
    lines: list[dict[str, Any]] = [{"format": "agentctl-recording", "version": 1}]
    for i in range(1, steps + 1):
        append = {"command": f"echo line-{i} >> /workspace/log.txt"}
        lines.append(
            {
                "text": f"step {i}",
                "tool_calls": [
                    {"id": f"w{i}", "name": "shell", "args": append},
                    {"id": f"r{i}", "name": "read_file", "args": {"path": "log.txt"}},
                ],
                "usage": {"input_tokens": 10, "output_tokens": 5},
            }
        )
    if long_output:
        big = {"id": "big", "name": "shell", "args": {"command": "seq 1 30000"}}
        lines.append({"text": "long output", "tool_calls": [big]})
    cat = {"id": "cat", "name": "shell", "args": {"command": "cat /workspace/log.txt"}}
    lines.append({"text": "show", "tool_calls": [cat]})
    lines.append({"text": "done", "tool_calls": []})
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    return path
