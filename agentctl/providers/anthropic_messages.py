"""`anthropic:MODEL`: Anthropic's Messages API over plain httpx.

No SDK, like the OpenAI provider, so the core runs without provider packages
and both share one error mapping (`transport`). The Messages API differs from
Chat Completions in three ways that shape this module: the system prompt is a
top-level field; tool calls are `tool_use` content blocks and their results
are `tool_result` blocks inside a *user* turn; and user and assistant turns
must alternate, so consecutive turns of the same role are merged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from agentctl.providers.arguments import arguments_object
from agentctl.providers.base import (
    Message,
    ModelResponse,
    Provider,
    ToolCall,
    ToolSpec,
    Usage,
)
from agentctl.providers.pricing import Prices, cost_usd
from agentctl.providers.transport import malformed_reply, post_json

DEFAULT_BASE_URL = "https://api.anthropic.com"
API_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 4096


class AnthropicMessagesProvider(Provider):
    def __init__(
        self,
        model: str,
        *,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        api_key_env: str | None = None,
        timeout_s: float = 120.0,
        prices: Prices | None = None,
        max_tokens: int = DEFAULT_MAX_TOKENS,
    ) -> None:
        self.model = model
        self.spec = f"anthropic:{model}"
        base = base_url.rstrip("/")
        # Accept a base URL given with or without the trailing /v1.
        self.base_url = base.removesuffix("/v1")
        self.endpoint = self.base_url
        self.url = f"{self.base_url}/v1/messages"
        self.max_tokens = max_tokens
        self._api_key = api_key
        self._key_env = api_key_env
        self._prices = prices
        self._client = httpx.AsyncClient(timeout=httpx.Timeout(timeout_s))

    async def complete(
        self, messages: Sequence[Message], tools: Sequence[ToolSpec], *, step: int
    ) -> ModelResponse:
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
        headers = {
            "x-api-key": self._api_key,
            "anthropic-version": API_VERSION,
            "Accept": "application/json",
        }
        reply = await post_json(
            self._client,
            self.url,
            body,
            headers=headers,
            spec=self.spec,
            secret=self._api_key,
            key_env=self._key_env,
        )
        return self._parse(reply.body, reply.latency_ms, step)

    def _parse(self, body: Any, latency_ms: float, step: int) -> ModelResponse:
        if not isinstance(body, dict) or not isinstance(body.get("content"), list):
            raise malformed_reply(self.spec, self.url, "no `content` list in the reply")
        texts: list[str] = []
        calls: list[ToolCall] = []
        for index, block in enumerate(body["content"]):
            if not isinstance(block, dict):
                continue
            if block.get("type") == "text":
                texts.append(str(block.get("text", "")))
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
            # Other blocks (thinking, redacted_thinking, ...) carry nothing the runtime uses.
        raw_usage = body.get("usage")
        usage_body: dict[str, Any] = raw_usage if isinstance(raw_usage, dict) else {}
        # Cached prompt tokens are still input the session consumed.
        input_tokens = sum(
            _int(usage_body.get(key))
            for key in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
        )
        usage = Usage(
            input_tokens=input_tokens, output_tokens=_int(usage_body.get("output_tokens"))
        )
        return ModelResponse(
            text="".join(texts),
            tool_calls=tuple(calls),
            usage=usage,
            cost_usd=cost_usd(self._prices, self.model, usage),
            latency_ms=latency_ms,
        )

    async def aclose(self) -> None:
        await self._client.aclose()


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


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
