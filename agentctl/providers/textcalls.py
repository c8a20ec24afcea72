"""Tool calls that a model wrote as text, for servers that do not parse them (opt-in).

Many local servers pass a model's tool-call markup through as plain content
when their chat template or parser does not know it. With
`text_tool_calls = true` on an endpoint, a response that has no structured
tool calls is searched for the common formats:

- `<tool_call>{"name": ..., "arguments": {...}}</tool_call>` (Hermes, Qwen, SmolLM2),
  also with a JSON list inside;
- `<function=NAME>{...}</function>` (Llama 3.1's custom format);
- `<|python_tag|>{"name": ..., "parameters": {...}}` (Llama 3.1/3.2 JSON);
- `[TOOL_CALLS] [{"name": ..., "arguments": {...}}]` (Mistral);
- `<functioncall> {...}` (Glaive);
- a fenced ```json block, or the whole reply, holding such an object or a list of them.

A call is taken only when its name is one of the offered tools: prose that
happens to contain JSON stays prose. It is opt-in because a model asked to
*write* a tool call as an example would otherwise run it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

_DECODER = json.JSONDecoder()

_TAGGED = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.DOTALL)
_FUNCTION_TAG = re.compile(r"<function=([A-Za-z0-9_.-]+)>\s*(.*?)\s*</function>", re.DOTALL)
_FENCED = re.compile(r"```(?:json|tool_call|tool_code)?\s*\n?(.*?)```", re.DOTALL)
_PREFIXES = ("<|python_tag|>", "[TOOL_CALLS]", "<functioncall>", "<|python_start|>")


@dataclass(frozen=True)
class TextCall:
    name: str
    arguments: str | dict[str, Any]


def parse_text_tool_calls(text: str, tools: Collection[str]) -> tuple[str, list[TextCall]]:
    """The calls found in `text` for the offered `tools`, and the text without them."""
    if not text or not tools:
        return text, []
    for finder in (_tagged, _function_tags, _prefixed, _fenced, _whole):
        rest, calls = finder(text, tools)
        if calls:
            return rest.strip(), calls
    return text, []


def _calls_of(value: Any, tools: Collection[str]) -> list[TextCall]:
    """`value` as calls, or [] unless every item is a call of an offered tool."""
    items = value if isinstance(value, list) else [value]
    calls: list[TextCall] = []
    for item in items:
        if not isinstance(item, dict):
            return []
        function = item.get("function")
        if isinstance(function, dict):  # the OpenAI wire shape, written out
            item = function
        name = item.get("name")
        if not isinstance(name, str) or name not in tools:
            return []
        args = item.get("arguments", item.get("parameters", {}))
        if isinstance(args, str):
            try:
                decoded = json.loads(args) if args.strip() else {}
            except ValueError:
                decoded = args
            args = decoded
        calls.append(
            TextCall(
                name, {str(k): v for k, v in args.items()} if isinstance(args, dict) else str(args)
            )
        )
    return calls


def _json_at(text: str) -> tuple[Any, int] | None:
    stripped = text.lstrip()
    try:
        value, end = _DECODER.raw_decode(stripped)
    except ValueError:
        return None
    return value, end + (len(text) - len(stripped))


def _tagged(text: str, tools: Collection[str]) -> tuple[str, list[TextCall]]:
    calls: list[TextCall] = []
    for match in _TAGGED.finditer(text):
        found = _json_at(match.group(1))
        if found is None:
            return text, []
        more = _calls_of(found[0], tools)
        if not more:
            return text, []
        calls += more
    return _TAGGED.sub("", text), calls


def _function_tags(text: str, tools: Collection[str]) -> tuple[str, list[TextCall]]:
    calls: list[TextCall] = []
    for match in _FUNCTION_TAG.finditer(text):
        name = match.group(1)
        found = _json_at(match.group(2)) if match.group(2).strip() else ({}, 0)
        if name not in tools or found is None or not isinstance(found[0], dict):
            return text, []
        calls.append(TextCall(name, {str(k): v for k, v in found[0].items()}))
    return _FUNCTION_TAG.sub("", text), calls


def _prefixed(text: str, tools: Collection[str]) -> tuple[str, list[TextCall]]:
    for prefix in _PREFIXES:
        at = text.find(prefix)
        if at < 0:
            continue
        found = _json_at(text[at + len(prefix) :])
        if found is None:
            continue
        calls = _calls_of(found[0], tools)
        if calls:
            return text[:at] + text[at + len(prefix) + found[1] :], calls
    return text, []


def _fenced(text: str, tools: Collection[str]) -> tuple[str, list[TextCall]]:
    calls: list[TextCall] = []
    for match in _FENCED.finditer(text):
        found = _json_at(match.group(1))
        if found is None or match.group(1)[found[1] :].strip():
            return text, []
        more = _calls_of(found[0], tools)
        if not more:
            return text, []
        calls += more
    return _FENCED.sub("", text), calls


def _whole(text: str, tools: Collection[str]) -> tuple[str, list[TextCall]]:
    found = _json_at(text)
    if found is None or text[found[1] :].strip():
        return text, []
    return "", _calls_of(found[0], tools)


__all__ = ["TextCall", "parse_text_tool_calls"]
