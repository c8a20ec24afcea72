"""The Anthropic Messages provider against a real HTTP server on loopback."""

from __future__ import annotations

import pytest

from agentctl.errors import ProviderError, UsageError
from agentctl.providers import Message, ToolCall, ToolSpec, load_provider, retry_after_of
from agentctl.providers.anthropic_messages import AnthropicMessagesProvider
from tests.support.providers import ProviderFactory

from .fake_server import FakeModelServer, Reply, anthropic_message

SECRET = "sk-ant-test-SECRET-abcdef"
READ = ToolSpec(
    name="read_file",
    description="Read a file in /workspace",
    parameters={"type": "object", "properties": {"path": {"type": "string"}}},
)


@pytest.fixture
def claude(
    fake: FakeModelServer, make_provider: ProviderFactory, monkeypatch: pytest.MonkeyPatch
) -> AnthropicMessagesProvider:
    monkeypatch.setenv("ANTHROPIC_API_KEY", SECRET)
    provider = make_provider("anthropic:claude-test", base_url=fake.url, timeout_s=0.5)
    assert isinstance(provider, AnthropicMessagesProvider)
    return provider


async def test_completion_with_tool_use_is_parsed(
    fake: FakeModelServer, claude: AnthropicMessagesProvider
) -> None:
    fake.script(
        Reply.json(
            anthropic_message(
                "Reading it.",
                tool_uses=[("toolu_1", "read_file", {"path": "a.txt"})],
                input_tokens=200,
                output_tokens=40,
            )
        )
    )
    response = await claude.complete([Message("user", "read a.txt")], [READ], step=0)
    assert response.text == "Reading it."
    assert response.tool_calls == (ToolCall("toolu_1", "read_file", {"path": "a.txt"}),)
    assert (response.usage.input_tokens, response.usage.output_tokens) == (200, 40)


async def test_request_maps_system_tools_and_tool_results(
    fake: FakeModelServer, claude: AnthropicMessagesProvider
) -> None:
    fake.script(Reply.json(anthropic_message("done")))
    history = [
        Message("system", "Be careful."),
        Message("user", "Read both files."),
        Message(
            "assistant",
            "Reading.",
            tool_calls=(
                ToolCall("t1", "read_file", {"path": "a"}),
                ToolCall("t2", "read_file", '{"path": '),  # malformed, from another model
            ),
        ),
        Message("tool", "A", tool_call_id="t1", name="read_file"),
        Message("tool", "error: bad arguments", tool_call_id="t2", name="read_file"),
        Message("user", "And now?"),
    ]
    await claude.complete(history, [READ], step=1)

    [request] = fake.requests
    assert request.path == "/v1/messages"
    assert request.headers["x-api-key"] == SECRET
    assert request.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in request.headers
    body = request.body
    assert body["model"] == "claude-test"
    assert body["max_tokens"] > 0
    assert body["system"] == "Be careful."
    assert body["tools"] == [
        {"name": "read_file", "description": READ.description, "input_schema": READ.parameters}
    ]
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Read both files."}]},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Reading."},
                {"type": "tool_use", "id": "t1", "name": "read_file", "input": {"path": "a"}},
                {
                    "type": "tool_use",
                    "id": "t2",
                    "name": "read_file",
                    "input": {"_raw_arguments": '{"path": '},
                },
            ],
        },
        {  # tool results and the next user text merge into one user turn
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "t1", "content": "A"},
                {"type": "tool_result", "tool_use_id": "t2", "content": "error: bad arguments"},
                {"type": "text", "text": "And now?"},
            ],
        },
    ]


async def test_base_url_with_v1_suffix(
    fake: FakeModelServer, make_provider: ProviderFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", SECRET)
    fake.script(Reply.json(anthropic_message("hi")))
    provider = make_provider("anthropic:claude-test", base_url=f"{fake.url}/v1/")
    await provider.complete([Message("user", "hi")], [], step=0)
    assert fake.requests[0].path == "/v1/messages"


@pytest.mark.parametrize(
    ("reply", "retryable"),
    [
        (Reply.error(429, "rate limited", {"retry-after": "3"}), True),
        (Reply.error(529, "overloaded"), True),
        (Reply.error(400, "messages: roles must alternate"), False),
        (Reply.raw("{trunc"), True),
        (Reply.never(), True),
    ],
)
async def test_errors_are_classified(
    fake: FakeModelServer, claude: AnthropicMessagesProvider, reply: Reply, retryable: bool
) -> None:
    fake.script(reply)
    with pytest.raises(ProviderError) as caught:
        await claude.complete([Message("user", "x")], [], step=0)
    assert caught.value.retryable is retryable
    assert SECRET not in str(caught.value)


async def test_retry_after_and_key_redaction(
    fake: FakeModelServer, claude: AnthropicMessagesProvider
) -> None:
    fake.script(Reply.error(429, f"key {SECRET} is rate limited", {"retry-after": "3"}))
    with pytest.raises(ProviderError) as caught:
        await claude.complete([Message("user", "x")], [], step=0)
    assert retry_after_of(caught.value) == 3.0
    assert SECRET not in str(caught.value)
    assert "***" in str(caught.value)


def test_a_key_is_required() -> None:
    with pytest.raises(UsageError, match="ANTHROPIC_API_KEY"):
        load_provider("anthropic:claude-test")
