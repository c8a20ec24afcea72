"""What one model reply may bring into the log, and how it is made to fit.

The model is not trusted (docs/security.md). Its reply becomes a
`model.responded` event, which must fit the store's 1 MB and hold only text
UTF-8 can encode; its call ids must not be anything a later step could
mistake for a name (they stay in the conversation only: files are keyed by
`ids.call_ref`); its token counts feed budgets, so they must be whole and
non-negative. What does not fit is cut or refused here, and the log says so,
to the model and to a person reading it.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from agentctl.errors import ProviderError
from agentctl.protocol import ToolCallData, UsageData
from agentctl.providers import ToolCall
from agentctl.providers.base import ModelResponse

log = logging.getLogger(__name__)

# What one model reply may bring into the log. An event holds at most the
# store's limit (1 MB of JSON); a reply is cut to fit well inside it, and what
# is cut is said, to the model and to a person reading the log.
MAX_REPLY_TEXT_BYTES = 256_000
MAX_REPLY_ARGS_BYTES = 512_000  # all the calls of one reply together
MAX_CALL_ID_CHARS = 128
MAX_CALL_NAME_CHARS = 128
MAX_CALLS_PER_REPLY = 64
MAX_TOKENS_PER_REPLY = 1_000_000_000
MAX_ERROR_BYTES = 16_000  # an error result (it may quote a path the model gave)
MAX_CONTEXT_BYTES = 64_000  # the agent's last message and the diff shown to an approver


_UNENCODABLE = re.compile("[\x00\ud800-\udfff]")


def _json_size(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False).encode("utf-8"))


def _scrub(value: Any) -> Any:
    """Strings the log can hold: no NUL, no lone surrogate (neither encodes as UTF-8)."""
    if isinstance(value, str):
        if "\0" in value or _has_surrogates(value):
            return _UNENCODABLE.sub("\ufffd", value)
        return value
    if isinstance(value, dict):
        return {_scrub(k): _scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\0" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def _has_surrogates(text: str) -> bool:
    return any("\ud800" <= ch <= "\udfff" for ch in text)


def clean_text(text: str, limit: int) -> str:
    """Model text as the log keeps it: scrubbed, and at most `limit` bytes of JSON."""
    text = _scrub(text)
    size = _json_size(text)
    if size <= limit:
        return text
    kept = text
    while _json_size(kept) > limit:  # escapes (control characters) can make JSON 6x the text
        kept = kept[: max(len(kept) * limit // _json_size(kept) - 1, 0)]
    return kept + f"\n[cut: {size} bytes, more than the {limit} the log keeps of it]"


def _plain_id(call_id: str) -> bool:
    return 0 < len(call_id) <= MAX_CALL_ID_CHARS and call_id.isascii() and call_id.isprintable()


def recorded_calls(
    calls: tuple[ToolCall, ...], step: int
) -> tuple[list[ToolCallData], dict[str, str]]:
    """The reply's calls as the log records them.

    An id that is empty, long, or not plain printable ASCII is replaced by one of
    ours (the conversation stays consistent: it echoes what the log holds); names
    are cut; arguments too large for the log are dropped and the call is refused
    with a reason the model can act on, as is one with a NUL byte in its arguments.
    """
    seen: set[str] = set()
    out = []
    refused: dict[str, str] = {}
    room = MAX_REPLY_ARGS_BYTES
    for i, call in enumerate(calls[:MAX_CALLS_PER_REPLY]):
        call_id = call.id if _plain_id(call.id) else f"call_{step}_{i}"
        while call_id in seen:  # two calls under one id would be one call in the fold
            call_id = f"{call_id}_{i}"
        seen.add(call_id)
        name = clean_text(call.name, MAX_CALL_NAME_CHARS)
        args: dict[str, Any] | str = _scrub(call.arguments)
        refusal = None
        size = _json_size(args)
        if size > room:
            args = f"(arguments of {size} bytes dropped)"
            refusal = (
                f"the arguments of this call were {size} bytes, more than the "
                f"{MAX_REPLY_ARGS_BYTES} the calls of one reply may carry together: "
                "split the work into smaller calls (e.g. write a file in parts)"
            )
        elif _has_nul(call.arguments):
            refusal = "the arguments of this call contain a NUL byte, which no tool accepts"
            room -= size
        else:
            room -= size
        out.append(ToolCallData(id=call_id, name=name, args=args))
        if refusal is not None:
            refused[call_id] = refusal
    if len(calls) > MAX_CALLS_PER_REPLY:
        log.warning("a reply asked for %d tool calls; kept %d", len(calls), MAX_CALLS_PER_REPLY)
    return out, refused


def checked_usage(response: ModelResponse) -> UsageData:
    """The reply's token counts, which budgets add up: whole, non-negative, plausible."""
    counts = {
        "input_tokens": response.usage.input_tokens,
        "output_tokens": response.usage.output_tokens,
    }
    for name, value in counts.items():
        if (
            not isinstance(value, int)
            or isinstance(value, bool)
            or not 0 <= value <= MAX_TOKENS_PER_REPLY
        ):
            raise ProviderError(
                f"the reply reports an invalid token count ({name}={value!r}): "
                f"counts must be whole numbers from 0 to {MAX_TOKENS_PER_REPLY}, "
                "or token budgets mean nothing",
                retryable=False,
            )
    cost = response.cost_usd
    if not isinstance(cost, int | float) or not 0 <= cost < 1e6:
        raise ProviderError(f"the reply's cost is invalid ({cost!r} USD)", retryable=False)
    return UsageData(**counts)


__all__ = [
    "MAX_CONTEXT_BYTES",
    "MAX_ERROR_BYTES",
    "MAX_REPLY_TEXT_BYTES",
    "checked_usage",
    "clean_text",
    "recorded_calls",
]
