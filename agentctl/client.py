"""The client of the daemon: the one place that knows its routes.

The CLI uses `Client` (sync), the TUI `AsyncClient`; both are thin shells over
`Routes`, which turns each operation into a `Call` (method, path, query,
body, and how to read the answer), and over `error_from`, which turns an
error body back into the `AgentctlError` subclass the daemon raised. A daemon
that does not answer is a `DaemonError` with a message saying where it was
looked for. Streams (`events`, `all_events`) are lazy generators of
`Envelope`s read line by line from NDJSON: the request is sent on the first
`next()`, and `close()` (or leaving the loop) closes the connection.

Creating a session and forking one carry a request id the client chooses, so
either can be retried without making a second session: a daemon that died
mid-request either had not made it, or made it whole and finds it by the id.
A `Client` from `connect()` retries those two itself, starting the daemon
again, when the connection breaks before the answer arrives.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncGenerator, Callable, Generator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Generic, Self, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError

from agentctl import ids
from agentctl.errors import (
    AgentctlError,
    ConflictError,
    DaemonError,
    ForbiddenError,
    NotFoundError,
    PolicyError,
    RecordingError,
    SandboxUnavailableError,
    UsageError,
)
from agentctl.paths import Paths, get_paths
from agentctl.protocol import (
    AddHook,
    AddSchedule,
    ApplyRequest,
    ApplyResult,
    ApprovalView,
    CancelSession,
    CreateSession,
    DaemonStatus,
    Decide,
    Envelope,
    ErrorBody,
    ExportRequest,
    ExportResult,
    ForkSession,
    GcRequest,
    GcResult,
    Health,
    HookView,
    McpServerView,
    PostMessage,
    ProvidersView,
    ResumeSession,
    ScheduleView,
    SessionSummary,
    SessionTrace,
    SqlQuery,
    SqlResult,
    StartedSession,
    StatsReport,
    ToolView,
    TriggerStarted,
    WorkspaceCopied,
    WorkspaceDiff,
)

T = TypeVar("T")

DEFAULT_TIMEOUT_S = 60.0
CONNECT_TIMEOUT_S = 5.0
RETRY_WINDOW_S = 60.0  # how long a create or fork is retried while the daemon comes back
TOKEN_ENV = "AGENTCTL_TOKEN"


# --- routes -------------------------------------------------------------------------


def _model(model: type[BaseModel]) -> Callable[[bytes], Any]:
    return model.model_validate_json


_SESSION_LIST = TypeAdapter(list[SessionSummary])
_APPROVAL_LIST = TypeAdapter(list[ApprovalView])


def _nothing(_: bytes) -> None:
    return None


@dataclass(frozen=True)
class Call(Generic[T]):
    """One request to the daemon and how to read its answer."""

    method: str
    path: str
    parse: Callable[[bytes], T]
    body: BaseModel | None = None
    params: Mapping[str, str] = field(default_factory=dict)
    content: bytes | None = None  # a raw body (a tar for cp), instead of a model

    def request(self) -> dict[str, Any]:
        request: dict[str, Any] = {"params": dict(self.params)}
        if self.content is not None:
            request["content"] = self.content
            request["headers"] = {"content-type": "application/x-tar"}
        elif self.body is not None:
            request["content"] = self.body.model_dump_json(exclude_unset=True)
            request["headers"] = {"content-type": "application/json"}
        return request


def _seg(value: str) -> str:
    """An id as one path segment: quoted whole, so `../x` stays an id and never a path."""
    if not value:
        raise UsageError("an id cannot be empty", hint="see `agentctl ls` or `agentctl approvals`")
    return quote(value, safe="")


def _flag(value: bool) -> str:
    return "1" if value else "0"


class Routes:
    """Every route of the daemon's API v1, as `Call`s."""

    @staticmethod
    def health() -> Call[Health]:
        return Call("GET", "/v1/health", _model(Health))

    @staticmethod
    def status() -> Call[DaemonStatus]:
        return Call("GET", "/v1/status", _model(DaemonStatus))

    @staticmethod
    def providers() -> Call[ProvidersView]:
        return Call("GET", "/v1/providers", _model(ProvidersView))

    @staticmethod
    def create_session(req: CreateSession) -> Call[SessionSummary]:
        return Call("POST", "/v1/sessions", _model(SessionSummary), body=req)

    @staticmethod
    def sessions(status: str | None = None, limit: int | None = None) -> Call[list[SessionSummary]]:
        params: dict[str, str] = {"status": status} if status else {}
        if limit:
            params["limit"] = str(limit)
        return Call("GET", "/v1/sessions", _SESSION_LIST.validate_json, params=params)

    @staticmethod
    def session(session_id: str) -> Call[SessionSummary]:
        return Call("GET", f"/v1/sessions/{_seg(session_id)}", _model(SessionSummary))

    @staticmethod
    def post_message(session_id: str, text: str) -> Call[None]:
        path = f"/v1/sessions/{_seg(session_id)}/messages"
        return Call("POST", path, _nothing, body=PostMessage(text=text))

    @staticmethod
    def resume(session_id: str, req: ResumeSession) -> Call[None]:
        return Call("POST", f"/v1/sessions/{_seg(session_id)}/resume", _nothing, body=req)

    @staticmethod
    def cancel(session_id: str, reason: str | None = None) -> Call[None]:
        body = CancelSession(reason=reason) if reason else CancelSession()
        return Call("POST", f"/v1/sessions/{_seg(session_id)}/cancel", _nothing, body=body)

    @staticmethod
    def fork(session_id: str, req: ForkSession) -> Call[SessionSummary]:
        path = f"/v1/sessions/{_seg(session_id)}/fork"
        return Call("POST", path, _model(SessionSummary), body=req)

    @staticmethod
    def approvals(session: str | None = None) -> Call[list[ApprovalView]]:
        params = {"session": session} if session else {}
        return Call("GET", "/v1/approvals", _APPROVAL_LIST.validate_json, params=params)

    @staticmethod
    def decide(approval_id: str, req: Decide) -> Call[Envelope]:
        return Call("POST", f"/v1/approvals/{_seg(approval_id)}", _model(Envelope), body=req)

    @staticmethod
    def events(
        session_id: str,
        after: int = 0,
        follow: bool = False,
        until_end: bool = False,
        live: bool = False,
        limit: int | None = None,
    ) -> Call[Envelope]:
        params = {"after": str(after), "follow": _flag(follow)}
        if until_end:
            params["until_end"] = "1"
        if limit is not None:  # at most `limit` events after `after` (a page of the log)
            params["limit"] = str(limit)
        if live:  # `model.delta` envelopes too: a streamed response as it forms
            params["live"] = "1"
        path = f"/v1/sessions/{_seg(session_id)}/events"
        return Call("GET", path, _model(Envelope), params=params)

    @staticmethod
    def all_events(after: int = 0, follow: bool = False) -> Call[Envelope]:
        params = {"after": str(after), "follow": _flag(follow)}
        return Call("GET", "/v1/events", _model(Envelope), params=params)

    # workspaces (agentctl.runtime.workspaces)

    @staticmethod
    def diff(session_id: str, at: int | None = None, stat: bool = False) -> Call[WorkspaceDiff]:
        params = {"stat": _flag(stat)}
        if at is not None:
            params["at"] = str(at)
        path = f"/v1/sessions/{_seg(session_id)}/diff"
        return Call("GET", path, _model(WorkspaceDiff), params=params)

    @staticmethod
    def apply(session_id: str, req: ApplyRequest) -> Call[ApplyResult]:
        path = f"/v1/sessions/{_seg(session_id)}/apply"
        return Call("POST", path, _model(ApplyResult), body=req)

    @staticmethod
    def read_archive(session_id: str, path: str, at: int | None = None) -> Call[bytes]:
        params = {"path": path}
        if at is not None:
            params["at"] = str(at)
        url = f"/v1/sessions/{_seg(session_id)}/archive"
        return Call("GET", url, bytes, params=params)

    @staticmethod
    def write_archive(session_id: str, path: str, archive: bytes) -> Call[WorkspaceCopied]:
        url = f"/v1/sessions/{_seg(session_id)}/archive"
        return Call("PUT", url, _model(WorkspaceCopied), params={"path": path}, content=archive)

    # observability (agentctl.observe)

    @staticmethod
    def trace(session_id: str) -> Call[SessionTrace]:
        return Call("GET", f"/v1/sessions/{_seg(session_id)}/trace", _model(SessionTrace))

    @staticmethod
    def stats(since: str | None = None) -> Call[StatsReport]:
        params = {"since": since} if since else {}
        return Call("GET", "/v1/stats", _model(StatsReport), params=params)

    @staticmethod
    def sql(req: SqlQuery) -> Call[SqlResult]:
        return Call("POST", "/v1/sql", _model(SqlResult), body=req)

    @staticmethod
    def export(req: ExportRequest) -> Call[ExportResult]:
        return Call("POST", "/v1/export", _model(ExportResult), body=req)

    @staticmethod
    def gc(req: GcRequest) -> Call[GcResult]:
        return Call("POST", "/v1/gc", _model(GcResult), body=req)

    # triggers: schedules and webhooks

    @staticmethod
    def add_schedule(req: AddSchedule) -> Call[ScheduleView]:
        return Call("POST", "/v1/schedules", _model(ScheduleView), body=req)

    @staticmethod
    def schedules() -> Call[list[ScheduleView]]:
        return Call("GET", "/v1/schedules", TypeAdapter(list[ScheduleView]).validate_json)

    @staticmethod
    def schedule_action(name: str, action: str) -> Call[ScheduleView]:
        return Call("POST", f"/v1/schedules/{_seg(name)}/{action}", _model(ScheduleView))

    @staticmethod
    def remove_schedule(name: str) -> Call[None]:
        return Call("DELETE", f"/v1/schedules/{_seg(name)}", _nothing)

    @staticmethod
    def run_schedule(name: str) -> Call[TriggerStarted]:
        return Call("POST", f"/v1/schedules/{_seg(name)}/run", _model(TriggerStarted))

    @staticmethod
    def add_hook(req: AddHook) -> Call[HookView]:
        return Call("POST", "/v1/hooks", _model(HookView), body=req)

    @staticmethod
    def hooks() -> Call[list[HookView]]:
        return Call("GET", "/v1/hooks", TypeAdapter(list[HookView]).validate_json)

    @staticmethod
    def remove_hook(name: str) -> Call[None]:
        return Call("DELETE", f"/v1/hooks/{_seg(name)}", _nothing)

    # MCP servers and tools

    @staticmethod
    def mcp_servers(probe: bool = True) -> Call[list[McpServerView]]:
        return Call(
            "GET",
            "/v1/mcp",
            TypeAdapter(list[McpServerView]).validate_json,
            params={"probe": _flag(probe)},
        )

    @staticmethod
    def tools(policy: str | None = None) -> Call[list[ToolView]]:
        params = {"policy": policy} if policy else {}
        return Call("GET", "/v1/tools", TypeAdapter(list[ToolView]).validate_json, params=params)


# --- errors -------------------------------------------------------------------------

_BY_CODE: dict[str, type[AgentctlError]] = {
    cls.code: cls
    for cls in (
        UsageError,
        NotFoundError,
        ConflictError,
        DaemonError,
        PolicyError,
        RecordingError,
        ForbiddenError,
        SandboxUnavailableError,
    )
}
_BY_STATUS: dict[int, type[AgentctlError]] = {
    400: UsageError,
    403: ForbiddenError,
    404: NotFoundError,
    409: ConflictError,
    422: UsageError,
    503: DaemonError,
}


def error_from(status: int, content: bytes, reason: str = "") -> AgentctlError:
    """The `AgentctlError` an error answer stands for, with the daemon's message."""
    try:
        body = ErrorBody.model_validate_json(content)
    except ValidationError:
        text = content.decode(errors="replace").strip()[:200]
        body = ErrorBody(
            code="http_error", message=f"the daemon answered {status} {reason}: {text}"
        )
    cls = _BY_CODE.get(body.code) or _BY_STATUS.get(status, AgentctlError)
    hint = body.detail.get("hint") if isinstance(body.detail, dict) else None
    error = cls(body.message, hint=hint if isinstance(hint, str) else None)
    error.code = body.code  # keep the daemon's code even when the class is a broader one
    return error


def unreachable(where: str, exc: httpx.TransportError) -> DaemonError:
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
        return DaemonError(
            f"no agentctl daemon answers on {where}",
            hint="start one with `agentctl daemon start`",
        )
    if isinstance(exc, httpx.TimeoutException):
        return DaemonError(
            f"the agentctl daemon on {where} did not answer in time",
            hint="`agentctl daemon status` shows whether it is alive; its log says why it is slow",
        )
    return DaemonError(
        f"the connection to the agentctl daemon on {where} broke: {exc or type(exc).__name__}",
        hint="it may have stopped; re-attach with the last cursor you saw",
    )


# --- the clients --------------------------------------------------------------------

R = TypeVar("R", CreateSession, ForkSession)


def with_request_id(req: R) -> R:
    """`req` with a request id of its own, so that it can be retried."""
    if req.request_id is not None:
        return req
    return req.model_copy(update={"request_id": f"req_{ids.ulid()}"})


@dataclass(frozen=True)
class _Endpoint:
    base_url: str
    where: str  # said in error messages
    uds: str | None
    headers: dict[str, str]

    @classmethod
    def of(cls, socket: Path | str | None, base_url: str | None, token: str | None) -> _Endpoint:
        if base_url is not None:
            token = token or os.environ.get(TOKEN_ENV)
            headers = {"authorization": f"Bearer {token}"} if token else {}
            return cls(base_url.rstrip("/"), base_url, None, headers)
        path = str(socket if socket is not None else get_paths().socket)
        return cls("http://agentctl", path, path, {})


def _stream_timeout(timeout: float) -> httpx.Timeout:
    return httpx.Timeout(timeout, connect=CONNECT_TIMEOUT_S, read=None)  # a follow waits forever


class Client:
    """Synchronous client (the CLI). `Client.connect()` starts a daemon when none answers."""

    def __init__(
        self,
        socket: Path | str | None = None,
        *,
        base_url: str | None = None,
        token: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        self._endpoint = _Endpoint.of(socket, base_url, token)
        self._timeout = timeout
        self._autostart: Paths | None = None  # set by connect(): may start the daemon again
        transport = httpx.HTTPTransport(uds=self._endpoint.uds)
        self._http = httpx.Client(
            transport=transport,
            base_url=self._endpoint.base_url,
            headers=self._endpoint.headers,
            timeout=httpx.Timeout(timeout, connect=CONNECT_TIMEOUT_S),
        )

    @classmethod
    def connect(cls, paths: Paths | None = None, *, autostart: bool = True) -> Client:
        paths = paths or get_paths()
        client = cls(paths.socket)
        try:
            client.health()
        except DaemonError:
            if not autostart:
                client.close()
                raise
            from agentctl.daemon import lifecycle  # only when a daemon must be spawned

            lifecycle.start_background(paths)
            client.health()
        if autostart:
            client._autostart = paths
        return client

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _call(self, call: Call[T]) -> T:
        try:
            response = self._http.request(call.method, call.path, **call.request())
        except httpx.TransportError as exc:
            raise unreachable(self._endpoint.where, exc) from None
        if response.is_error:
            raise error_from(response.status_code, response.content, response.reason_phrase)
        return call.parse(response.content)

    def _call_retrying(self, call: Call[T]) -> T:
        """A call that is safe to repeat (it carries a request id): sent again, with the
        daemon started again, when the connection breaks before the answer."""
        response = self._send_retrying(
            lambda: self._http.request(call.method, call.path, **call.request())
        )
        if response.is_error:
            raise error_from(response.status_code, response.content, response.reason_phrase)
        return call.parse(response.content)

    def _send_retrying(self, send: Callable[[], httpx.Response]) -> httpx.Response:
        """`send()`, again with the daemon started again, while the connection breaks
        before an answer (for RETRY_WINDOW_S); only for requests that carry a request id."""
        deadline = time.monotonic() + RETRY_WINDOW_S
        while True:
            try:
                return send()
            except httpx.TransportError as exc:
                if self._autostart is None or time.monotonic() > deadline:
                    raise unreachable(self._endpoint.where, exc) from None
                from agentctl.daemon import lifecycle

                lifecycle.start_background(self._autostart)

    def _stream(self, call: Call[Envelope]) -> Generator[Envelope, None, None]:
        try:
            with self._http.stream(
                call.method, call.path, timeout=_stream_timeout(self._timeout), **call.request()
            ) as response:
                if response.is_error:
                    response.read()
                    raise error_from(response.status_code, response.content, response.reason_phrase)
                for line in response.iter_lines():
                    if line:
                        yield call.parse(line.encode())
        except httpx.TransportError as exc:
            raise unreachable(self._endpoint.where, exc) from None

    def health(self) -> Health:
        return self._call(Routes.health())

    def status(self) -> DaemonStatus:
        return self._call(Routes.status())

    def providers(self) -> ProvidersView:
        return self._call(Routes.providers())

    def create_session(self, req: CreateSession) -> SessionSummary:
        return self._call_retrying(Routes.create_session(with_request_id(req)))

    def create_and_follow(
        self, req: CreateSession, *, live: bool = False
    ) -> tuple[StartedSession, Generator[Envelope, None, None]]:
        """Create a session and stream its events in one request (`agentctl run`).

        The stream is subscribed before the session's first model call, so
        nothing it streams is lost to the time a second request would take.
        """
        params = {"follow": "1", **({"live": "1"} if live else {})}
        request = self._http.build_request(
            "POST",
            "/v1/sessions",
            params=params,
            content=with_request_id(req).model_dump_json(exclude_unset=True),
            headers={"content-type": "application/json"},
            timeout=_stream_timeout(self._timeout),
        )
        # the request id makes a second send safe
        response = self._send_retrying(lambda: self._http.send(request, stream=True))
        if response.is_error:
            response.read()
            response.close()
            raise error_from(response.status_code, response.content, response.reason_phrase)
        started = StartedSession.model_validate_json(response.headers["x-agentctl-session"])
        return started, self._lines(response)

    def _lines(self, response: httpx.Response) -> Generator[Envelope, None, None]:
        try:
            for line in response.iter_lines():
                if line:
                    yield Envelope.model_validate_json(line)
        except httpx.TransportError as exc:
            raise unreachable(self._endpoint.where, exc) from None
        finally:
            response.close()

    def sessions(self, status: str | None = None, limit: int | None = None) -> list[SessionSummary]:
        """The sessions by creation time; with `limit`, only the newest `limit`."""
        return self._call(Routes.sessions(status, limit))

    def session(self, session_id: str) -> SessionSummary:
        return self._call(Routes.session(session_id))

    def events(
        self,
        session_id: str,
        after: int = 0,
        follow: bool = False,
        *,
        until_end: bool = False,
        live: bool = False,
        limit: int | None = None,
    ) -> Generator[Envelope, None, None]:
        return self._stream(Routes.events(session_id, after, follow, until_end, live, limit))

    def all_events(self, after: int = 0, follow: bool = False) -> Generator[Envelope, None, None]:
        return self._stream(Routes.all_events(after, follow))

    def post_message(self, session_id: str, text: str) -> None:
        self._call(Routes.post_message(session_id, text))

    def resume(self, session_id: str, req: ResumeSession | None = None) -> None:
        self._call(Routes.resume(session_id, req or ResumeSession()))

    def cancel(self, session_id: str, reason: str | None = None) -> None:
        self._call(Routes.cancel(session_id, reason))

    def fork(self, session_id: str, req: ForkSession) -> SessionSummary:
        return self._call_retrying(Routes.fork(session_id, with_request_id(req)))

    def approvals(self, session: str | None = None) -> list[ApprovalView]:
        return self._call(Routes.approvals(session))

    def decide(self, approval_id: str, req: Decide) -> Envelope:
        return self._call(Routes.decide(approval_id, req))

    def trace(self, session_id: str) -> SessionTrace:
        return self._call(Routes.trace(session_id))

    def stats(self, since: str | None = None) -> StatsReport:
        return self._call(Routes.stats(since))

    def sql(self, req: SqlQuery) -> SqlResult:
        return self._call(Routes.sql(req))

    def export(self, req: ExportRequest) -> ExportResult:
        return self._call(Routes.export(req))

    def add_schedule(self, req: AddSchedule) -> ScheduleView:
        return self._call(Routes.add_schedule(req))

    def schedules(self) -> list[ScheduleView]:
        return self._call(Routes.schedules())

    def schedule_action(self, name: str, action: str) -> ScheduleView:
        return self._call(Routes.schedule_action(name, action))

    def remove_schedule(self, name: str) -> None:
        self._call(Routes.remove_schedule(name))

    def run_schedule(self, name: str) -> TriggerStarted:
        return self._call(Routes.run_schedule(name))

    def add_hook(self, req: AddHook) -> HookView:
        return self._call(Routes.add_hook(req))

    def hooks(self) -> list[HookView]:
        return self._call(Routes.hooks())

    def mcp_servers(self, probe: bool = True) -> list[McpServerView]:
        return self._call(Routes.mcp_servers(probe))

    def tools(self, policy: str | None = None) -> list[ToolView]:
        return self._call(Routes.tools(policy))

    def remove_hook(self, name: str) -> None:
        self._call(Routes.remove_hook(name))

    def gc(self, req: GcRequest) -> GcResult:
        return self._call(Routes.gc(req))

    def diff(self, session_id: str, at: int | None = None, stat: bool = False) -> WorkspaceDiff:
        return self._call(Routes.diff(session_id, at, stat))

    def apply(self, session_id: str, req: ApplyRequest) -> ApplyResult:
        return self._call(Routes.apply(session_id, req))

    def read_archive(self, session_id: str, path: str, at: int | None = None) -> bytes:
        return self._call(Routes.read_archive(session_id, path, at))

    def write_archive(self, session_id: str, path: str, archive: bytes) -> WorkspaceCopied:
        return self._call(Routes.write_archive(session_id, path, archive))


class AsyncClient:
    """The asyncio twin of `Client` (the TUI): same routes, async iterators for streams."""

    def __init__(
        self,
        socket: Path | str | None = None,
        *,
        base_url: str | None = None,
        token: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        self._endpoint = _Endpoint.of(socket, base_url, token)
        self._timeout = timeout
        transport = httpx.AsyncHTTPTransport(uds=self._endpoint.uds)
        self._http = httpx.AsyncClient(
            transport=transport,
            base_url=self._endpoint.base_url,
            headers=self._endpoint.headers,
            timeout=httpx.Timeout(timeout, connect=CONNECT_TIMEOUT_S),
        )

    @classmethod
    async def connect(cls, paths: Paths | None = None, *, autostart: bool = True) -> AsyncClient:
        paths = paths or get_paths()
        client = cls(paths.socket)
        try:
            await client.health()
        except DaemonError:
            if not autostart:
                await client.aclose()
                raise
            from agentctl.daemon import lifecycle  # only when a daemon must be spawned

            await asyncio.to_thread(lifecycle.start_background, paths)
            await client.health()
        return client

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def _call(self, call: Call[T]) -> T:
        try:
            response = await self._http.request(call.method, call.path, **call.request())
        except httpx.TransportError as exc:
            raise unreachable(self._endpoint.where, exc) from None
        if response.is_error:
            raise error_from(response.status_code, response.content, response.reason_phrase)
        return call.parse(response.content)

    async def _stream(self, call: Call[Envelope]) -> AsyncGenerator[Envelope, None]:
        try:
            async with self._http.stream(
                call.method, call.path, timeout=_stream_timeout(self._timeout), **call.request()
            ) as response:
                if response.is_error:
                    await response.aread()
                    raise error_from(response.status_code, response.content, response.reason_phrase)
                async for line in response.aiter_lines():
                    if line:
                        yield call.parse(line.encode())
        except httpx.TransportError as exc:
            raise unreachable(self._endpoint.where, exc) from None

    async def health(self) -> Health:
        return await self._call(Routes.health())

    async def status(self) -> DaemonStatus:
        return await self._call(Routes.status())

    async def create_session(self, req: CreateSession) -> SessionSummary:
        return await self._call(Routes.create_session(with_request_id(req)))

    async def sessions(
        self, status: str | None = None, limit: int | None = None
    ) -> list[SessionSummary]:
        return await self._call(Routes.sessions(status, limit))

    async def session(self, session_id: str) -> SessionSummary:
        return await self._call(Routes.session(session_id))

    def events(
        self,
        session_id: str,
        after: int = 0,
        follow: bool = False,
        *,
        until_end: bool = False,
        live: bool = False,
        limit: int | None = None,
    ) -> AsyncGenerator[Envelope, None]:
        return self._stream(Routes.events(session_id, after, follow, until_end, live, limit))

    def all_events(self, after: int = 0, follow: bool = False) -> AsyncGenerator[Envelope, None]:
        return self._stream(Routes.all_events(after, follow))

    async def post_message(self, session_id: str, text: str) -> None:
        await self._call(Routes.post_message(session_id, text))

    async def resume(self, session_id: str, req: ResumeSession | None = None) -> None:
        await self._call(Routes.resume(session_id, req or ResumeSession()))

    async def cancel(self, session_id: str, reason: str | None = None) -> None:
        await self._call(Routes.cancel(session_id, reason))

    async def fork(self, session_id: str, req: ForkSession) -> SessionSummary:
        return await self._call(Routes.fork(session_id, with_request_id(req)))

    async def approvals(self, session: str | None = None) -> list[ApprovalView]:
        return await self._call(Routes.approvals(session))

    async def decide(self, approval_id: str, req: Decide) -> Envelope:
        return await self._call(Routes.decide(approval_id, req))

    async def trace(self, session_id: str) -> SessionTrace:
        return await self._call(Routes.trace(session_id))

    async def stats(self, since: str | None = None) -> StatsReport:
        return await self._call(Routes.stats(since))

    async def sql(self, req: SqlQuery) -> SqlResult:
        return await self._call(Routes.sql(req))

    async def export(self, req: ExportRequest) -> ExportResult:
        return await self._call(Routes.export(req))

    async def gc(self, req: GcRequest) -> GcResult:
        return await self._call(Routes.gc(req))

    async def diff(
        self, session_id: str, at: int | None = None, stat: bool = False
    ) -> WorkspaceDiff:
        return await self._call(Routes.diff(session_id, at, stat))
