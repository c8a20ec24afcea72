"""Streamed replies (SSE) from a real HTTP server on loopback: assembly, faults, cancellation."""

from __future__ import annotations

import asyncio

import pytest

from agentctl.errors import ProviderError
from agentctl.providers import Message, ToolCall, ToolSpec
from agentctl.providers.base import Delta, Provider
from tests.support.providers import ProviderFactory

from .fake_server import FakeModelServer, Reply, anthropic_message, openai_chunks, openai_completion

SHELL = ToolSpec("shell", "Run a command", {"type": "object", "properties": {}})
ASK = (Message("user", "hi"),)


def openai(make: ProviderFactory, fake: FakeModelServer, **kwargs: object) -> Provider:
    kwargs.setdefault("timeout_s", 5.0)
    return make("openai:test-model", base_url=f"{fake.url}/v1", **kwargs)


async def test_openai_stream_is_assembled_with_parallel_tool_calls_reasoning_and_usage(
    fake: FakeModelServer, make_provider: ProviderFactory
) -> None:
    fake.script(
        Reply.sse(
            openai_chunks(
                ["Look", "ing."],
                tool_calls=[
                    (0, "call_a", "shell", ['{"comm', 'and": "ls"}']),
                    (1, "call_b", "read_file", ['{"path": "a.txt"}']),
                ],
                reasoning=["think", "ing"],
                usage={"prompt_tokens": 40, "completion_tokens": 9, "total_tokens": 49},
                finish="tool_calls",
            )
        )
    )
    deltas: list[Delta] = []
    provider = openai(make_provider, fake)

    response = await provider.complete(ASK, [SHELL], step=0, on_delta=deltas.append)

    assert response.text == "Looking."
    assert response.reasoning == "thinking"
    assert response.tool_calls == (
        ToolCall("call_a", "shell", {"command": "ls"}),
        ToolCall("call_b", "read_file", {"path": "a.txt"}),
    )
    assert (response.usage.input_tokens, response.usage.output_tokens) == (40, 9)
    assert response.first_token_ms is not None and response.first_token_ms <= response.latency_ms
    assert "".join(d.text for d in deltas) == "Looking."
    assert [c.arguments for d in deltas for c in d.tool_calls if c.index == 0] == [
        "",
        '{"comm',
        'and": "ls"}',
    ]
    [request] = fake.requests
    assert request.body["stream"] is True
    assert request.body["stream_options"] == {"include_usage": True}
    assert request.headers["accept"] == "text/event-stream"


async def test_the_first_delta_arrives_while_the_server_is_still_sending(
    fake: FakeModelServer, make_provider: ProviderFactory
) -> None:
    # The server stops after the role chunk and the first word, until the test
    # lets it go on: the delta must already be in the client's hands by then.
    fake.script(Reply.sse(openai_chunks(["Hello", " world"]), gate_after=2))
    first = asyncio.Event()

    def on_delta(delta: Delta) -> None:
        if delta.text:
            first.set()

    task = asyncio.create_task(
        openai(make_provider, fake).complete(ASK, [], step=0, on_delta=on_delta)
    )
    await asyncio.wait_for(first.wait(), 5)
    assert not task.done()  # the reply is not finished: the server holds the rest
    fake.open_gate()
    response = await asyncio.wait_for(task, 5)
    assert response.text == "Hello world"


async def test_a_server_that_ignores_stream_and_answers_json_is_read(
    fake: FakeModelServer, make_provider: ProviderFactory
) -> None:
    fake.script(Reply.json(openai_completion("plain")))
    response = await openai(make_provider, fake).complete(ASK, [], step=0)
    assert response.text == "plain"


async def test_an_empty_stream_for_a_request_with_tools_is_asked_again_without_streaming(
    fake: FakeModelServer, make_provider: ProviderFactory
) -> None:
    # llama-cpp-python's function calling answers a streamed `auto` with an empty 200 stream.
    fake.script(
        Reply.sse([], done=False),
        Reply.json(openai_completion("", tool_calls=[("c1", "shell", "{}")])),
        Reply.json(openai_completion("again")),
    )
    provider = openai(make_provider, fake)
    response = await provider.complete(ASK, [SHELL], step=0)
    assert response.tool_calls == (ToolCall("c1", "shell", {}),)
    await provider.complete(ASK, [SHELL], step=1)
    assert [r.body.get("stream") for r in fake.requests] == [True, None, None]


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (Reply.sse(openai_chunks(["par"], finish=None), done=False), "ended before"),
        (Reply.sse(["{not json"]), "not JSON"),
        (Reply.sse([{"error": {"message": "model crashed"}}]), "model crashed"),
    ],
    ids=["truncated", "malformed", "error-event"],
)
async def test_broken_streams_are_retryable_errors_that_say_why(
    fake: FakeModelServer, make_provider: ProviderFactory, reply: Reply, expected: str
) -> None:
    fake.script(reply)
    with pytest.raises(ProviderError, match=expected) as caught:
        await openai(make_provider, fake).complete(ASK, [], step=0)
    assert caught.value.retryable


async def test_cancel_closes_the_connection_mid_stream(
    fake: FakeModelServer, make_provider: ProviderFactory
) -> None:
    fake.script(Reply.sse(openai_chunks(["never", " finished"]), gate_after=1))
    task = asyncio.create_task(openai(make_provider, fake).complete(ASK, [], step=0))
    assert await asyncio.to_thread(fake.at_gate.wait, 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    fake.open_gate()  # the server tries to go on: the client is gone
    assert await asyncio.to_thread(fake.disconnected.wait, 5)


async def test_a_stalled_stream_times_out_and_closes_the_connection(
    fake: FakeModelServer, make_provider: ProviderFactory
) -> None:
    fake.script(Reply.sse(openai_chunks(["stalled"]), gate_after=2))
    provider = make_provider(
        "openai:test-model", base_url=f"{fake.url}/v1", timeout_s=0.3
    )  # also the read timeout
    with pytest.raises(ProviderError, match="timed out") as caught:
        await provider.complete(ASK, [], step=0)
    assert caught.value.retryable
    fake.open_gate()
    assert await asyncio.to_thread(fake.disconnected.wait, 5)


def anthropic_events(text: list[str], tool_input: list[str]) -> list[tuple[str, object]]:
    return [
        ("message_start", {"type": "message_start", "message": {"usage": {"input_tokens": 21}}}),
        (
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking"}},
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "thinking_delta", "thinking": "hmm"},
            },
        ),
        (
            "content_block_start",
            {"type": "content_block_start", "index": 1, "content_block": {"type": "text"}},
        ),
        *[
            (
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": 1,
                    "delta": {"type": "text_delta", "text": t},
                },
            )
            for t in text
        ],
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 2,
                "content_block": {
                    "type": "tool_use",
                    "id": "toolu_1",
                    "name": "shell",
                    "input": {},
                },
            },
        ),
        *[
            (
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": 2,
                    "delta": {"type": "input_json_delta", "partial_json": part},
                },
            )
            for part in tool_input
        ],
        ("message_delta", {"type": "message_delta", "usage": {"output_tokens": 7}}),
        ("message_stop", {"type": "message_stop"}),
    ]


async def test_anthropic_stream_is_assembled(
    fake: FakeModelServer, make_provider: ProviderFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-0123456789")
    fake.script(
        Reply.sse(anthropic_events(["Lis", "ting."], ['{"command":', ' "ls"}']), done=False)
    )
    deltas: list[Delta] = []
    provider = make_provider("anthropic:claude-test", base_url=fake.url, timeout_s=5.0)

    response = await provider.complete(ASK, [SHELL], step=0, on_delta=deltas.append)

    assert response.text == "Listing."
    assert response.reasoning == "hmm"
    assert response.tool_calls == (ToolCall("toolu_1", "shell", {"command": "ls"}),)
    assert (response.usage.input_tokens, response.usage.output_tokens) == (21, 7)
    assert "".join(d.text for d in deltas) == "Listing."
    body = fake.requests[0].body
    assert body["stream"] is True and body["tool_choice"] == {"type": "auto"}


async def test_anthropic_stream_without_message_stop_is_broken(
    fake: FakeModelServer, make_provider: ProviderFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-0123456789")
    fake.script(Reply.sse(anthropic_events(["cut"], [])[:-1], done=False))
    provider = make_provider("anthropic:claude-test", base_url=fake.url, timeout_s=5.0)
    with pytest.raises(ProviderError, match="message_stop") as caught:
        await provider.complete(ASK, [], step=0)
    assert caught.value.retryable


async def test_anthropic_answering_json_to_a_stream_request_is_read(
    fake: FakeModelServer, make_provider: ProviderFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-0123456789")
    fake.script(Reply.json(anthropic_message("plain")))
    provider = make_provider("anthropic:claude-test", base_url=fake.url, timeout_s=5.0)
    assert (await provider.complete(ASK, [], step=0)).text == "plain"
