"""Helpers of the observability tests: the demo recording, replies with costs, the CLI's type."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "recordings" / "demo.jsonl"
DEMO_WORKSPACE = ROOT / "recordings" / "demo" / "workspace"

Response = dict[str, Any]
Cli = Callable[..., subprocess.CompletedProcess[str]]


def call(name: str, args: dict[str, Any], call_id: str, *, cost: float = 0.0) -> Response:
    return {
        "text": f"calling {name}",
        "tool_calls": [{"id": call_id, "name": name, "args": args}],
        "usage": {"input_tokens": 100, "output_tokens": 10},
        "cost_usd": cost,
        "latency_ms": 250,
    }


def final(text: str = "done", *, cost: float = 0.0) -> Response:
    return {
        "text": text,
        "tool_calls": [],
        "usage": {"input_tokens": 50, "output_tokens": 5},
        "cost_usd": cost,
    }
