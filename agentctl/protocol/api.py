"""The HTTP API's bodies: what a client sends (requests) and what the daemon answers (views).

Request bodies forbid unknown fields, so a typo in a client is a 422, not a
silently dropped option.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field, field_validator, model_validator

from agentctl.protocol.base import PROTOCOL_VERSION, SessionStatus, _Request
from agentctl.protocol.events import (
    ApprovalContext,
    Budget,
    ContextPolicy,
    DelegatedBy,
    ParentRef,
    PluginRef,
)
from agentctl.protocol.limits import LIMIT_RANGES, Limits, limit_problem
from agentctl.protocol.triggers import Overlap

# Text a client sends that goes into one event. An event holds at most 1 MB;
# a task or message well under that leaves room for the rest of its event.
MAX_TEXT_BYTES = 256_000
MAX_NAME_CHARS = 200  # labels, approver names, reasons' short cousins


def _bounded(limit: int) -> Any:
    def check(value: str | None) -> str | None:
        if value is not None and len(value.encode("utf-8", "surrogatepass")) > limit:
            size = len(value.encode("utf-8", "surrogatepass"))
            raise ValueError(
                f"is {size} bytes; at most {limit} (put a long text in a workspace file "
                "and point the agent at it)"
            )
        return value

    return AfterValidator(check)


BoundedText = Annotated[str, _bounded(MAX_TEXT_BYTES)]
Name = Annotated[str, Field(max_length=MAX_NAME_CHARS)]

REQUEST_ID = r"^[A-Za-z0-9_.:-]{1,100}$"


class ToolView(BaseModel):
    """One tool a session would get, as `agentctl tools ls` shows it."""

    name: str
    source: str  # builtin, plugin:DISTRIBUTION, or mcp:SERVER
    idempotent: bool
    tier: str  # under the policy asked about, for a call no argument rule singles out
    rule: str
    description: str = ""


class McpServerView(BaseModel):
    """One configured MCP server as `agentctl mcp ls` shows it: never a secret value."""

    name: str
    scope: str  # sandbox | host | http
    command: list[str] = Field(default_factory=list)
    url: str | None = None
    env: list[str] = Field(default_factory=list)  # names only
    headers: list[str] = Field(default_factory=list)  # names only
    state: str = "not started"  # not started | running | stopped | failed
    line: str = ""  # what happened to it last, in words
    at: datetime | None = None
    protocol: str | None = None
    calls: int = 0
    faults: int = 0
    tools: list[ToolView] = Field(default_factory=list)
    skipped: list[str] = Field(default_factory=list)


class CreateSession(_Request):
    task: BoundedText = Field(min_length=1)
    model: str = "replay:recordings/demo.jsonl"
    base_url: str | None = None
    policy: str | None = None  # preset name or path; None: config/policy.toml or "default"
    image: str | None = None  # None: the default image; "none": no sandbox
    network: Literal["none", "bridge"] = "none"
    workspace: str | None = None
    mount_workspace: bool = False  # bind-mount the host folder: the agent changes it directly
    mount_read_only: bool = False  # bind-mount it read-only (implies mount_workspace)
    budget: Budget = Field(default_factory=Budget)
    labels: dict[Name, Name] = Field(default_factory=dict, max_length=64)
    limits: Limits = Field(default_factory=Limits)
    agent: str | None = Field(default=None, min_length=1)  # a profile; options set here override it
    # Chosen by the client; a retry with the same id returns the session the first made.
    request_id: str | None = Field(default=None, pattern=REQUEST_ID)
    start_at: datetime | None = None  # created now, started then (`run --at`)
    trigger: dict[str, Any] | None = None  # set by a schedule or a webhook: what started it
    # The context window and its compaction (docs/context.md); None: the profile's, then
    # the endpoint's `context_window`.
    context: ContextPolicy | None = None

    @field_validator("limits")
    @classmethod
    def _limits_in_range(cls, limits: Limits) -> Limits:
        for name in LIMIT_RANGES:
            problem = limit_problem(name, getattr(limits, name))
            if problem:
                raise ValueError(problem)
        return limits

    @model_validator(mode="after")
    def _mount_needs_a_workspace(self) -> CreateSession:
        if (self.mount_workspace or self.mount_read_only) and not self.workspace:
            raise ValueError("mount_workspace needs a workspace folder to mount (--workspace DIR)")
        return self


class ResumeSession(_Request):
    message: BoundedText | None = None
    budget: Budget | None = None


class PostMessage(_Request):
    text: BoundedText = Field(min_length=1)


class ForkSession(_Request):
    at: int = Field(ge=1)
    message: BoundedText | None = None
    model: str | None = None
    policy: str | None = None
    request_id: str | None = Field(default=None, pattern=REQUEST_ID)  # as in CreateSession


class CancelSession(_Request):
    reason: BoundedText = Field(default="cancelled by operator", min_length=1)


def default_approver() -> str:
    """Who decides when no name is given (`--as`): the OS user."""
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # no user name in the environment or the password database
        return "unknown"


class Decide(_Request):
    decision: Literal["approve", "deny"]
    approver: Name = Field(min_length=1)
    reason: BoundedText = ""
    args: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _args_fit_an_event(self) -> Decide:
        if self.args is not None:
            size = len(json.dumps(self.args, ensure_ascii=False).encode("utf-8", "surrogatepass"))
            if size > 2 * MAX_TEXT_BYTES:
                raise ValueError(
                    f"the edited arguments are {size} bytes; at most {2 * MAX_TEXT_BYTES}"
                )
        return self


TRIGGER_NAME = r"^[a-z0-9][a-z0-9_-]{0,62}$"


class AddSchedule(_Request):
    name: str = Field(pattern=TRIGGER_NAME)
    cron: str = Field(min_length=1)
    tz: str = "UTC"
    overlap: Overlap = "skip"
    run: CreateSession
    added_by: str = ""


class ScheduleView(BaseModel):
    name: str
    cron: str
    tz: str
    overlap: str
    task: str
    paused: bool
    next_at: datetime | None
    last_due: datetime | None
    last_session: str | None
    fired: int
    queued: int


class AddHook(_Request):
    name: str = Field(pattern=TRIGGER_NAME)
    task_template: str = Field(min_length=1)
    run: CreateSession
    max_body: int = Field(default=256 * 1024, ge=1, le=16 * 1024 * 1024)
    added_by: str = ""


class HookView(BaseModel):
    name: str
    path: str
    task_template: str
    secret_sha256: str
    deliveries: int
    last_session: str | None
    secret: str | None = None  # only in the answer to `hook add`


class TriggerStarted(BaseModel):
    """The answer to a webhook delivery or a `schedule run-now`."""

    session: str | None
    outcome: str
    delivery: str | None = None


class SessionSummary(BaseModel):
    id: str
    status: SessionStatus
    reason: str = ""
    task: str
    model: str
    created_at: datetime
    updated_at: datetime
    steps: int
    input_tokens: int
    output_tokens: int
    cost_usd: float
    cost_known: bool = True  # False: some response had no known price; cost_usd is what is known
    pending_approvals: int
    parent: ParentRef | None
    last_seq: int
    labels: dict[str, str] = Field(default_factory=dict)
    container: str | None = None
    agent: str | None = None  # the profile's name
    agent_hash: str | None = None  # of what shaped its behaviour (see agentctl.profiles)
    delegated_by: DelegatedBy | None = None  # a child session: the parent's `delegate` call
    # What its child sessions spent (docs/subagents.md): counted against its budget,
    # shown apart from its own `steps` and `cost_usd`.
    children: int = 0
    children_steps: int = 0
    children_cost_usd: float = 0.0


class ApprovalView(BaseModel):
    id: str
    session: str
    call_id: str
    tool: str
    args: dict[str, Any]
    tier: str
    rule: str
    context: ApprovalContext
    requested_at: datetime
    expires_at: datetime | None
    on_expiry: str
    seq: int
    approvers: list[str] = Field(default_factory=list)  # who may decide now (empty: anyone)
    escalation_step: int = 0
    delegated_by: str | None = None  # the parent session, when this session is a child


class ErrorBody(BaseModel):
    code: str
    message: str
    detail: Any = None


class Health(BaseModel):
    ok: bool = True
    version: str
    protocol: int = PROTOCOL_VERSION


class WorkerView(BaseModel):
    """A daemon sharing the PostgreSQL log (docs/scale.md), and the sessions it leases now."""

    id: str
    host: str
    pid: int
    started_at: datetime
    heartbeat: datetime
    alive: bool  # beat within the lease time
    sessions: list[str] = Field(default_factory=list)


class DaemonStatus(BaseModel):
    pid: int
    version: str
    socket: str
    database: str
    uptime_s: float
    sessions: dict[str, int]
    last_offset: int
    schema_version: int | None = None
    tcp: str | None = None
    plugins: list[PluginRef] = Field(default_factory=list)  # loaded at start: what each gives
    plugin_errors: list[str] = Field(default_factory=list)  # left out at start, and why
    worker: str | None = None  # this daemon's worker id, on a shared PostgreSQL log
    workers: list[WorkerView] = Field(default_factory=list)  # every worker of that log
    engine: str | None = None  # the Docker engine sandboxes run on (DOCKER_HOST, no secret)
    registry: str | None = None  # `[sandbox] registry`: where checkpoints are pushed


class StartedSession(BaseModel):
    """Which session a create-and-follow stream is about (its `x-agentctl-session` header)."""

    id: str
    last_seq: int
    status: SessionStatus


class EndpointView(BaseModel):
    """A model endpoint as the daemon sees it (`GET /v1/providers`); never a key's value."""

    name: str  # the scheme of a model spec: `NAME:MODEL`
    kind: Literal["openai", "anthropic"]
    base_url: str
    source: str  # "config" or "built-in"
    key_name: str | None = None
    key_env: str | None = None  # the environment variable that overrides the stored key
    key_source: Literal["env", "file", "missing"] | None = None  # None: no key wanted


class ProvidersView(BaseModel):
    endpoints: list[EndpointView]
    keys_file: str
    stored_keys: list[str]  # names only
    config_error: str | None = None
