"""The provider contract: what the runtime sends a model and what it gets back.

Plain frozen dataclasses, because they live inside the runtime; the pydantic
models are at the edges (the recording file, the HTTP bodies). A provider makes
exactly one attempt per `complete` call: retries, backoff and the circuit
breaker belong to the caller (`retry.call_with_retries`), so that every attempt
becomes an event in the log (docs/design.md §3, §4).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from agentctl.errors import ProviderError

Role = Literal["system", "user", "assistant", "tool"]


@dataclass(frozen=True)
class ToolSpec:
    """A tool offered to the model; `parameters` is the JSON schema of its arguments."""

    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(frozen=True)
class ToolCall:
    """A tool call the model asked for.

    `arguments` is the parsed object when the model gave a JSON object, else the
    raw string exactly as given. Providers never raise on malformed arguments:
    the runtime turns them into an error result the model can correct (docs/design.md §4).
    """

    id: str
    name: str
    arguments: str | dict[str, Any]


@dataclass(frozen=True)
class Message:
    role: Role
    content: str
    tool_calls: tuple[ToolCall, ...] = ()  # assistant turns
    tool_call_id: str | None = None  # tool turns
    name: str | None = None  # tool name, for tool turns


@dataclass(frozen=True)
class Usage:
    """Tokens of one response. `reported` is False when the server sent no usage at all
    (some local servers, some streams): the counts are then 0 and the cost unknown."""

    input_tokens: int = 0
    output_tokens: int = 0
    reported: bool = True


@dataclass(frozen=True)
class ModelResponse:
    text: str
    tool_calls: tuple[ToolCall, ...]
    usage: Usage
    cost_usd: float | None  # None: no price known for the model, or no usage reported
    latency_ms: float
    reasoning: str = ""  # a reasoning model's thinking, when the server returns it
    first_token_ms: float | None = None  # streamed: when the first delta arrived


@dataclass(frozen=True)
class ToolCallDelta:
    """A tool call as it forms in a stream: `arguments` is the text received so far."""

    index: int
    id: str = ""
    name: str = ""
    arguments: str = ""


@dataclass(frozen=True)
class Delta:
    """New text, reasoning or tool-call text of a streamed response, as it arrives.

    Deltas are shown live and never stored: only the finished `ModelResponse`
    is committed (one `model.responded` per call).
    """

    text: str = ""
    reasoning: str = ""
    tool_calls: tuple[ToolCallDelta, ...] = field(default_factory=tuple)


OnDelta = Callable[[Delta], Awaitable[None] | None]


class ProviderRequestError(ProviderError):
    """A failed request to a model endpoint.

    Carries `retry_after_s` when the server said how long to wait (Retry-After),
    so the backoff can honour it.
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        status: int | None = None,
        retry_after_s: float | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, retryable=retryable, status=status, hint=hint)
        self.retry_after_s = retry_after_s
        self.fingerprint: str | None = None  # the reply's status and body, hashed
        self.dropped = False  # the connection was made, then dropped mid-request


def retry_after_of(error: ProviderError) -> float | None:
    """The server's Retry-After carried by `error`, in seconds, if any."""
    value = getattr(error, "retry_after_s", None)
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    return None


class Provider(ABC):
    """One model endpoint. Subclasses set `spec` and `endpoint` in `__init__`."""

    spec: str  # e.g. "openai:gpt-4o-mini", "replay:/path/x.jsonl"
    endpoint: str  # the key of its circuit breaker: base URL, or "replay:<path>"

    @abstractmethod
    async def complete(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec],
        *,
        step: int,
        on_delta: OnDelta | None = None,
    ) -> ModelResponse:
        """Ask the model once. `step` is how many responses the session already has.

        A provider that streams calls `on_delta` with each piece as it arrives.

        Raises `ProviderError`: retryable on timeouts, connection errors, 429 and
        5xx; not retryable on other 4xx and on answers that cannot be used.
        """

    async def summarise(self, messages: Sequence[Message], *, index: int) -> ModelResponse:
        """Write the summary of a context compaction (docs/context.md): one attempt, no
        tools. `index` is how many compactions the session's model already made (a
        recording answers by it, as it answers `complete` by step)."""
        return await self.complete(messages, (), step=index)

    async def aclose(self) -> None:  # noqa: B027 - a no-op default is the point
        """Release connections; providers without any keep this no-op."""

    async def __aenter__(self) -> Provider:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    @property
    def price_known(self) -> bool:
        """Whether a cost can be computed for this model (see `pricing`)."""
        return False

    def __repr__(self) -> str:
        # Never a field dump: a provider holds an API key.
        return f"<{type(self).__name__} {self.spec}>"
