"""Observability and workspace bodies: trace, stats, sql, export, gc; diff and apply."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from agentctl.protocol.base import SessionStatus, _Request

TraceCategory = Literal["model", "tool", "approval", "sandbox", "overhead", "idle"]
TRACE_CATEGORIES: tuple[str, ...] = ("model", "tool", "approval", "sandbox", "overhead", "idle")


class TraceSpan(BaseModel):
    """One bar of a session's waterfall: a model attempt, a tool call, an approval wait...

    `start_s` is seconds since the session's first event; `seq_start`/`seq_end`
    are the events that open and close it.
    """

    kind: Literal["model", "backoff", "tool", "approval", "checkpoint", "sandbox"]
    name: str
    step: int
    start_s: float
    duration_s: float
    seq_start: int
    seq_end: int
    attrs: dict[str, Any] = Field(default_factory=dict)


class TraceStepSummary(BaseModel):
    step: int
    start_s: float
    duration_s: float
    seconds: dict[str, float]  # per TRACE_CATEGORIES
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0


class SessionTrace(BaseModel):
    """Where a session's wall time went, from its events (see agentctl.observe.trace).

    `wall_s` is last event ts - first event ts; every interval between two
    consecutive events is attributed to exactly one category of `seconds`, so
    `sum(seconds.values()) == wall_s` up to rounding.
    """

    session: str
    status: SessionStatus | None
    model: str
    started_at: datetime
    ended_at: datetime
    wall_s: float
    seconds: dict[str, float]
    steps: list[TraceStepSummary]
    spans: list[TraceSpan]
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    model_latency_ms: float = 0.0  # what the providers reported, summed
    retries: int = 0
    inherited_until_seq: int = 0  # a fork's copied prefix ends here (0: not a fork)


class SqlQuery(_Request):
    sql: str = Field(min_length=1)
    params: list[Any] = Field(default_factory=list)
    limit: int | None = Field(default=10_000, ge=1, le=1_000_000)  # None: every row (capped)
    # The daemon's bounds on one query; a client may ask for less, never more.
    timeout_s: float = Field(default=30.0, gt=0, le=30.0)
    max_bytes: int = Field(default=64 * 1024 * 1024, ge=1, le=64 * 1024 * 1024)


class SqlResult(BaseModel):
    columns: list[str]
    rows: list[list[Any]]
    truncated: bool = False


class ExportRequest(_Request):
    session: str | None = None  # None: every session
    format: Literal["jsonl", "parquet"] = "jsonl"
    path: str = Field(min_length=1)  # absolute; written by the daemon


class ExportResult(BaseModel):
    path: str
    format: str
    rows: int
    bytes: int


class GcRequest(_Request):
    older_than: str = Field(min_length=1)  # a duration: 30d, 12h, 1h30m...
    dry_run: bool = False


class GcResult(BaseModel):
    older_than_s: float
    dry_run: bool
    sessions: list[str]  # ended sessions older than the cutoff, whose leftovers were removed
    images: list[str]
    artifacts: list[str]
    kept_images: list[str]  # checkpoints of those sessions that a live session still references
    images_bytes: int
    artifacts_bytes: int
    freed_bytes: int
    warnings: list[str] = Field(default_factory=list)


class StatsReport(BaseModel):
    """Aggregates over the log (agentctl.observe.stats); each table is a list of rows."""

    since: str | None
    since_ts: datetime | None
    generated_at: datetime
    totals: dict[str, Any]
    sessions_by_status: list[dict[str, Any]]
    models: list[dict[str, Any]]
    tools: list[dict[str, Any]]
    approvals: list[dict[str, Any]]
    providers: list[dict[str, Any]]
    agents: list[dict[str, Any]] = Field(default_factory=list)  # per profile name and hash


# --- workspaces (diff, apply, cp) ------------------------------------------------------


class FileChange(BaseModel):
    """One path that differs between the workspace as copied in and as the session left it.

    Modes are git-style octal strings ("100644", "100755", "120000" for a
    symlink); `patch` is this file's part of the unified diff.
    """

    path: str
    status: Literal["added", "deleted", "modified", "renamed"]
    old_path: str | None = None  # a rename's source
    old_mode: str | None = None
    new_mode: str | None = None
    binary: bool = False
    additions: int = 0
    deletions: int = 0
    patch: str = ""


class WorkspaceDiff(BaseModel):
    session: str
    at: int | None  # the checkpoint's seq; None: the live container
    source: str  # "container", "checkpoint <image>", or "start" (nothing checkpointed yet)
    files: list[FileChange]
    additions: int = 0
    deletions: int = 0


class ApplyRequest(_Request):
    at: int | None = Field(default=None, ge=1)
    to: str | None = None  # an absolute host folder; None: the folder the workspace came from
    check: bool = False  # say what would happen, change nothing
    branch: str | None = None  # make a branch with one commit in the host repository instead


class ApplyConflict(BaseModel):
    path: str
    reason: str


class ApplyResult(BaseModel):
    session: str
    target: str
    at: int | None
    applied: bool  # False: --check, or refused for conflicts
    check: bool
    written: list[str] = Field(default_factory=list)
    deleted: list[str] = Field(default_factory=list)
    unchanged: list[str] = Field(default_factory=list)  # the host already had the new content
    conflicts: list[ApplyConflict] = Field(default_factory=list)
    branch: str | None = None
    commit: str | None = None
