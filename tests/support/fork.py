"""Helpers of the fork and replay tests (and the workspace tests): the replies of recordings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

Response = dict[str, Any]


def shell(command: str, call_id: str, text: str = "") -> Response:
    return {
        "text": text or f"running {command}",
        "tool_calls": [{"id": call_id, "name": "shell", "args": {"command": command}}],
        "usage": {"input_tokens": 10, "output_tokens": 5},
    }


def tool(name: str, args: dict[str, Any], call_id: str) -> Response:
    return {"text": f"{name}", "tool_calls": [{"id": call_id, "name": name, "args": args}]}


def final(text: str = "done") -> Response:
    return {"text": text, "tool_calls": [], "usage": {"input_tokens": 10, "output_tokens": 5}}


def write_recording(path: Path, responses: list[Response]) -> Path:
    lines = [{"format": "agentctl-recording", "version": 1}, *responses]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path
