"""The asyncio client (the TUI): the routes of `Client`, async iterators for streams."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from pathlib import Path
from types import TracebackType
from typing import Self, TypeVar

import httpx

from agentctl.client.errors import error_from, unreachable
from agentctl.client.routes import Call, Routes, with_request_id
from agentctl.client.transport import (
    CONNECT_TIMEOUT_S,
    DEFAULT_TIMEOUT_S,
    Endpoint,
    stream_timeout,
)
from agentctl.protocol import (
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
    ResumeSession,
    SessionSummary,
    SessionTrace,
    SqlQuery,
    SqlResult,
    StatsReport,
    WorkspaceDiff,
)

T = TypeVar("T")


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
        self._endpoint = Endpoint.of(socket, base_url, token)
        self._timeout = timeout
        transport = httpx.AsyncHTTPTransport(uds=self._endpoint.uds)
        self._http = httpx.AsyncClient(
            transport=transport,
            base_url=self._endpoint.base_url,
            headers=self._endpoint.headers,
            timeout=httpx.Timeout(timeout, connect=CONNECT_TIMEOUT_S),
        )

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
                call.method, call.path, timeout=stream_timeout(self._timeout), **call.request()
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
