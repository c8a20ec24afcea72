"""The daemon's routes for triggers: schedules, webhooks and their deliveries.

`POST /v1/hooks/NAME` is the one route a stranger may call: a webhook sender
authenticates with the hook's own secret (an HMAC signature or a bearer
token), not the daemon's token, so on the TCP listener `HookDeliveries` sends
exactly those requests past the daemon's bearer check. The body is read up to
the hook's cap and no further.
"""

from __future__ import annotations

import logging
import re

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from agentctl.protocol import TRIGGER_NAME, AddHook, AddSchedule
from agentctl.triggers.hooks import HookRefused

from .context import Daemon
from .peers import identity_of
from .web import error_response, json_response, read_body

log = logging.getLogger(__name__)

_DELIVERY = re.compile(r"/v1/hooks/[^/]+/?")
_NAME = re.compile(TRIGGER_NAME)


def _daemon(request: Request) -> Daemon:
    daemon: Daemon = request.app.state.daemon
    return daemon


# --- schedules -------------------------------------------------------------------------


async def add_schedule(request: Request) -> Response:
    body = await read_body(request, AddSchedule)
    if not body.added_by:
        body.added_by = identity_of(request).user
    view = await _daemon(request).runtime.triggers.schedules.add(body)
    return json_response(view, status=201)


async def list_schedules(request: Request) -> Response:
    return json_response(_daemon(request).runtime.triggers.schedules.views())


async def pause_schedule(request: Request) -> Response:
    schedules = _daemon(request).runtime.triggers.schedules
    view = await schedules.change(request.path_params["name"], "paused", identity_of(request).user)
    return json_response(view)


async def resume_schedule(request: Request) -> Response:
    schedules = _daemon(request).runtime.triggers.schedules
    view = await schedules.change(request.path_params["name"], "resumed", identity_of(request).user)
    return json_response(view)


async def remove_schedule(request: Request) -> Response:
    schedules = _daemon(request).runtime.triggers.schedules
    await schedules.change(request.path_params["name"], "removed", identity_of(request).user)
    return Response(status_code=204)


async def run_schedule_now(request: Request) -> Response:
    started = await _daemon(request).runtime.triggers.schedules.run_now(request.path_params["name"])
    return json_response(started, status=201)


# --- webhooks --------------------------------------------------------------------------


async def add_hook(request: Request) -> Response:
    body = await read_body(request, AddHook)
    if not body.added_by:
        body.added_by = identity_of(request).user
    return json_response(await _daemon(request).runtime.triggers.hooks.add(body), status=201)


async def list_hooks(request: Request) -> Response:
    return json_response(_daemon(request).runtime.triggers.hooks.views())


async def remove_hook(request: Request) -> Response:
    hooks = _daemon(request).runtime.triggers.hooks
    await hooks.remove(request.path_params["name"], identity_of(request).user)
    return Response(status_code=204)


async def deliver(request: Request) -> Response:
    """A webhook delivery: authenticated by the hook's secret; every refusal logged."""
    name = request.path_params["name"]
    hooks = _daemon(request).runtime.triggers.hooks
    try:
        if not _NAME.fullmatch(name) or name not in hooks.hooks:
            raise HookRefused(404, "no such hook")
        cap = hooks.hooks[name].max_body
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            raise HookRefused(413, f"the body is {declared} bytes; this hook takes at most {cap}")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > cap:
                raise HookRefused(413, f"the body is over {cap} bytes, the cap of this hook")
        headers = {k.lower(): v for k, v in request.headers.items()}
        started = await hooks.deliver(name, bytes(body), headers)
    except HookRefused as exc:
        delivery = request.headers.get("x-github-delivery") or request.headers.get("x-delivery-id")
        log.warning(
            "hook %r: refused a delivery (%d %s; delivery %r, from %s)",
            name[:64],
            exc.http_status,
            exc.message,
            (delivery or "")[:80],
            request.scope.get("client") or "the socket",
        )
        return error_response(exc.http_status, exc.code, exc.message)
    return json_response(started, status=202)


TRIGGER_ROUTES: list[BaseRoute] = [
    Route("/schedules", add_schedule, methods=["POST"]),
    Route("/schedules", list_schedules, methods=["GET"]),
    Route("/schedules/{name}", remove_schedule, methods=["DELETE"]),
    Route("/schedules/{name}/run", run_schedule_now, methods=["POST"]),
    Route("/schedules/{name}/pause", pause_schedule, methods=["POST"]),
    Route("/schedules/{name}/resume", resume_schedule, methods=["POST"]),
    Route("/hooks", add_hook, methods=["POST"]),
    Route("/hooks", list_hooks, methods=["GET"]),
    Route("/hooks/{name}", remove_hook, methods=["DELETE"]),
    Route("/hooks/{name}", deliver, methods=["POST"]),
]


class HookDeliveries:
    """On the TCP listener: webhook deliveries skip the daemon's bearer check (see above)."""

    def __init__(self, guarded: ASGIApp, app: ASGIApp) -> None:
        self.guarded = guarded
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope.get("method") == "POST"
            and _DELIVERY.fullmatch(scope.get("path", ""))
        ):
            await self.app(scope, receive, send)
            return
        await self.guarded(scope, receive, send)
