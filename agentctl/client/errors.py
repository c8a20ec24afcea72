"""An error answer of the daemon back into the `AgentctlError` it raised; a daemon that
does not answer into a `DaemonError` saying where it was looked for."""

from __future__ import annotations

import httpx
from pydantic import ValidationError

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
from agentctl.protocol import ErrorBody

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
