"""One JSON POST to a model endpoint, with every failure mapped to a `ProviderError`.

Both HTTP providers share this so that "what is retryable" is decided in one
place (docs/design.md §4): timeouts, connection errors, 408, 429 and 5xx are
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

import asyncio
import contextlib
import email.utils
import hashlib
import json
import time
from collections.abc import AsyncIterator, Mapping
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


@dataclass(frozen=True)
class Timeouts:
    """Seconds: to connect, of silence between two chunks read, and for the whole request."""

    connect_s: float = 10.0
    read_s: float = 120.0
    total_s: float = 600.0

    @classmethod
    def of(
        cls,
        timeout_s: float | None = None,
        connect_s: float | None = None,
        read_s: float | None = None,
    ) -> Timeouts:
        """From a single `timeout_s` (the old meaning: no read may take longer) and overrides."""
        base = cls()
        read = read_s or timeout_s or base.read_s
        total = max(timeout_s or base.total_s, read)
        return cls(connect_s=connect_s or min(base.connect_s, read), read_s=read, total_s=total)

    def client(self, headers: Mapping[str, str] | None = None) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            timeout=httpx.Timeout(self.read_s, connect=self.connect_s),
            headers=dict(headers or {}),
        )


@dataclass(frozen=True)
class SSEvent:
    event: str  # "message" when the server named none
    data: str


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
        if isinstance(error, dict):
            message = error.get("message") or error.get("detail")
            if isinstance(message, str) and message.strip():
                return message[:_DETAIL_LIMIT]
            # An empty message (llama-cpp-python's 500s): the error's type says more than nothing.
            kind = error.get("type") or error.get("code")
            if isinstance(kind, str) and kind:
                return kind[:_DETAIL_LIMIT]
        if isinstance(error, str):
            return error[:_DETAIL_LIMIT]
    return text.strip()[:_DETAIL_LIMIT]


def _status_hint(status: int, key_env: str | None) -> str | None:
    if status in (401, 403):
        return f"check the API key in {key_env}" if key_env else "check the API key"
    if status == 404:
        return "check the model name and the base URL"
    return None


def http_error(
    response: httpx.Response, *, spec: str, secret: str | None, key_env: str | None
) -> ProviderRequestError:
    """A 4xx/5xx as an error whose message carries the server's own explanation.

    `fingerprint` identifies the reply (status and body): the retry loop stops
    when a server error repeats word for word, since that one is deterministic.
    """
    status = response.status_code
    detail = redact(error_detail(response), secret)
    retryable = is_retryable_status(status)
    error = ProviderRequestError(
        f"{spec}: HTTP {status} from {display_url(response.request.url)}"
        + (f": {detail}" if detail else ""),
        retryable=retryable,
        status=status,
        retry_after_s=parse_retry_after(response.headers) if retryable else None,
        hint=_status_hint(status, key_env),
    )
    error.fingerprint = hashlib.sha256(f"{status}\0".encode() + response.content).hexdigest()
    return error


def _transport_error(
    exc: Exception, *, spec: str, where: str, secret: str | None, timeouts: Timeouts | None
) -> ProviderRequestError:
    if isinstance(exc, httpx.TimeoutException):
        if isinstance(exc, httpx.ConnectTimeout) and timeouts is not None:
            after = f" after {timeouts.connect_s:g} s without a connection"
        elif timeouts is not None:
            after = f" after {timeouts.read_s:g} s with nothing received"
        else:
            after = ""
        return ProviderRequestError(
            f"{spec}: request to {where} timed out{after} ({type(exc).__name__})", retryable=True
        )
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return ProviderRequestError(
            f"{spec}: cannot send to {where}: {redact(str(exc), secret)}",
            retryable=False,
            hint="check the base URL (it needs http:// or https://)",
        )
    error = ProviderRequestError(
        f"{spec}: cannot reach {where}: {type(exc).__name__}: {redact(str(exc), secret)}",
        retryable=True,
    )
    # Connected, then dropped (not refused): the server took the request and failed on it.
    error.dropped = isinstance(exc, httpx.ReadError | httpx.RemoteProtocolError)
    return error


def _total_timeout(spec: str, where: str, timeouts: Timeouts) -> ProviderRequestError:
    return ProviderRequestError(
        f"{spec}: request to {where} timed out after {timeouts.total_s:g} s "
        "with no complete reply (timeout_s)",
        retryable=True,
    )


async def post_json(
    client: httpx.AsyncClient,
    url: str,
    body: Mapping[str, Any],
    *,
    headers: Mapping[str, str],
    spec: str,
    secret: str | None,
    key_env: str | None,
    timeouts: Timeouts | None = None,
) -> JsonReply:
    """POST `body` and return the decoded JSON reply; raise `ProviderRequestError` otherwise."""
    where = display_url(url)
    started = time.perf_counter()
    total = timeouts.total_s if timeouts is not None else None
    try:
        async with asyncio.timeout(total):
            response = await client.post(url, json=dict(body), headers=dict(headers))
    except TimeoutError:
        assert timeouts is not None
        raise _total_timeout(spec, where, timeouts) from None
    except httpx.TransportError as exc:
        if timeouts is None and isinstance(exc, httpx.TimeoutException):
            read = client.timeout.read
            timeouts = Timeouts(read_s=read) if read is not None else None
        raise _transport_error(
            exc, spec=spec, where=where, secret=secret, timeouts=timeouts
        ) from None
    latency_ms = (time.perf_counter() - started) * 1000.0

    status = response.status_code
    if status >= 400:
        raise http_error(response, spec=spec, secret=secret, key_env=key_env)
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


async def _sse(lines: AsyncIterator[str]) -> AsyncIterator[SSEvent]:
    """Server-sent events from a body's lines (the WHATWG rules that matter here)."""
    event, data = "", list[str]()
    async for line in lines:
        if not line:
            if data:
                yield SSEvent(event or "message", "\n".join(data))
            event, data = "", []
            continue
        if line.startswith(":"):
            continue  # a comment (keep-alive)
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            data.append(value)
        elif name == "event":
            event = value
    if data:
        yield SSEvent(event or "message", "\n".join(data))


@dataclass
class Stream:
    """An open streamed reply: its events, or (a server that ignored `stream`) a JSON body."""

    events: AsyncIterator[SSEvent] | None
    json_reply: JsonReply | None
    started: float


@contextlib.asynccontextmanager
async def post_stream(
    client: httpx.AsyncClient,
    url: str,
    body: Mapping[str, Any],
    *,
    headers: Mapping[str, str],
    spec: str,
    secret: str | None,
    key_env: str | None,
    timeouts: Timeouts,
) -> AsyncIterator[Stream]:
    """POST `body` asking for a stream; the context holds the connection.

    Leaving the context closes the connection, also when the caller is
    cancelled or times out: the server sees the client go and can stop
    generating, instead of keeping a slot busy while the retry queues.
    The whole request, stream included, is bounded by `timeouts.total_s`.
    """
    where = display_url(url)
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeouts.total_s):
            request = client.build_request("POST", url, json=dict(body), headers=dict(headers))
            response = await client.send(request, stream=True)
            try:
                if response.status_code >= 400:
                    await response.aread()
                    raise http_error(response, spec=spec, secret=secret, key_env=key_env)
                content_type = response.headers.get("content-type", "")
                if "text/event-stream" not in content_type:
                    raw = await response.aread()
                    try:
                        decoded = json.loads(raw)
                    except ValueError:
                        raise ProviderRequestError(
                            f"{spec}: HTTP {response.status_code} from {where} with a body that "
                            f"is not valid JSON nor a stream ({len(raw)} bytes); most likely a "
                            "proxy or server glitch, so it is retried",
                            retryable=True,
                            status=response.status_code,
                        ) from None
                    latency = (time.perf_counter() - started) * 1000.0
                    yield Stream(None, JsonReply(decoded, latency), started)
                else:
                    yield Stream(_sse(response.aiter_lines()), None, started)
            finally:
                await response.aclose()
    except TimeoutError:
        raise _total_timeout(spec, where, timeouts) from None
    except httpx.TransportError as exc:
        raise _transport_error(
            exc, spec=spec, where=where, secret=secret, timeouts=timeouts
        ) from None


def stream_broken(spec: str, url: str, what: str) -> ProviderRequestError:
    """A stream that ended early or carried garbage: a glitch a second attempt may get past."""
    return ProviderRequestError(
        f"{spec}: broken stream from {display_url(url)}: {what}", retryable=True
    )


def sse_json(spec: str, url: str, event: SSEvent) -> Any:
    try:
        return json.loads(event.data)
    except ValueError:
        raise stream_broken(spec, url, f"an event that is not JSON ({event.data[:80]!r})") from None
