"""`openai:MODEL`: any server that speaks OpenAI's Chat Completions API.

OpenAI itself, Ollama, vLLM, llama.cpp, LM Studio and most gateways
(DESIGN §9). Plain httpx, no SDK, so the core runs without provider packages.
No API key is fine: local servers do not want one, and then no Authorization
header is sent at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from agentctl.providers.arguments import arguments_json, parse_arguments
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

DEFAULT_BASE_URL = "https://api.openai.com/v1"


class OpenAIChatProvider(Provider):
    def __init__(
        self,
        model: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        api_key: str | None = None,
        api_key_env: str | None = None,
        timeout_s: float = 120.0,
        prices: Prices | None = None,
    ) -> None:
        self.model = model
        self.spec = f"openai:{model}"
        self.base_url = base_url.rstrip("/")
        self.endpoint = self.base_url
        self.url = f"{self.base_url}/chat/completions"
        self._api_key = api_key or None
        self._key_env = api_key_env
        self._prices = prices
        self._client = httpx.AsyncClient(timeout=httpx.Timeout(timeout_s))

    async def complete(
        self, messages: Sequence[Message], tools: Sequence[ToolSpec], *, step: int
    ) -> ModelResponse:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [_message_to_wire(m) for m in messages],
        }
        if tools:
            body["tools"] = [_tool_to_wire(t) for t in tools]
        headers = {"Accept": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
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
        if not isinstance(body, dict):
            raise malformed_reply(self.spec, self.url, "the body is not a JSON object")
        choices = body.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise malformed_reply(self.spec, self.url, "no `choices` in the reply")
        message = choices[0].get("message")
        if not isinstance(message, dict):
            raise malformed_reply(self.spec, self.url, "no `choices[0].message` in the reply")

        calls: list[ToolCall] = []
        raw_calls = message.get("tool_calls") or []
        if not isinstance(raw_calls, list):
            raise malformed_reply(self.spec, self.url, "`tool_calls` is not a list")
        for index, raw in enumerate(raw_calls):
            function = raw.get("function") if isinstance(raw, dict) else None
            if not isinstance(function, dict):
                raise malformed_reply(self.spec, self.url, f"tool call {index} has no `function`")
            call_id = raw.get("id") if isinstance(raw, dict) else None
            calls.append(
                ToolCall(
                    # Some local servers omit ids; a stable one keeps replays deterministic.
                    id=str(call_id) if call_id else f"call_{step}_{index}",
                    name=str(function.get("name") or ""),
                    arguments=parse_arguments(function.get("arguments")),
                )
            )

        usage_body = body.get("usage")
        usage = Usage(
            input_tokens=_int(usage_body, "prompt_tokens"),
            output_tokens=_int(usage_body, "completion_tokens"),
        )
        return ModelResponse(
            text=_text(message.get("content")),
            tool_calls=tuple(calls),
            usage=usage,
            cost_usd=cost_usd(self._prices, self.model, usage),
            latency_ms=latency_ms,
        )

    async def aclose(self) -> None:
        await self._client.aclose()


def _message_to_wire(message: Message) -> dict[str, Any]:
    if message.role == "tool":
        return {
            "role": "tool",
            "tool_call_id": message.tool_call_id or "",
            "content": message.content,
        }
    wire: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.role == "assistant" and message.tool_calls:
        # OpenAI wants null, not "", beside tool calls with no text.
        wire["content"] = message.content or None
        wire["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": arguments_json(call.arguments)},
            }
            for call in message.tool_calls
        ]
    return wire


def _tool_to_wire(tool: ToolSpec) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": tool.name,
            "description": tool.description,
            "parameters": tool.parameters,
        },
    }


def _text(content: object) -> str:
    """`content` is a string, null, or (some servers) a list of typed parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(part.get("text", ""))
            for part in content
            if isinstance(part, dict) and part.get("type") == "text"
        )
    return ""


def _int(body: object, key: str) -> int:
    if isinstance(body, Mapping):
        value = body.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return 0
