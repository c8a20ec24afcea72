"""Tool-call arguments between their wire form (a JSON string) and the contract's form.

The contract keeps what the model gave: a dict when it is a JSON object, the raw
string otherwise, so the runtime can show the model its own mistake.
"""

from __future__ import annotations

import json
from typing import Any


def parse_arguments(raw: object) -> str | dict[str, Any]:
    """A dict for a JSON object; the raw text for anything else, never an exception.

    An empty string counts as `{}`: several local servers send it for a call to
    a tool without parameters, and it cannot mean anything else.
    """
    if isinstance(raw, dict):
        return {str(k): v for k, v in raw.items()}
    if raw is None:
        return {}
    text = raw if isinstance(raw, str) else json.dumps(raw)
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return text
    if isinstance(value, dict):
        return {str(k): v for k, v in value.items()}
    return text


def arguments_json(arguments: str | dict[str, Any]) -> str:
    """The wire form: the raw string as the model gave it, or the object serialized."""
    if isinstance(arguments, str):
        return arguments
    return json.dumps(arguments, ensure_ascii=False)


def arguments_object(arguments: str | dict[str, Any]) -> dict[str, Any]:
    """An object for APIs that only accept one (Anthropic's `tool_use.input`).

    Malformed arguments from an earlier turn are kept under `_raw_arguments` so
    the history sent back still shows what the model wrote.
    """
    parsed = parse_arguments(arguments)
    if isinstance(parsed, dict):
        return parsed
    return {"_raw_arguments": parsed}
