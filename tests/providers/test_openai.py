"""The OpenAI-compatible provider against a real HTTP server on loopback."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from agentctl.errors import ProviderError
from agentctl.providers import Message, ToolCall, ToolSpec, retry_after_of
from agentctl.providers.openai_chat import OpenAIChatProvider
from tests.support.providers import ProviderFactory

from .fake_server import FakeModelServer, Reply, openai_completion

SECRET = "sk-test-SECRET-0123456789"
SHELL = ToolSpec(
    name="shell",
    description="Run a command in /workspace",
    parameters={"type": "object", "properties": {"command": {"type": "string"}}},
)
HISTORY = (
    Message("system", "You are terse."),
    Message("user", "List the files."),
    Message(
        "assistant",
        "",
        tool_calls=(ToolCall("call_1", "shell", {"command": "ls"}),),
    ),
    Message("tool", "a.txt\nb.txt", tool_call_id="call_1", name="shell"),
)


def openai(make: ProviderFactory, fake: FakeModelServer, **kwargs: object) -> OpenAIChatProvider:
    provider = make("openai:test-model", base_url=f"{fake.url}/v1", timeout_s=0.5, **kwargs)
    assert isinstance(provider, OpenAIChatProvider)
    return provider


async def test_completion_with_tool_calls_is_parsed(
    fake: FakeModelServer, make_provider: ProviderFactory
) -> None:
    fake.script(
        Reply.json(
            openai_completion(
                "Looking.",
                tool_calls=[
                    ("call_a", "shell", '{"command": "ls -la"}'),
                    ("call_b", "read_file", '{"path": "a.txt"}'),
                ],
                prompt_tokens=120,
                completion_tokens=30,
            )
        )
    )
    provider = openai(make_provider, fake)

    response = await provider.complete(HISTORY, [SHELL], step=1)

    assert response.text == "Looking."
    assert response.tool_calls == (
        ToolCall("call_a", "shell", {"command": "ls -la"}),
        ToolCall("call_b", "read_file", {"path": "a.txt"}),
    )
    assert (response.usage.input_tokens, response.usage.output_tokens) == (120, 30)
    assert response.cost_usd is None  # no price known: unknown, not $0
    assert response.latency_ms > 0


async def test_request_body_maps_messages_and_tools(
    fake: FakeModelServer, make_provider: ProviderFactory
) -> None:
    fake.script(Reply.json(openai_completion("ok")))
    await openai(make_provider, fake).complete(HISTORY, [SHELL], step=1)

    [request] = fake.requests
    assert request.path == "/v1/chat/completions"
    body = request.body
    assert body["model"] == "test-model"
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "shell",
                "description": "Run a command in /workspace",
                "parameters": SHELL.parameters,
            },
        }
    ]
    assert body["messages"] == [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "List the files."},
        {
            "role": "assistant",
            "content": "",  # not null: llama-cpp-python answers null with a 500
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "shell", "arguments": '{"command": "ls"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "a.txt\nb.txt"},
    ]


async def test_no_tools_key_when_no_tools(
    fake: FakeModelServer, make_provider: ProviderFactory
) -> None:
    fake.script(Reply.json(openai_completion("hi")))
    await openai(make_provider, fake).complete([Message("user", "hi")], [], step=0)
    assert "tools" not in fake.requests[0].body


async def test_auth_header_sent_with_a_key(
    fake: FakeModelServer, make_provider: ProviderFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    fake.script(Reply.json(openai_completion("hi")))
    await openai(make_provider, fake).complete([Message("user", "hi")], [], step=0)
    assert fake.requests[0].headers["authorization"] == f"Bearer {SECRET}"


async def test_no_auth_header_without_a_key(
    fake: FakeModelServer, make_provider: ProviderFactory
) -> None:
    fake.script(Reply.json(openai_completion("hi")))
    await openai(make_provider, fake).complete([Message("user", "hi")], [], step=0)
    assert "authorization" not in fake.requests[0].headers


async def test_custom_key_env(
    fake: FakeModelServer, make_provider: ProviderFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MY_GATEWAY_KEY", "gw-key")
    fake.script(Reply.json(openai_completion("hi")))
    provider = openai(make_provider, fake, api_key_env="MY_GATEWAY_KEY")
    await provider.complete([Message("user", "hi")], [], step=0)
    assert fake.requests[0].headers["authorization"] == "Bearer gw-key"


async def test_base_url_from_environment(
    fake: FakeModelServer, make_provider: ProviderFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", f"{fake.url}/v1/")
    fake.script(Reply.json(openai_completion("from env")))
    provider = make_provider("openai:test-model")
    assert provider.endpoint == f"{fake.url}/v1"
    response = await provider.complete([Message("user", "hi")], [], step=0)
    assert response.text == "from env"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('{"command": "ls"', '{"command": "ls"'),  # truncated JSON
        ("ls -la", "ls -la"),  # not JSON at all
        ('["ls"]', '["ls"]'),  # JSON, but not an object
        ("", {}),  # some local servers send "" for a call without arguments
    ],
)
async def test_malformed_tool_arguments_come_back_raw(
    fake: FakeModelServer, make_provider: ProviderFactory, raw: str, expected: str | dict[str, Any]
) -> None:
    fake.script(Reply.json(openai_completion(None, tool_calls=[("c1", "shell", raw)])))
    response = await openai(make_provider, fake).complete([Message("user", "x")], [SHELL], step=0)
    assert response.text == ""
    assert response.tool_calls == (ToolCall("c1", "shell", expected),)


async def test_raw_arguments_are_sent_back_as_given(
    fake: FakeModelServer, make_provider: ProviderFactory
) -> None:
    fake.script(Reply.json(openai_completion("ok")))
    history = [Message("assistant", "", tool_calls=(ToolCall("c1", "shell", '{"bad'),))]
    await openai(make_provider, fake).complete(history, [], step=1)
    sent = fake.requests[0].body["messages"][0]["tool_calls"][0]["function"]["arguments"]
    assert sent == '{"bad'


async def test_missing_tool_call_ids_get_stable_ones(
    fake: FakeModelServer, make_provider: ProviderFactory
) -> None:
    completion = openai_completion(None, tool_calls=[("", "shell", "{}")])
    fake.script(Reply.json(completion))
    response = await openai(make_provider, fake).complete([Message("user", "x")], [], step=4)
    assert response.tool_calls[0].id == "call_4_0"


async def test_cost_from_prices(fake: FakeModelServer, make_provider: ProviderFactory) -> None:
    fake.script(
        Reply.json(openai_completion("ok", prompt_tokens=1_000_000, completion_tokens=500_000))
    )
    provider = openai(make_provider, fake, prices={"test-model": (0.15, 0.60)})
    response = await provider.complete([Message("user", "x")], [], step=0)
    assert response.cost_usd == pytest.approx(0.15 + 0.30)


@pytest.mark.parametrize(
    ("reply", "retryable", "status"),
    [
        (Reply.error(429, "slow down", {"retry-after": "2"}), True, 429),
        (Reply.error(500, "boom"), True, 500),
        (Reply.error(503, "overloaded"), True, 503),
        (Reply.error(400, "bad request: unknown field"), False, 400),
        (Reply.error(404, "no such model"), False, 404),
        (Reply.raw('{"choices": [{"message": '), True, 200),  # garbled 200
        (Reply.raw("<html>Bad Gateway</html>", content_type="text/html"), True, 200),
    ],
)
async def test_errors_are_classified(
    fake: FakeModelServer,
    make_provider: ProviderFactory,
    reply: Reply,
    retryable: bool,
    status: int,
) -> None:
    fake.script(reply)
    with pytest.raises(ProviderError) as caught:
        await openai(make_provider, fake).complete([Message("user", "x")], [], step=0)
    assert caught.value.retryable is retryable
    assert caught.value.status == status
    assert "openai:test-model" in str(caught.value)


async def test_server_message_is_in_the_error(
    fake: FakeModelServer, make_provider: ProviderFactory
) -> None:
    fake.script(Reply.error(400, "tools[0].function.name is invalid"))
    with pytest.raises(ProviderError, match=r"HTTP 400 .*tools\[0\]\.function\.name is invalid"):
        await openai(make_provider, fake).complete([Message("user", "x")], [], step=0)


async def test_garbled_body_says_why_it_is_retried(
    fake: FakeModelServer, make_provider: ProviderFactory
) -> None:
    fake.script(Reply.raw("{not json"))
    with pytest.raises(ProviderError, match=r"not valid JSON.*proxy or server glitch"):
        await openai(make_provider, fake).complete([Message("user", "x")], [], step=0)


async def test_json_of_the_wrong_shape_is_not_retryable(
    fake: FakeModelServer, make_provider: ProviderFactory
) -> None:
    fake.script(Reply.json({"status": "ok"}))
    with pytest.raises(ProviderError, match="no `choices`") as caught:
        await openai(make_provider, fake).complete([Message("user", "x")], [], step=0)
    assert caught.value.retryable is False


async def test_retry_after_is_carried(
    fake: FakeModelServer, make_provider: ProviderFactory
) -> None:
    fake.script(
        Reply.error(429, headers={"retry-after": "7"}),
        Reply.error(429, headers={"retry-after-ms": "1500"}),
        Reply.error(503),
    )
    provider = openai(make_provider, fake)
    waits = []
    for _ in range(3):
        with pytest.raises(ProviderError) as caught:
            await provider.complete([Message("user", "x")], [], step=0)
        waits.append(retry_after_of(caught.value))
    assert waits == [7.0, 1.5, None]


async def test_timeout_is_retryable(fake: FakeModelServer, make_provider: ProviderFactory) -> None:
    fake.script(Reply.never())
    with pytest.raises(ProviderError, match=r"timed out after 0\.5 s") as caught:
        await openai(make_provider, fake).complete([Message("user", "x")], [], step=0)
    assert caught.value.retryable is True


async def test_connection_refused_is_retryable(make_provider: ProviderFactory) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    provider = make_provider("openai:m", base_url=f"http://127.0.0.1:{port}/v1", timeout_s=0.5)
    with pytest.raises(ProviderError, match="cannot reach") as caught:
        await provider.complete([Message("user", "x")], [], step=0)
    assert caught.value.retryable is True


async def test_a_base_url_without_scheme_is_not_retryable(make_provider: ProviderFactory) -> None:
    provider = make_provider("openai:m", base_url="localhost:11434/v1")
    with pytest.raises(ProviderError) as caught:
        await provider.complete([Message("user", "x")], [], step=0)
    assert caught.value.retryable is False
    assert caught.value.hint is not None and "base URL" in caught.value.hint


@pytest.mark.parametrize(
    "reply",
    [
        Reply.error(401, f"Incorrect API key provided: {SECRET}"),
        Reply.error(500, f"internal error for key {SECRET}"),
        Reply.raw(f"garbage {SECRET}"),
        Reply.never(),
    ],
)
async def test_key_never_appears_in_errors(
    fake: FakeModelServer,
    make_provider: ProviderFactory,
    monkeypatch: pytest.MonkeyPatch,
    reply: Reply,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    fake.script(reply)
    provider = openai(make_provider, fake)
    with pytest.raises(ProviderError) as caught:
        await provider.complete([Message("user", "x")], [], step=0)
    error = caught.value
    for text in (str(error), repr(error), error.message, error.hint or "", repr(provider)):
        assert SECRET not in text
    assert error.__cause__ is None  # no chained transport error carrying request headers
    assert fake.requests[0].headers["authorization"] == f"Bearer {SECRET}"


async def test_unauthorized_hints_at_the_key_variable(
    fake: FakeModelServer, make_provider: ProviderFactory
) -> None:
    fake.script(Reply.error(401, "Incorrect API key"))
    with pytest.raises(ProviderError) as caught:
        await openai(make_provider, fake).complete([Message("user", "x")], [], step=0)
    assert caught.value.hint == "check the API key in OPENAI_API_KEY"
    assert caught.value.retryable is False
