"""One JSON POST to a model endpoint, with every failure mapped to a `ProviderError`.

Both HTTP providers share this so that "what is retryable" is decided in one
place (DESIGN §4): timeouts, connection errors, 408, 429 and 5xx are
transient; other 4xx are the caller's mistake and retrying cannot help.

A 200 whose body is not JSON is treated as *retryable*: a real API never sends
one on purpose, so it is almost always a proxy, gateway or load balancer
glitch (a truncated body, an HTML error page) that a second attempt gets past.
A 200 with valid JSON of the wrong shape is the opposite case (a base URL that
points at something that is not this API) and is reported by the provider as
not retryable.

The API key must never reach a message: server error bodies sometimes echo it
(OpenAI's "Incorrect API key provided: sk-..."), so every text taken from a
response is passed through `redact`, and URLs are shown without user info.
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from agentctl.providers.base import ProviderRequestError

RETRYABLE_STATUSES = frozenset({408, 429})
_DETAIL_LIMIT = 300


@dataclass(frozen=True)
class JsonReply:
    body: Any
    latency_ms: float


def redact(text: str, secret: str | None) -> str:
    if secret:
        text = text.replace(secret, "***")
    return text


def display_url(url: httpx.URL | str) -> str:
    """The URL as it may appear in a message: no user info, no query string."""
    try:
        u = httpx.URL(url)
    except httpx.InvalidURL:
        return "<invalid URL>"
    port = f":{u.port}" if u.port is not None else ""
    return f"{u.scheme}://{u.host}{port}{u.path}"


def is_retryable_status(status: int) -> bool:
    return status in RETRYABLE_STATUSES or status >= 500


def parse_retry_after(headers: httpx.Headers) -> float | None:
    """Seconds to wait, from `retry-after-ms` (OpenAI) or `Retry-After` (seconds or HTTP date)."""
    raw_ms = headers.get("retry-after-ms")
    if raw_ms is not None:
        try:
            return max(0.0, float(raw_ms) / 1000.0)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def error_detail(response: httpx.Response) -> str:
    """The server's own explanation, from the usual `{"error": {"message": ...}}` shapes."""
    text = response.text
    try:
        body = json.loads(text)
    except ValueError:
        return text.strip()[:_DETAIL_LIMIT]
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])[:_DETAIL_LIMIT]
        if isinstance(error, str):
            return error[:_DETAIL_LIMIT]
    return text.strip()[:_DETAIL_LIMIT]


def _status_hint(status: int, key_env: str | None) -> str | None:
    if status in (401, 403):
        return f"check the API key in {key_env}" if key_env else "check the API key"
    if status == 404:
        return "check the model name and the base URL"
    return None


async def post_json(
    client: httpx.AsyncClient,
    url: str,
    body: Mapping[str, Any],
    *,
    headers: Mapping[str, str],
    spec: str,
    secret: str | None,
    key_env: str | None,
) -> JsonReply:
    """POST `body` and return the decoded JSON reply; raise `ProviderRequestError` otherwise."""
    where = display_url(url)
    started = time.perf_counter()
    try:
        response = await client.post(url, json=dict(body), headers=dict(headers))
    except httpx.TimeoutException as exc:
        timeout = client.timeout.read
        after = f" after {timeout:g} s" if timeout is not None else ""
        raise ProviderRequestError(
            f"{spec}: request to {where} timed out{after} ({type(exc).__name__})",
            retryable=True,
        ) from None
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
        raise ProviderRequestError(
            f"{spec}: cannot send to {where}: {redact(str(exc), secret)}",
            retryable=False,
            hint="check the base URL (it needs http:// or https://)",
        ) from None
    except httpx.TransportError as exc:
        raise ProviderRequestError(
            f"{spec}: cannot reach {where}: {type(exc).__name__}: {redact(str(exc), secret)}",
            retryable=True,
        ) from None
    latency_ms = (time.perf_counter() - started) * 1000.0

    status = response.status_code
    if status >= 400:
        detail = redact(error_detail(response), secret)
        retryable = is_retryable_status(status)
        raise ProviderRequestError(
            f"{spec}: HTTP {status} from {where}" + (f": {detail}" if detail else ""),
            retryable=retryable,
            status=status,
            retry_after_s=parse_retry_after(response.headers) if retryable else None,
            hint=_status_hint(status, key_env),
        )
    try:
        decoded = json.loads(response.content)
    except ValueError:
        raise ProviderRequestError(
            f"{spec}: HTTP {status} from {where} with a body that is not valid JSON "
            f"({len(response.content)} bytes); most likely a proxy or server glitch, "
            "so it is retried",
            retryable=True,
            status=status,
        ) from None
    return JsonReply(body=decoded, latency_ms=latency_ms)


def malformed_reply(spec: str, url: str, what: str) -> ProviderRequestError:
    """A well-formed JSON reply of the wrong shape: the endpoint is not this API."""
    return ProviderRequestError(
        f"{spec}: unexpected reply from {display_url(url)}: {what}",
        retryable=False,
        hint="check that the base URL points at the right API",
    )
