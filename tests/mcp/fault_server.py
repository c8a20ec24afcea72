"""An MCP server for fault injection, written with the SDK's MCPServer (FastMCP).

    python tests/mcp/fault_server.py [stdio | http PORT]

Beside the real servers the tests use (the npm reference servers, the PyPI
time server), this one misbehaves on purpose, one tool per fault: it exits
mid-call, hangs, breaks its own output schema, floods its output. `record`
and `wait_then_record` are its side effects: each appends a line to the file
named by FAULT_LOG, so a test counts how often a call really ran.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Annotated

from mcp.server.mcpserver import AcceptedElicitation, Elicit, ElicitationResult, MCPServer, Resolve
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel

server = MCPServer("faults")
LOG = Path(os.environ.get("FAULT_LOG", "/tmp/fault-server.log"))


def _append(text: str) -> None:
    with LOG.open("a") as handle:
        handle.write(text + "\n")


@server.tool(annotations=ToolAnnotations(read_only_hint=True))
def peek(text: str) -> str:
    """Return the text (read-only)."""
    return f"peek: {text}"


@server.tool(annotations=ToolAnnotations(read_only_hint=False, destructive_hint=True))
def record(text: str) -> str:
    """Append a line to the log (a side effect)."""
    _append(text)
    return f"recorded {text}"


@server.tool(annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False))
def wait_then_record(text: str, gate: str) -> str:
    """Announce the call in the log, wait until the file `gate` exists, then record."""
    _append(f"started {text} pid={os.getpid()}")
    while not Path(gate).exists():
        time.sleep(0.02)
    _append(text)
    return f"recorded {text}"


@server.tool()
def crash() -> str:
    """Exit the process in the middle of the call."""
    os._exit(3)


@server.tool(annotations=ToolAnnotations(read_only_hint=True))
def hang() -> str:
    """Never answer."""
    while True:
        time.sleep(1)


class Weather(BaseModel):
    temperature: float
    city: str


@server.tool(annotations=ToolAnnotations(read_only_hint=True), structured_output=False)
def bad_structured() -> CallToolResult:
    """Claims to return Weather; returns something else, past the server's own check."""
    return CallToolResult(
        content=[TextContent(type="text", text="hot")], structured_content={"temperature": "hot"}
    )


# The listing promises Weather; the tool (above) is not held to it by the server.
_bad_structured = server._tool_manager.get_tool("bad_structured")
assert _bad_structured is not None
_bad_structured.fn_metadata.output_schema = Weather.model_json_schema()


@server.tool(annotations=ToolAnnotations(read_only_hint=True))
def flood(lines: int) -> str:
    """Return `lines` lines of output."""
    return "\n".join(f"line {i} " + "x" * 60 for i in range(lines))


class Answer(BaseModel):
    answer: str


def _ask_user(question: str) -> Elicit[Answer]:
    return Elicit(question, Answer)


@server.tool()
def ask(question: str, answer: Annotated[ElicitationResult[Answer], Resolve(_ask_user)]) -> str:
    """Ask the user a question through the client (elicitation: a request mid-call on
    2025-11-25, an input-required result on 2026-07-28; the SDK picks)."""
    if isinstance(answer, AcceptedElicitation):
        _append(f"answer {answer.data.answer}")
        return f"the user answered {answer.data.answer}"
    return f"the user did not answer ({answer.action})"


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "http":
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        server.run("stdio")
