"""The synchronous client (the CLI): every route as a method, streams as lazy generators."""

from __future__ import annotations

import time
from collections.abc import Callable, Generator
from pathlib import Path
from types import TracebackType
from typing import Self, TypeVar

import httpx

from agentctl.client.errors import error_from, unreachable
from agentctl.client.routes import Call, Routes, with_request_id
from agentctl.client.transport import (
    CONNECT_TIMEOUT_S,
    DEFAULT_TIMEOUT_S,
    RETRY_WINDOW_S,
    Endpoint,
    stream_timeout,
)
from agentctl.protocol import (
    AddHook,
    AddSchedule,
    ApplyRequest,
    ApplyResult,
    ApprovalView,
    CreateSession,
    DaemonStatus,
    Decide,
    Envelope,
    ExportRequest,
    ExportResult,
    ForkSession,
    GcRequest,
    GcResult,
    Health,
    HookView,
    McpServerView,
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


class Client:
    """Synchronous client (the CLI). It never starts a process: `restart`, when given
    (`agentctl.daemon.lifecycle.connect` does), starts the daemon again for a retry."""

    def __init__(
        self,
        socket: Path | str | None = None,
        *,
        base_url: str | None = None,
        token: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        restart: Callable[[], object] | None = None,
    ) -> None:
        self._endpoint = Endpoint.of(socket, base_url, token)
        self._timeout = timeout
        self._restart = restart  # starts the daemon again (`lifecycle.connect` gives it)
        transport = httpx.HTTPTransport(uds=self._endpoint.uds)
        self._http = httpx.Client(
            transport=transport,
            base_url=self._endpoint.base_url,
            headers=self._endpoint.headers,
            timeout=httpx.Timeout(timeout, connect=CONNECT_TIMEOUT_S),
        )

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
                if self._restart is None or time.monotonic() > deadline:
                    raise unreachable(self._endpoint.where, exc) from None
                self._restart()

    def _stream(self, call: Call[Envelope]) -> Generator[Envelope, None, None]:
        try:
            with self._http.stream(
                call.method, call.path, timeout=stream_timeout(self._timeout), **call.request()
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
            timeout=stream_timeout(self._timeout),
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
