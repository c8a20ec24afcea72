"""`anthropic:MODEL`: Anthropic's Messages API over plain httpx.

No SDK, like the OpenAI provider, so the core runs without provider packages
and both share one error mapping (`transport`). The Messages API differs from
Chat Completions in three ways that shape this module: the system prompt is a
top-level field; tool calls are `tool_use` content blocks and their results
are `tool_result` blocks inside a *user* turn; and user and assistant turns
must alternate, so consecutive turns of the same role are merged.

Replies are streamed (SSE: `message_start`, `content_block_*`,
`message_delta`, `message_stop`) and put back together here; thinking blocks
are kept as the response's reasoning.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from agentctl.config import ToolChoice
from agentctl.providers.arguments import arguments_object, parse_arguments
from agentctl.providers.base import (
    Delta,
    Message,
    ModelResponse,
    OnDelta,
    Provider,
    ProviderRequestError,
    ToolCall,
    ToolCallDelta,
    ToolSpec,
    Usage,
)
from agentctl.providers.openai_chat import KeySource, emit, key_source
from agentctl.providers.pricing import Prices, cost_usd, price_of
from agentctl.providers.transport import (
    JsonReply,
    Timeouts,
    malformed_reply,
    post_json,
    post_stream,
    sse_json,
    stream_broken,
)

DEFAULT_BASE_URL = "https://api.anthropic.com"
API_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 4096


class AnthropicMessagesProvider(Provider):
    def __init__(
        self,
        model: str,
        *,
        api_key: str | KeySource | None,
        base_url: str = DEFAULT_BASE_URL,
        api_key_env: str | None = None,
        timeout_s: float | None = None,
        timeouts: Timeouts | None = None,
        prices: Prices | None = None,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        spec: str | None = None,
        headers: Mapping[str, str] | None = None,
        tool_choice: ToolChoice = "auto",
        parallel_tool_calls: bool | None = None,
        stream: bool = True,
        params: Mapping[str, Any] | None = None,
    ) -> None:
        self.model = model
        self.spec = spec or f"anthropic:{model}"
        base = base_url.rstrip("/")
        # Accept a base URL given with or without the trailing /v1.
        self.base_url = base.removesuffix("/v1")
        self.endpoint = self.base_url
        self.url = f"{self.base_url}/v1/messages"
        self.max_tokens = max_tokens
        self.tool_choice = tool_choice
        self.parallel_tool_calls = parallel_tool_calls
        self.stream = stream
        self.params = dict(params or {})
        self.timeouts = timeouts or Timeouts.of(timeout_s)
        self._key = key_source(api_key)
        self._key_env = api_key_env
        self._price = price_of(prices, self.spec, model)
        self._client = self.timeouts.client(headers)

    @property
    def price_known(self) -> bool:
        return self._price is not None

    def request_body(
        self, messages: Sequence[Message], tools: Sequence[ToolSpec]
    ) -> dict[str, Any]:
        system = "\n\n".join(m.content for m in messages if m.role == "system" and m.content)
        body: dict[str, Any] = {
            "model": self.model,
            "max_tokens": self.max_tokens,
            "messages": _turns(messages),
        }
        if system:
            body["system"] = system
        if tools:
            body["tools"] = [
                {"name": t.name, "description": t.description, "input_schema": t.parameters}
                for t in tools
            ]
            choice: dict[str, Any] = {"type": _CHOICES[self.tool_choice]}
            if self.parallel_tool_calls is False and self.tool_choice != "none":
                choice["disable_parallel_tool_use"] = True
            body["tool_choice"] = choice
        if self.stream:
            body["stream"] = True
        body.update(self.params)
        return body

    async def complete(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec],
        *,
        step: int,
        on_delta: OnDelta | None = None,
    ) -> ModelResponse:
        body = self.request_body(messages, tools)
        key = self._key()
        if not key:
            raise ProviderRequestError(
                f"{self.spec} needs an API key and none is set",
                retryable=False,
                hint=f"`agentctl keys set anthropic`, or export {self._key_env or 'ANTHROPIC_API_KEY'}",
            )
        headers = {
            "x-api-key": key,
            "anthropic-version": API_VERSION,
            "Accept": "text/event-stream" if self.stream else "application/json",
        }
        common: dict[str, Any] = {
            "headers": headers,
            "spec": self.spec,
            "secret": key,
            "key_env": self._key_env,
            "timeouts": self.timeouts,
        }
        if not self.stream:
            reply = await post_json(self._client, self.url, body, **common)
            return self._parse(reply, step)
        async with post_stream(self._client, self.url, body, **common) as opened:
            if opened.json_reply is not None:
                return self._parse(opened.json_reply, step)
            assert opened.events is not None
            message: dict[str, Any] = {"content": [], "usage": {}}
            first_token_ms: float | None = None
            stopped = False
            async for event in opened.events:
                data = sse_json(self.spec, self.url, event)
                if not isinstance(data, dict):
                    raise stream_broken(self.spec, self.url, "an event that is not a JSON object")
                kind = data.get("type", event.event)
                if kind == "message_stop":
                    stopped = True
                    break
                if kind == "error":
                    error = _mapping(data.get("error"))
                    detail = str(error.get("message") or data)[:300].replace(key, "***")
                    raise ProviderRequestError(
                        f"{self.spec}: the server reported an error mid-stream: {detail}",
                        retryable=True,
                    )
                delta = _fold_event(message, kind, data)
                if delta is not None:
                    if first_token_ms is None:
                        first_token_ms = (time.perf_counter() - opened.started) * 1000.0
                    await emit(on_delta, delta)
            if not stopped:
                raise stream_broken(self.spec, self.url, "it ended before `message_stop`")
            latency_ms = (time.perf_counter() - opened.started) * 1000.0
        for block in message["content"]:
            if block.get("type") == "tool_use":
                block["input"] = parse_arguments(
                    block.pop("partial_json", "") or block.get("input")
                )
        return self._parse(JsonReply(message, latency_ms), step, first_token_ms)

    def _parse(
        self, reply: JsonReply, step: int, first_token_ms: float | None = None
    ) -> ModelResponse:
        body, latency_ms = reply.body, reply.latency_ms
        if not isinstance(body, dict) or not isinstance(body.get("content"), list):
            raise malformed_reply(self.spec, self.url, "no `content` list in the reply")
        texts: list[str] = []
        thinking: list[str] = []
        calls: list[ToolCall] = []
        for index, block in enumerate(body["content"]):
            if not isinstance(block, dict):
                continue
            if block.get("type") == "text":
                texts.append(str(block.get("text", "")))
            elif block.get("type") == "thinking":
                thinking.append(str(block.get("thinking", "")))
            elif block.get("type") == "tool_use":
                raw_input = block.get("input")
                calls.append(
                    ToolCall(
                        id=str(block.get("id") or f"toolu_{step}_{index}"),
                        name=str(block.get("name") or ""),
                        arguments=(
                            {str(k): v for k, v in raw_input.items()}
                            if isinstance(raw_input, dict)
                            else str(raw_input)
                        ),
                    )
                )
            # Other blocks (redacted_thinking, ...) carry nothing the runtime uses.
        raw_usage = body.get("usage")
        usage_body: dict[str, Any] = raw_usage if isinstance(raw_usage, dict) else {}
        if not usage_body:
            usage = Usage(reported=False)
        else:
            # Cached prompt tokens are still input the session consumed.
            input_tokens = sum(
                _int(usage_body.get(key))
                for key in (
                    "input_tokens",
                    "cache_creation_input_tokens",
                    "cache_read_input_tokens",
                )
            )
            usage = Usage(
                input_tokens=input_tokens, output_tokens=_int(usage_body.get("output_tokens"))
            )
        return ModelResponse(
            text="".join(texts),
            tool_calls=tuple(calls),
            usage=usage,
            cost_usd=cost_usd(self._price, usage),
            latency_ms=latency_ms,
            reasoning="".join(thinking),
            first_token_ms=first_token_ms,
        )

    async def aclose(self) -> None:
        await self._client.aclose()


_CHOICES = {"auto": "auto", "required": "any", "none": "none"}


def _fold_event(message: dict[str, Any], kind: str, data: dict[str, Any]) -> Delta | None:
    """One stream event folded into `message` (the non-streamed reply's shape); what it added."""
    blocks: list[dict[str, Any]] = message["content"]
    if kind == "message_start":
        start = _mapping(data.get("message"))
        if isinstance(start.get("usage"), dict):
            message["usage"].update(start["usage"])
        return None
    if kind == "message_delta":
        if isinstance(data.get("usage"), dict):
            message["usage"].update(data["usage"])
        return None
    index = data.get("index")
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        return None
    while len(blocks) <= index:
        blocks.append({"type": "text", "text": ""})
    if kind == "content_block_start":
        block = data.get("content_block")
        if isinstance(block, dict):
            blocks[index] = (
                {**block, "partial_json": ""} if block.get("type") == "tool_use" else dict(block)
            )
            if block.get("type") == "tool_use":
                blocks[index].pop("input", None)
                return Delta(
                    tool_calls=(
                        ToolCallDelta(index, str(block.get("id", "")), str(block.get("name", ""))),
                    )
                )
        return None
    if kind != "content_block_delta" or not isinstance(data.get("delta"), dict):
        return None
    delta, block = data["delta"], blocks[index]
    if delta.get("type") == "text_delta":
        text = str(delta.get("text", ""))
        block["text"] = str(block.get("text", "")) + text
        return Delta(text=text)
    if delta.get("type") == "thinking_delta":
        text = str(delta.get("thinking", ""))
        block["thinking"] = str(block.get("thinking", "")) + text
        return Delta(reasoning=text)
    if delta.get("type") == "input_json_delta":
        piece = str(delta.get("partial_json", ""))
        block["partial_json"] = str(block.get("partial_json", "")) + piece
        return Delta(
            tool_calls=(
                ToolCallDelta(index, str(block.get("id", "")), str(block.get("name", "")), piece),
            )
        )
    return None


def _turns(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """User/assistant turns as content blocks, merging neighbours of the same role."""
    turns: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "system":
            continue
        role = "assistant" if message.role == "assistant" else "user"
        blocks = _blocks(message)
        if not blocks:
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    return turns


def _blocks(message: Message) -> list[dict[str, Any]]:
    if message.role == "tool":
        return [
            {
                "type": "tool_result",
                "tool_use_id": message.tool_call_id or "",
                "content": message.content,
            }
        ]
    blocks: list[dict[str, Any]] = []
    if message.content:
        blocks.append({"type": "text", "text": message.content})
    for call in message.tool_calls:
        blocks.append(
            {
                "type": "tool_use",
                "id": call.id,
                "name": call.name,
                "input": arguments_object(call.arguments),
            }
        )
    return blocks


def _mapping(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
