"""What the TUI needs of the daemon, as a Protocol.

`agentctl.client.AsyncClient` satisfies it; the app depends on this shape only,
so the rendering snapshots can feed it a fixed set of events without a daemon
(the functional tests use the real daemon through `AsyncClient`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Protocol

from agentctl.protocol import (
    ApprovalView,
    CreateSession,
    DaemonStatus,
    Decide,
    Envelope,
    ForkSession,
    Health,
    ResumeSession,
    SessionSummary,
    SessionTrace,
    WorkspaceDiff,
)


class DaemonAPI(Protocol):
    async def health(self) -> Health: ...

    async def status(self) -> DaemonStatus: ...

    async def create_session(self, req: CreateSession) -> SessionSummary: ...

    async def sessions(self, status: str | None = None) -> list[SessionSummary]: ...

    async def session(self, session_id: str) -> SessionSummary: ...

    def events(
        self,
        session_id: str,
        after: int = 0,
        follow: bool = False,
        *,
        until_end: bool = False,
        live: bool = False,
        limit: int | None = None,
    ) -> AsyncIterator[Envelope]: ...

    def all_events(self, after: int = 0, follow: bool = False) -> AsyncIterator[Envelope]: ...

    async def resume(self, session_id: str, req: ResumeSession | None = None) -> None: ...

    async def cancel(self, session_id: str, reason: str | None = None) -> None: ...

    async def fork(self, session_id: str, req: ForkSession) -> SessionSummary: ...

    async def approvals(self, session: str | None = None) -> list[ApprovalView]: ...

    async def decide(self, approval_id: str, req: Decide) -> Envelope: ...

    async def diff(
        self, session_id: str, at: int | None = None, stat: bool = False
    ) -> WorkspaceDiff: ...

    async def trace(self, session_id: str) -> SessionTrace: ...

    async def aclose(self) -> None: ...


ClientFactory = Callable[[], Awaitable[DaemonAPI]]
