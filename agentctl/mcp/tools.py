"""MCP tools as agentctl tools: their recorded specs, and their results as tool outcomes.

A session records each server's listing (`mcp.listed`) as `McpToolSpec`s: the
name the model sees (`mcp__SERVER__TOOL`), the JSON schemas, and what the
annotations say. Annotations are hints from a server nobody vetted: they
seed the tool's idempotency and its tier for a call no policy rule matches
(`readOnlyHint` → idempotent and `allow`; otherwise `ask`), and the user's
policy always wins.

A result becomes one text output with the built-in shell's cap: text parts
in order, structured content as JSON, images, audio and binary resources
kept as files in the session's artifacts (named from runtime ids, never the
server's), links and text resources inline.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from agentctl.jsonschemas import best_error, schema_error, validator_of
from agentctl.tools import SchemaArgs, Tool, ToolContext, ToolOutcome, cap_output

if TYPE_CHECKING:  # the SDK's types load in a quarter second: only where a server is spoken to
    import mcp_types as types

PREFIX = "mcp__"
# What a model provider takes as a tool name (OpenAI's rule, the strictest).
_TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_DESCRIPTION = 4096
MAX_SCHEMA_BYTES = 64 * 1024
_EXTENSIONS = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "audio/wav": ".wav",
    "audio/mpeg": ".mp3",
    "application/pdf": ".pdf",
    "application/gzip": ".gz",
}


class McpToolSpec(BaseModel):
    """One MCP tool as a session recorded it."""

    name: str  # mcp__SERVER__TOOL
    server: str
    tool: str  # the server's own name for it
    description: str = ""
    input_schema: dict[str, Any] = Field(default_factory=lambda: {"type": "object"})
    output_schema: dict[str, Any] | None = None
    read_only: bool = False
    destructive: bool = True
    idempotent: bool = False  # as agentctl treats it: run again after a crash
    hint: str = "ask"  # the tier the annotations seed


def full_name(server: str, tool: str) -> str:
    return f"{PREFIX}{server}__{tool}"


def parse_name(name: str) -> tuple[str, str] | None:
    """(server, tool) of an `mcp__SERVER__TOOL` name."""
    if not name.startswith(PREFIX):
        return None
    server, sep, tool = name[len(PREFIX) :].partition("__")
    return (server, tool) if sep and server and tool else None


def spec_of(server: str, tool: types.Tool) -> McpToolSpec | str:
    """The spec of a listed tool, or why it is left out (a name or schema agentctl cannot use)."""
    name = full_name(server, tool.name)
    if not _TOOL_NAME.match(name):
        return f"tool {tool.name[:80]!r} left out: its name is not letters, digits, '_' and '-' (at most 64 with the prefix)"
    schema = dict(tool.input_schema or {"type": "object"})
    problem = _schema_problem(schema) or (
        _schema_problem(tool.output_schema) if tool.output_schema is not None else None
    )
    if problem:
        return f"tool {tool.name!r} left out: {problem}"
    notes = tool.annotations
    read_only = bool(notes and notes.read_only_hint)
    # The protocol's defaults: a tool that does not say it only reads may be destructive.
    destructive = not read_only and (
        notes is None or notes.destructive_hint is None or bool(notes.destructive_hint)
    )
    description = (tool.description or tool.title or "")[:MAX_DESCRIPTION]
    return McpToolSpec(
        name=name,
        server=server,
        tool=tool.name,
        description=description,
        input_schema=schema,
        output_schema=dict(tool.output_schema) if tool.output_schema is not None else None,
        read_only=read_only,
        destructive=destructive,
        idempotent=read_only,
        hint="allow" if read_only else "ask",
    )


def _schema_problem(schema: dict[str, Any] | None) -> str | None:
    if schema is None:
        return None
    if len(json.dumps(schema)) > MAX_SCHEMA_BYTES:
        return f"its schema is larger than {MAX_SCHEMA_BYTES} bytes"
    try:
        problem = schema_error(schema)
    except Exception as exc:  # an unknown $schema, a bad $ref: the same answer
        return f"its schema cannot be used: {str(exc)[:200]}"
    return None if problem is None else f"its schema is not a valid JSON schema: {problem[:200]}"


Call = Callable[[McpToolSpec, ToolContext, dict[str, Any]], Awaitable[ToolOutcome]]


def as_tool(spec: McpToolSpec, call: Call, *, needs_sandbox: bool) -> Tool:
    async def arun(ctx: ToolContext, args: SchemaArgs) -> ToolOutcome:
        return await call(spec, ctx, args.model_dump())

    def run(ctx: ToolContext, args: Any) -> ToolOutcome:  # never used: `arun` is
        raise RuntimeError("an MCP tool runs on the event loop")

    return Tool(
        spec.name,
        spec.description or f"{spec.tool} (from the MCP server {spec.server})",
        SchemaArgs,
        idempotent=spec.idempotent,
        run=run,
        needs_sandbox=needs_sandbox,
        arun=arun,
        input_schema=spec.input_schema,
        hint=spec.hint,
        validator=validator_of(spec.input_schema),
    )


# --- results ----------------------------------------------------------------------


def outcome_of(
    result: types.CallToolResult,
    spec: McpToolSpec,
    ctx: ToolContext,
    *,
    artifacts: Path,
    spill_dir: Path,
    duration_ms: float,
    artifact_cap: int = 256 * 1024 * 1024,
) -> ToolOutcome:
    """The tool outcome of an MCP result: capped text, binary parts kept as artifacts
    (within the session's cap on kept bytes, as the shell's whole outputs are)."""
    import mcp_types as types

    parts: list[str] = []
    kept: list[str] = []
    room: list[int] = []  # bytes the session may still keep: looked up at the first file

    def keep(data: str, mime: str, kind: str, index: int) -> str:
        if not room:
            room.append(artifact_cap - _folder_bytes(artifacts))
        line, name = _keep(data, mime, kind, artifacts, _ref(ctx), index, room)
        if name is not None:
            kept.append(f"{artifacts.name}/{name}")
        return line

    for index, block in enumerate(result.content):
        if isinstance(block, types.TextContent):
            parts.append(block.text)
        elif isinstance(block, types.ImageContent | types.AudioContent):
            kind = "image" if isinstance(block, types.ImageContent) else "audio"
            parts.append(keep(block.data, block.mime_type, kind, index))
        elif isinstance(block, types.EmbeddedResource):
            res = block.resource
            if isinstance(res, types.TextResourceContents):
                parts.append(f"[resource {res.uri}]\n{res.text}")
            else:
                mime = getattr(res, "mime_type", None) or "application/octet-stream"
                parts.append(
                    f"[resource {res.uri}] "
                    + keep(getattr(res, "blob", ""), mime, "resource", index)
                )
        elif isinstance(block, types.ResourceLink):
            parts.append(
                f"[resource link {block.uri}" + (f" ({block.name})]" if block.name else "]")
            )
        else:
            parts.append(f"[{getattr(block, 'type', 'content')} content not shown]")
    error = None
    if result.structured_content is not None:
        if spec.output_schema is not None and not result.is_error:
            error = _violation(spec.output_schema, result.structured_content)
        if not parts or error:
            parts.append(json.dumps(result.structured_content, ensure_ascii=False, indent=1))
    elif spec.output_schema is not None and not result.is_error:
        error = "the result has no structured content, and the tool's output schema asks for it"
    if error:
        error = f"the server's result breaks the tool's output schema: {error}"
    text = "\n".join(parts)
    output, truncated, full = cap_output(text, ctx.output_cap, spill_dir)
    return ToolOutcome(
        exit_code=1 if result.is_error or error else 0,
        output=output,
        truncated=truncated,
        full_output=full,
        error=error,
        duration_ms=round(duration_ms, 3),
        attachments=tuple(kept),
    )


def _violation(schema: dict[str, Any], value: Any) -> str | None:
    try:
        err = best_error(validator_of(schema), value)
    except Exception as exc:
        return f"cannot be checked: {str(exc)[:200]}"
    return None if err is None else err.message[:300]


def _ref(ctx: ToolContext) -> str:
    # The call key is made of runtime ids (calls._key); made safe for a file name anyway.
    key = ctx.call_key or "call"
    return re.sub(r"[^A-Za-z0-9_.-]", "_", key.split(":", 1)[-1])[:100]


def _keep(
    data: str, mime: str, kind: str, folder: Path, ref: str, index: int, room: list[int]
) -> tuple[str, str | None]:
    """Decode a part into the artifacts folder: (the line for the output, its file name)."""
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return f"[{kind} ({mime}) not kept: its data is not base64]", None
    if len(raw) > room[0]:
        return (
            f"[{kind} ({mime}, {len(raw)} bytes) not kept: this session's kept files reached their cap]",
            None,
        )
    name = f"{ref}-{index}{_EXTENSIONS.get(mime, '.bin')}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(raw)
    except OSError as exc:
        return f"[{kind} ({mime}, {len(raw)} bytes) not kept: {exc.strerror or exc}]", None
    room[0] -= len(raw)
    return f"[{kind} {mime}, {len(raw)} bytes: artifact {folder.name}/{name}]", name


def _folder_bytes(folder: Path) -> int:
    try:
        return sum(entry.stat().st_size for entry in os.scandir(folder) if entry.is_file())
    except FileNotFoundError:
        return 0


__all__ = ["McpToolSpec", "as_tool", "full_name", "outcome_of", "parse_name", "spec_of"]
