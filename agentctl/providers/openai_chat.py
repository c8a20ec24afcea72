"""`openai:MODEL`: any server that speaks OpenAI's Chat Completions API.

OpenAI itself, Ollama, vLLM, llama.cpp, LM Studio, LiteLLM and most gateways
(docs/design.md §9). Plain httpx, no SDK, so the core runs without provider packages.
No API key is fine: local servers do not want one, and then no Authorization
header is sent at all.

What real servers need, and why it is done this way:

- an assistant turn with tool calls carries `"content": ""`, not null:
  llama-cpp-python answers null with HTTP 500, and every other server
  accepts the empty string;
- `tool_choice` is always sent with tools (`auto` unless configured):
  llama.cpp's function-calling chat format leaves the tools out of the
  prompt without it, and the model then answers in prose;
- the reply is streamed (SSE) so a person sees it as it forms; a server
  that ignores `stream` and answers with JSON is read as JSON, and one that
  answers a request with tools with an empty stream (llama-cpp-python's
  function calling cannot stream `auto`) is asked again without streaming;
- reasoning models' `reasoning_content` / `reasoning` are kept;
- usage may be missing (no cost then) or partial (a total and one part).
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from agentctl.config import ToolChoice
from agentctl.providers.arguments import arguments_json, parse_arguments
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
from agentctl.providers.pricing import Prices, cost_usd, price_of
from agentctl.providers.textcalls import parse_text_tool_calls
from agentctl.providers.transport import (
    JsonReply,
    Timeouts,
    malformed_reply,
    post_json,
    post_stream,
    sse_json,
    stream_broken,
)

DEFAULT_BASE_URL = "https://api.openai.com/v1"

KeySource = Callable[[], str | None]


def key_source(api_key: str | KeySource | None) -> KeySource:
    if callable(api_key):
        return api_key
    value = api_key or None
    return lambda: value


async def emit(on_delta: OnDelta | None, delta: Delta) -> None:
    if on_delta is None:
        return
    result = on_delta(delta)
    if inspect.isawaitable(result):
        await result


class OpenAIChatProvider(Provider):
    def __init__(
        self,
        model: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        api_key: str | KeySource | None = None,
        api_key_env: str | None = None,
        timeout_s: float | None = None,
        timeouts: Timeouts | None = None,
        prices: Prices | None = None,
        spec: str | None = None,
        headers: Mapping[str, str] | None = None,
        tool_choice: ToolChoice = "auto",
        parallel_tool_calls: bool | None = None,
        stream: bool = True,
        stream_tools: bool | None = None,
        text_tool_calls: bool = False,
        params: Mapping[str, Any] | None = None,
    ) -> None:
        self.model = model
        self.spec = spec or f"openai:{model}"
        self.base_url = base_url.rstrip("/")
        self.endpoint = self.base_url
        self.url = f"{self.base_url}/chat/completions"
        self.tool_choice = tool_choice
        self.parallel_tool_calls = parallel_tool_calls
        self.stream = stream
        # False when configured so, or once the server showed it cannot stream tool calls.
        self.stream_tools = stream if stream_tools is None else stream_tools
        self._streamed_tools = False  # it did stream one: an empty stream is then a glitch
        self.text_tool_calls = text_tool_calls
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
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [_message_to_wire(m) for m in messages],
        }
        if tools:
            body["tools"] = [_tool_to_wire(t) for t in tools]
            body["tool_choice"] = self.tool_choice
            if self.parallel_tool_calls is not None:
                body["parallel_tool_calls"] = self.parallel_tool_calls
        if self.stream and (self.stream_tools or not tools):
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
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
        headers = {"Accept": "text/event-stream" if self.stream else "application/json"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        names = [t.name for t in tools]
        if not body.get("stream"):
            reply = await post_json(
                self._client,
                self.url,
                body,
                headers=headers,
                spec=self.spec,
                secret=key,
                key_env=self._key_env,
                timeouts=self.timeouts,
            )
            return self._parse(reply, step, names)
        assembly = _Assembly()
        seen = 0
        try:
            async with post_stream(
                self._client,
                self.url,
                body,
                headers=headers,
                spec=self.spec,
                secret=key,
                key_env=self._key_env,
                timeouts=self.timeouts,
            ) as opened:
                if opened.json_reply is not None:
                    return self._parse(opened.json_reply, step, names)
                assert opened.events is not None
                async for event in opened.events:
                    seen += 1
                    if event.data.strip() == "[DONE]":
                        assembly.done = True
                        break
                    chunk = sse_json(self.spec, self.url, event)
                    delta = assembly.add(chunk, self.spec, self.url, key)
                    if delta is not None:
                        if assembly.first_token_ms is None:
                            started = opened.started
                            assembly.first_token_ms = (time.perf_counter() - started) * 1000.0
                        await emit(on_delta, delta)
                if seen == 0 and tools and not self._streamed_tools:
                    raise _CannotStream
                if not assembly.done and assembly.finish_reason is None:
                    raise stream_broken(
                        self.spec, self.url, "it ended before the reply was complete"
                    )
                latency_ms = (time.perf_counter() - opened.started) * 1000.0
        except (_CannotStream, ProviderRequestError) as exc:
            dropped = isinstance(exc, ProviderRequestError) and exc.dropped
            cannot = isinstance(exc, _CannotStream) or (
                dropped and seen == 0 and bool(tools) and not self._streamed_tools
            )
            if not cannot:
                raise
            # A stream that ends, or a connection dropped, before the first event,
            # for a request with tools: the server cannot stream this request.
            # llama-cpp-python's function calling does so with tool_choice
            # "auto". Ask again without streaming, and keep doing so for
            # requests with tools.
            self.stream_tools = False
            return await self.complete(messages, tools, step=step, on_delta=on_delta)
        if tools:
            self._streamed_tools = True
        message: dict[str, Any] = {
            "content": assembly.text,
            "reasoning_content": assembly.reasoning,
            "tool_calls": [
                {
                    "id": call.id,
                    "function": {"name": call.name, "arguments": call.arguments},
                }
                for _, call in sorted(assembly.calls.items())
            ],
        }
        return self._response(
            message, assembly.usage, latency_ms, step, names, assembly.first_token_ms
        )

    def _parse(self, reply: JsonReply, step: int, names: Sequence[str]) -> ModelResponse:
        body = reply.body
        if not isinstance(body, dict):
            raise malformed_reply(self.spec, self.url, "the body is not a JSON object")
        choices = body.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise malformed_reply(self.spec, self.url, "no `choices` in the reply")
        message = choices[0].get("message")
        if not isinstance(message, dict):
            raise malformed_reply(self.spec, self.url, "no `choices[0].message` in the reply")
        return self._response(message, body.get("usage"), reply.latency_ms, step, names, None)

    def _response(
        self,
        message: Mapping[str, Any],
        usage_body: object,
        latency_ms: float,
        step: int,
        names: Sequence[str],
        first_token_ms: float | None,
    ) -> ModelResponse:
        raw_calls = message.get("tool_calls") or []
        if not isinstance(raw_calls, list):
            raise malformed_reply(self.spec, self.url, "`tool_calls` is not a list")
        legacy = message.get("function_call")  # the pre-tools shape some servers still send
        if not raw_calls and isinstance(legacy, dict):
            raw_calls = [{"function": legacy}]
        calls: list[ToolCall] = []
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
        text = _text(message.get("content"))
        if self.text_tool_calls and not calls:
            text, found = parse_text_tool_calls(text, names)
            calls = [
                ToolCall(id=f"call_{step}_{i}", name=c.name, arguments=c.arguments)
                for i, c in enumerate(found)
            ]
        reasoning = message.get("reasoning_content") or message.get("reasoning") or ""
        usage = usage_of(usage_body)
        return ModelResponse(
            text=text,
            tool_calls=tuple(calls),
            usage=usage,
            cost_usd=cost_usd(self._price, usage),
            latency_ms=latency_ms,
            reasoning=reasoning if isinstance(reasoning, str) else "",
            first_token_ms=first_token_ms,
        )

    async def aclose(self) -> None:
        await self._client.aclose()


class _CannotStream(Exception):
    """A request with tools got a stream with no event: ask again without streaming."""


@dataclass
class _CallParts:
    id: str = ""
    name: str = ""
    arguments: str = ""


@dataclass
class _Assembly:
    """A streamed reply put back together, chunk by chunk."""

    text: str = ""
    reasoning: str = ""
    calls: dict[int, _CallParts] = field(default_factory=dict)
    usage: object = None
    finish_reason: str | None = None
    done: bool = False
    first_token_ms: float | None = None

    def add(self, chunk: Any, spec: str, url: str, secret: str | None) -> Delta | None:
        if not isinstance(chunk, dict):
            raise stream_broken(spec, url, "an event that is not a JSON object")
        error = chunk.get("error")
        if error is not None:
            detail = error.get("message") if isinstance(error, dict) else error
            text = str(detail)[:300]
            if secret:
                text = text.replace(secret, "***")
            raise ProviderRequestError(
                f"{spec}: the server reported an error mid-stream: {text}", retryable=True
            )
        if chunk.get("usage"):
            self.usage = chunk["usage"]
        choices = chunk.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            return None
        choice = choices[0]
        if choice.get("finish_reason"):
            self.finish_reason = str(choice["finish_reason"])
        delta = choice.get("delta") or choice.get("message") or {}
        if not isinstance(delta, dict):
            return None
        text = _text(delta.get("content"))
        reasoning = delta.get("reasoning_content") or delta.get("reasoning") or ""
        reasoning = reasoning if isinstance(reasoning, str) else ""
        self.text += text
        self.reasoning += reasoning
        call_deltas: list[ToolCallDelta] = []
        raw_calls = delta.get("tool_calls") or []
        for raw in raw_calls if isinstance(raw_calls, list) else []:
            if not isinstance(raw, dict):
                continue
            index = self._index_of(raw)
            parts = self.calls.setdefault(index, _CallParts())
            function = _mapping(raw.get("function"))
            if raw.get("id"):
                parts.id = str(raw["id"])
            if function.get("name") and not parts.name:  # sent once, or (some servers) each time
                parts.name = str(function["name"])
            args = function.get("arguments")
            piece = (
                args
                if isinstance(args, str)
                else (arguments_json(args) if isinstance(args, dict) else "")
            )
            parts.arguments += piece
            call_deltas.append(ToolCallDelta(index, parts.id, parts.name, piece))
        if not (text or reasoning or call_deltas):
            return None
        return Delta(text=text, reasoning=reasoning, tool_calls=tuple(call_deltas))

    def _index_of(self, raw: dict[str, Any]) -> int:
        index = raw.get("index")
        if isinstance(index, int) and not isinstance(index, bool):
            return index
        # No index (some servers send each call whole): a new id or name is a new call.
        call_id = raw.get("id")
        for known, parts in self.calls.items():
            if call_id and parts.id == call_id:
                return known
        function = _mapping(raw.get("function"))
        if call_id or function.get("name") or not self.calls:
            return len(self.calls)
        return max(self.calls)


def usage_of(body: object) -> Usage:
    """Chat Completions usage, tolerating a missing body and partial counts."""
    if not isinstance(body, Mapping):
        return Usage(reported=False)
    prompt = _count(body, "prompt_tokens", "input_tokens")
    completion = _count(body, "completion_tokens", "output_tokens")
    total = _count(body, "total_tokens")
    if prompt is None and completion is None and total is None:
        return Usage(reported=False)
    if total is not None:  # one part and the total give the other
        if prompt is None and completion is not None:
            prompt = max(0, total - completion)
        elif completion is None and prompt is not None:
            completion = max(0, total - prompt)
        elif prompt is None and completion is None:
            prompt = total
    return Usage(input_tokens=prompt or 0, output_tokens=completion or 0)


def _mapping(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _count(body: Mapping[str, Any], *keys: str) -> int | None:
    """The first count present. A negative or absurd one is passed on as it is: the
    runtime refuses it with a reason (`replies.checked_usage`) rather than count 0."""
    for key in keys:
        value = body.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def _message_to_wire(message: Message) -> dict[str, Any]:
    if message.role == "tool":
        return {
            "role": "tool",
            "tool_call_id": message.tool_call_id or "",
            "content": message.content,
        }
    wire: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.role == "assistant" and message.tool_calls:
        # "" and not null beside tool calls: llama-cpp-python answers null with a 500,
        # and OpenAI, vLLM, Ollama and LiteLLM all take the empty string.
        wire["content"] = message.content or ""
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


__all__ = ["DEFAULT_BASE_URL", "KeySource", "OpenAIChatProvider", "emit", "key_source", "usage_of"]
