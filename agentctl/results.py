"""What the model is told about a finished tool call (the fold's tool turn, agentctl.state)."""

from __future__ import annotations

from typing import Any


def tool_result_text(data: dict[str, Any]) -> str:
    """What the model is told about a finished call."""
    if data.get("error"):
        return f"error: {data['error']}"
    parts = [data.get("output", "")]
    if data.get("truncated") and data.get("artifact"):
        parts.append(f"\n[output truncated; the whole output is kept as {data.get('artifact')}]")
    elif data.get("truncated"):
        parts.append("\n[output truncated]")
    if data.get("timed_out"):
        parts.append("\n[killed: the command timed out]")
    parts.append(f"\n[exit code {data.get('exit_code')}]")
    return "".join(parts)


__all__ = ["tool_result_text"]
