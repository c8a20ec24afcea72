"""One exception family for everything a user can see.

Every error carries a message a person can act on and the exit code the CLI
maps it to (docs/design.md §10). The CLI prints one line per error, never a traceback
unless `--debug` is given. Generic layers (`store`, `sandboxes`) raise their
own families; the runtime wraps them at its edge.
"""

from __future__ import annotations


class ExitCode:
    """The CLI's stable exit codes (docs/design.md §10)."""

    COMPLETED = 0
    FAILED = 1
    USAGE = 2
    WAITING = 3
    PAUSED = 4
    CANCELLED = 5
    INTERRUPTED = 130


class AgentctlError(Exception):
    """Base of every error agentctl reports to a user."""

    exit_code: int = ExitCode.FAILED
    code: str = "error"  # machine-readable, used in HTTP error bodies
    http_status: int = 500

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} ({self.hint})"


class UsageError(AgentctlError):
    exit_code = ExitCode.USAGE
    code = "invalid_request"
    http_status = 422


class NotFoundError(AgentctlError):
    code = "not_found"
    http_status = 404


class ConflictError(AgentctlError):
    code = "conflict"
    http_status = 409


class ForbiddenError(AgentctlError):
    """The caller is not among those who may do this (an approval's approvers)."""

    code = "forbidden"
    http_status = 403


class DaemonError(AgentctlError):
    code = "daemon_error"
    http_status = 503


class DaemonRunningError(DaemonError):
    """Another daemon holds this data directory's lock (it may still be starting)."""

    code = "daemon_running"
    PROCESS_EXIT = 75  # a daemon that lost the start-up race exits with this (EX_TEMPFAIL)


class SandboxUnavailableError(AgentctlError):
    """The sandbox layer (the Docker engine, an image build) failed: not the request's fault."""

    code = "sandbox_unavailable"
    http_status = 503

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint or "`agentctl doctor` checks the Docker engine")


class ProviderError(AgentctlError):
    """A model provider failed. `retryable` says whether backoff may help."""

    code = "provider_error"
    http_status = 502

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        status: int | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.retryable = retryable
        self.status = status


class PolicyError(AgentctlError):
    """A policy file or preset is invalid."""

    exit_code = ExitCode.USAGE
    code = "invalid_policy"
    http_status = 422


class RecordingError(AgentctlError):
    """A recording file is invalid."""

    exit_code = ExitCode.USAGE
    code = "invalid_recording"
    http_status = 422
