"""The opt-in parser of tool calls written as text, format by format."""

from __future__ import annotations

import pytest

from agentctl.providers.textcalls import TextCall, parse_text_tool_calls

TOOLS = {"shell", "read_file"}
LS = TextCall("shell", {"command": "ls"})


@pytest.mark.parametrize(
    ("text", "rest", "calls"),
    [
        ('<tool_call>{"name": "shell", "arguments": {"command": "ls"}}</tool_call>', "", [LS]),
        (
            'I will look.\n<tool_call>\n[{"name": "shell", "arguments": {"command": "ls"}},'
            ' {"name": "read_file", "arguments": {"path": "a"}}]\n</tool_call>',
            "I will look.",
            [LS, TextCall("read_file", {"path": "a"})],
        ),
        ('<function=shell>{"command": "ls"}</function>', "", [LS]),
        ('<|python_tag|>{"name": "shell", "parameters": {"command": "ls"}}', "", [LS]),
        ('[TOOL_CALLS] [{"name": "shell", "arguments": {"command": "ls"}}]', "", [LS]),
        ('<functioncall> {"name": "shell", "arguments": "{\\"command\\": \\"ls\\"}"}', "", [LS]),
        ('Here:\n```json\n{"name": "shell", "arguments": {"command": "ls"}}\n```', "Here:", [LS]),
        ('{"name": "shell", "arguments": {"command": "ls"}}', "", [LS]),
        ('{"function": {"name": "shell", "arguments": {"command": "ls"}}}', "", [LS]),
    ],
    ids=[
        "hermes",
        "hermes-list",
        "llama-function",
        "python-tag",
        "mistral",
        "glaive",
        "fenced",
        "bare",
        "wire",
    ],
)
def test_common_formats(text: str, rest: str, calls: list[TextCall]) -> None:
    assert parse_text_tool_calls(text, TOOLS) == (rest, calls)


@pytest.mark.parametrize(
    "text",
    [
        "Just prose, no calls.",
        '{"name": "rm_rf", "arguments": {}}',  # not an offered tool
        'An example: {"name": "shell", "arguments": {"command": "ls"}} is how you call it.',
        "<tool_call>not json</tool_call>",
        '{"answer": 42}',
    ],
)
def test_prose_and_unknown_tools_stay_text(text: str) -> None:
    assert parse_text_tool_calls(text, TOOLS) == (text, [])


def test_no_tools_offered_means_no_calls() -> None:
    text = '{"name": "shell", "arguments": {}}'
    assert parse_text_tool_calls(text, set()) == (text, [])
