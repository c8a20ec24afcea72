"""Model providers: one contract (`base`), three implementations, and the retry loop.

`replay:PATH` plays a recording back; `openai:MODEL` speaks to any
OpenAI-compatible server; `anthropic:MODEL` to Anthropic's Messages API. Both
HTTP providers use httpx directly, so no provider SDK is needed (docs/design.md §9).
"""

from agentctl.providers.base import (
    Message,
    ModelResponse,
    Provider,
    ProviderRequestError,
    ToolCall,
    ToolSpec,
    Usage,
    retry_after_of,
)
from agentctl.providers.loader import load_provider
from agentctl.providers.recording import (
    Recording,
    RecordingHeader,
    load_recording,
    response_from_data,
    response_to_data,
    write_recording,
)
from agentctl.providers.retry import (
    CircuitBreaker,
    CircuitOpenError,
    RetryPolicy,
    breaker_for,
    call_with_retries,
)

__all__ = [
    "CircuitBreaker",
    "CircuitOpenError",
    "Message",
    "ModelResponse",
    "Provider",
    "ProviderRequestError",
    "Recording",
    "RecordingHeader",
    "RetryPolicy",
    "ToolCall",
    "ToolSpec",
    "Usage",
    "breaker_for",
    "call_with_retries",
    "load_provider",
    "load_recording",
    "response_from_data",
    "response_to_data",
    "retry_after_of",
    "write_recording",
]
