"""Routes of a session's workspace: its diff, applying it to the host, files in and out.

`GET .../diff` and `POST .../apply` answer protocol models; `GET .../archive`
answers a tar of one path (`docker cp`'s format) and `PUT .../archive` takes
one. The sandbox layer's errors (a path missing in the container, a
checkpoint image gone) become the user-facing family here.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from agentctl.errors import ConflictError, NotFoundError, UsageError
from agentctl.protocol import ApplyRequest
from sandboxes import FileToolError, ImageNotFoundError

from .context import Daemon
from .web import json_response, query_flag, read_body

TAR = "application/x-tar"
MAX_UPLOAD = 1 << 30


def _daemon(request: Request) -> Daemon:
    daemon: Daemon = request.app.state.daemon
    return daemon


def _at(request: Request) -> int | None:
    raw = request.query_params.get("at")
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise UsageError(f"at={raw!r} is not a seq (a whole number from 1)")
    return int(raw)


@contextlib.contextmanager
def _sandbox_errors() -> Iterator[None]:
    try:
        yield
    except FileToolError as exc:
        raise NotFoundError(str(exc)) from None
    except ImageNotFoundError as exc:
        raise ConflictError(str(exc)) from None


async def diff(request: Request) -> Response:
    runtime = _daemon(request).runtime
    sid = request.path_params["id"]
    runtime.session(sid)
    with _sandbox_errors():
        result = await runtime.workspaces.diff(
            sid, _at(request), patch=not query_flag(request, "stat")
        )
    return json_response(result)


async def apply(request: Request) -> Response:
    body = await read_body(request, ApplyRequest)
    runtime = _daemon(request).runtime
    sid = request.path_params["id"]
    runtime.session(sid)
    with _sandbox_errors():
        result = await runtime.workspaces.apply(sid, body)
    return json_response(result)


async def read_archive(request: Request) -> Response:
    runtime = _daemon(request).runtime
    sid = request.path_params["id"]
    runtime.session(sid)
    path = request.query_params.get("path", "")
    with _sandbox_errors():
        data = await runtime.workspaces.read_archive(sid, path, _at(request))
    return Response(data, media_type=TAR)


async def write_archive(request: Request) -> Response:
    runtime = _daemon(request).runtime
    sid = request.path_params["id"]
    runtime.session(sid)
    path = request.query_params.get("path", "")
    data = await request.body()
    if len(data) > MAX_UPLOAD:
        raise UsageError(f"an archive of {len(data)} bytes is more than cp takes ({MAX_UPLOAD})")
    with _sandbox_errors():
        copied = await runtime.workspaces.write_archive(sid, path, data)
    return json_response(copied, status=201)


WORKSPACE_ROUTES: list[BaseRoute] = [
    Route("/sessions/{id}/diff", diff, methods=["GET"]),
    Route("/sessions/{id}/apply", apply, methods=["POST"]),
    Route("/sessions/{id}/archive", read_archive, methods=["GET"]),
    Route("/sessions/{id}/archive", write_archive, methods=["PUT"]),
]
