"""Every route of the daemon's API v1 as a `Call`: method, path, query, body, and how to
read the answer. The one place that spells the daemon's paths (docs/design.md §14)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from urllib.parse import quote

from pydantic import BaseModel, TypeAdapter

from agentctl import ids
from agentctl.errors import UsageError
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
    StatsReport,
    ToolView,
    TriggerStarted,
    WorkspaceCopied,
    WorkspaceDiff,
)

T = TypeVar("T")
R = TypeVar("R", CreateSession, ForkSession)


def with_request_id(req: R) -> R:
    """`req` with a request id of its own, so that it can be retried."""
    if req.request_id is not None:
        return req
    return req.model_copy(update={"request_id": f"req_{ids.ulid()}"})


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
