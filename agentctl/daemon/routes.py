"""The daemon's HTTP API, version 1: sessions, their events, approvals, health.

Handlers are thin: parse a protocol model, call the runtime, answer a protocol
model. The route table is `ROUTES` at the bottom; a later group (SQL, stats,
traces, export) adds its own list in its own module and `server.create_app`
mounts them side by side under `/v1`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from agentctl import __version__
from agentctl.errors import UsageError
from agentctl.observe.routes import OBSERVE_ROUTES
from agentctl.protocol import (
    CancelSession,
    CreateSession,
    Cursor,
    Decide,
    EndpointView,
    ForkSession,
    Health,
    PostMessage,
    ProvidersView,
    ResumeSession,
    SessionStatus,
    SessionStatusChanged,
)

from .context import Daemon
from .peers import identity_of
from .stream import envelope_dict, ndjson, stream_events, with_live
from .trigger_routes import TRIGGER_ROUTES
from .web import InvalidBody, NDJSONResponse, json_response, query_flag, query_int, read_body
from .workspace_routes import WORKSPACE_ROUTES


def daemon_of(request: Request) -> Daemon:
    daemon: Daemon = request.app.state.daemon
    return daemon


# --- daemon ------------------------------------------------------------------------


async def health(request: Request) -> Response:
    return json_response(Health(version=__version__))


async def status(request: Request) -> Response:
    return json_response(daemon_of(request).status())


async def providers(request: Request) -> Response:
    """The model endpoints and keys as this daemon resolves them (what `doctor` reports)."""
    from agentctl.errors import AgentctlError
    from agentctl.providers.loader import known_endpoints

    runtime = daemon_of(request).runtime
    config_error = None
    try:
        config = runtime.config()
    except AgentctlError as exc:
        from agentctl.config import Config

        config, config_error = Config(), str(exc)
    keys = runtime.keys
    views = []
    for endpoint in known_endpoints(config):
        info = keys.info(endpoint.key_name) if endpoint.key_name else None
        views.append(
            EndpointView(
                name=endpoint.name,
                kind=endpoint.kind,  # type: ignore[arg-type]
                base_url=endpoint.base_url,
                source=endpoint.source,
                key_name=endpoint.key_name,
                key_env=info.env if info else None,
                key_source=info.source if info else None,  # type: ignore[arg-type]
            )
        )
    try:
        stored = sorted(keys.stored())
    except AgentctlError as exc:
        stored, config_error = [], str(exc)
    return json_response(
        ProvidersView(
            endpoints=views,
            keys_file=str(keys.path),
            stored_keys=stored,
            config_error=config_error,
        )
    )


# --- sessions ----------------------------------------------------------------------


async def create_session(request: Request) -> Response:
    """201 and the new session; with `follow=1`, 201 and its event stream at once.

    Create-and-follow (`agentctl run`) saves the client a second request and,
    above all, is subscribed before the session's first model call starts, so
    its first streamed token is not lost to the time a client takes to attach.
    The stream's `x-agentctl-session` header says which session it is.
    """
    body = await read_body(request, CreateSession)
    daemon = daemon_of(request)
    runtime = daemon.runtime
    session_id = await runtime.create_session(body)
    summary = runtime.session(session_id)
    if not query_flag(request, "follow"):
        return json_response(summary, status=201)
    # No await from here until the subscriptions exist: the actor cannot run before.
    cursor = Cursor(session=session_id, after=0)
    stream = _ndjson(daemon, cursor, follow=True)
    if query_flag(request, "live"):
        live = runtime.live
        stream = with_live(stream, lambda push: live.subscribe(session_id, push), session_id)
    response = NDJSONResponse(stream)
    response.status_code = 201
    response.headers["x-agentctl-session"] = json.dumps(
        {"id": session_id, "last_seq": summary.last_seq, "status": summary.status.value}
    )
    return response


async def list_sessions(request: Request) -> Response:
    wanted = request.query_params.get("status") or None
    if wanted is not None and wanted not in SessionStatus.__members__.values():
        known = ", ".join(s.value for s in SessionStatus)
        raise InvalidBody(f"unknown status {wanted!r}; one of: {known}")
    limit = query_int(request, "limit", 0)  # the newest `limit` (0: all)
    return json_response(daemon_of(request).runtime.sessions(wanted, limit=limit or None))


async def get_session(request: Request) -> Response:
    return json_response(daemon_of(request).runtime.session(request.path_params["id"]))


async def post_message(request: Request) -> Response:
    body = await read_body(request, PostMessage)
    await daemon_of(request).runtime.post_message(request.path_params["id"], body.text)
    return Response(status_code=202)


async def resume(request: Request) -> Response:
    body = await read_body(request, ResumeSession)
    await daemon_of(request).runtime.resume(request.path_params["id"], body)
    return Response(status_code=202)


async def cancel(request: Request) -> Response:
    body = await read_body(request, CancelSession)  # the body is optional: {} is the default
    await daemon_of(request).runtime.cancel(request.path_params["id"], body.reason)
    return Response(status_code=202)


async def fork(request: Request) -> Response:
    body = await read_body(request, ForkSession)
    runtime = daemon_of(request).runtime
    new_id = await runtime.fork(request.path_params["id"], body)
    return json_response(runtime.session(new_id), status=201)


# --- events ------------------------------------------------------------------------


async def session_events(request: Request) -> Response:
    """NDJSON of one session's events after `after` (a seq); `follow=1` stays open.

    `live=1` (with `follow`) merges in the live `model.delta` envelopes of a
    streamed model response, which are never stored. `limit=N` (without
    `follow`) returns at most N events: seqs have no gaps, so `after` and
    `limit` read any page of a long session (the TUI's timeline pages back).
    """
    daemon = daemon_of(request)
    session_id = request.path_params["id"]
    summary = daemon.runtime.session(session_id)  # 404 for an unknown session
    after = query_int(request, "after", 0)
    follow = query_flag(request, "follow")
    limit = query_int(request, "limit", 0, minimum=1) if "limit" in request.query_params else None
    if limit is not None and follow:
        raise UsageError("limit applies to a read of the log, not to a follow (follow=1)")
    if query_flag(request, "until_end") and summary.status.ended:
        follow = False  # the backlog holds the final status event: nothing live to wait for
    last = daemon.store.last_seq(session_id)
    if after > last:
        raise UsageError(
            f"cursor after={after} is beyond the end of session {session_id} (last seq {last})",
            hint=f"attach with --after {last} or less",
        )
    if limit is not None:
        page = await asyncio.to_thread(daemon.store.read_stream, session_id, after, limit)
        return NDJSONResponse(_once(ndjson(page)))
    cursor = Cursor(session=session_id, after=after)
    # until_end: stop at the end status that is current, not at an older one of a
    # session that was resumed since (an end at or after the log's end when asked)
    until = last if query_flag(request, "until_end") else None
    body = _ndjson(daemon, cursor, follow=follow, until_seq=until)
    if follow and query_flag(request, "live"):
        live = daemon.runtime.live
        body = with_live(body, lambda push: live.subscribe(session_id, push), session_id)
    return NDJSONResponse(body)


async def _once(body: bytes) -> AsyncGenerator[bytes, None]:
    yield body


async def all_events(request: Request) -> Response:
    """NDJSON of every session's events after `after` (a global offset); `follow=1` stays open."""
    daemon = daemon_of(request)
    after = query_int(request, "after", 0)
    last = daemon.store.last_offset()
    if after > last:
        raise UsageError(
            f"cursor after={after} is beyond the end of the log (last offset {last})",
            hint=f"follow with an offset of {last} or less",
        )
    follow = query_flag(request, "follow")
    return NDJSONResponse(_ndjson(daemon, Cursor(session=None, after=after), follow=follow))


async def _ndjson(
    daemon: Daemon, cursor: Cursor, *, follow: bool, until_seq: int | None = None
) -> AsyncGenerator[bytes, None]:
    events = stream_events(
        daemon.store,
        cursor,
        follow=follow,
        stop=daemon.stopping,
        capacity=daemon.stream_capacity,
    )
    try:
        async for batch in events:
            if until_seq is not None:
                end = next(
                    (
                        i
                        for i, e in enumerate(batch)
                        if e.seq >= until_seq and _ends_session(e.type, e.data)
                    ),
                    None,
                )
                if end is not None:
                    yield ndjson(batch[: end + 1])
                    return
            yield ndjson(batch)
    finally:
        await events.aclose()


def _ends_session(type_: str, data: dict[str, object]) -> bool:
    return type_ == SessionStatusChanged.TYPE and data.get("status") in (
        SessionStatus.COMPLETED,
        SessionStatus.FAILED,
        SessionStatus.CANCELLED,
    )


# --- approvals ---------------------------------------------------------------------


async def list_approvals(request: Request) -> Response:
    session_id = request.query_params.get("session") or None
    runtime = daemon_of(request).runtime
    if session_id is not None:
        runtime.session(session_id)  # 404 for an unknown session, not an empty list
    return json_response(runtime.approvals(session_id))


async def decide(request: Request) -> Response:
    body = await read_body(request, Decide)
    who = identity_of(request)  # the socket's peer, not what the body claims
    event = await daemon_of(request).runtime.decide(request.path_params["id"], body, who)
    return json_response(envelope_dict(event))


# --- MCP servers and tools -----------------------------------------------------------


async def list_mcp(request: Request) -> Response:
    """The configured MCP servers, their status and (started briefly to list them) their tools."""
    probe = request.query_params.get("probe", "1") != "0"
    return json_response(await daemon_of(request).runtime.mcp.views(probe=probe))


async def list_tools(request: Request) -> Response:
    """Every tool a new session would get, with its tier under a policy (`?policy=`)."""
    from agentctl.policy import load_policy

    runtime = daemon_of(request).runtime
    spec = request.query_params.get("policy") or None
    policy = await asyncio.to_thread(load_policy, spec, config_dir=runtime.paths.config)
    return json_response(await runtime.mcp.tool_views(policy))


ROUTES: list[BaseRoute] = [
    Route("/mcp", list_mcp, methods=["GET"]),
    Route("/tools", list_tools, methods=["GET"]),
    Route("/health", health, methods=["GET"]),
    Route("/status", status, methods=["GET"]),
    Route("/providers", providers, methods=["GET"]),
    Route("/sessions", create_session, methods=["POST"]),
    Route("/sessions", list_sessions, methods=["GET"]),
    Route("/sessions/{id}", get_session, methods=["GET"]),
    Route("/sessions/{id}/events", session_events, methods=["GET"]),
    Route("/sessions/{id}/messages", post_message, methods=["POST"]),
    Route("/sessions/{id}/resume", resume, methods=["POST"]),
    Route("/sessions/{id}/cancel", cancel, methods=["POST"]),
    Route("/sessions/{id}/fork", fork, methods=["POST"]),
    Route("/events", all_events, methods=["GET"]),
    Route("/approvals", list_approvals, methods=["GET"]),
    Route("/approvals/{id}", decide, methods=["POST"]),
    *OBSERVE_ROUTES,  # trace, stats, sql, export, gc
    *TRIGGER_ROUTES,  # schedules, webhooks
    *WORKSPACE_ROUTES,  # diff, apply, archive (cp)
]
