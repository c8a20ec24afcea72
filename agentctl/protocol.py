"""The protocol: every event and every API body, in one module.

The daemon, the CLI, the TUI and the runtime all speak these models; nothing
else defines the shape of an event. On disk and on the wire an event is an
`Envelope` (docs/design.md §3); its `data` is validated against the model registered
for its `type` in `EVENT_DATA` before it is appended. Event data models ignore
unknown fields so a newer log can be read by an older client; request bodies
forbid them so a typo in a client is a 422, not a silently dropped option.
"""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

PROTOCOL_VERSION = 1


class SessionStatus(StrEnum):
    RUNNING = "running"
    WAITING = "waiting"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def ended(self) -> bool:
        return self in (SessionStatus.COMPLETED, SessionStatus.FAILED, SessionStatus.CANCELLED)


class Envelope(BaseModel):
    """One event as stored and as sent (NDJSON, one per line)."""

    model_config = ConfigDict(frozen=True)

    v: int = PROTOCOL_VERSION
    session: str
    seq: int
    offset: int
    ts: datetime
    type: str
    data: dict[str, Any]


# --- event data -------------------------------------------------------------


class _Data(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Limits(_Data):
    memory_mb: int = 1024
    cpus: float = 1.0
    pids: int = 256
    disk_mb: int = 2048  # what the sandbox may write (its container's writable layer)
    files: int = 500_000  # how many files it may hold there (inodes of the host's disk)


class SandboxConfig(_Data):
    image: str | None  # None: a session whose tools need no container
    network: Literal["none", "bridge"] = "none"
    limits: Limits = Field(default_factory=Limits)
    workspace: str | None = None
    mount_workspace: bool = False
    mount_read_only: bool = False  # with mount_workspace: the agent cannot change the host folder
    # The workspace as copied in, kept as a tar (the base of `diff` and `apply`),
    # and the HEAD commit of its repository then (the parent of `apply --branch`).
    workspace_archive: str | None = None
    workspace_head: str | None = None


class InstructionFile(_Data):
    file: str
    text: str
    truncated: bool = False


class AgentRef(_Data):
    """The agent a session ran as: its profile (if any) and a hash of what shapes it."""

    name: str | None = None
    source: str | None = None  # the profile file
    hash: str  # sha256 of instructions, tool schemas, policy, model, image digest


class Budget(_Data):
    max_steps: int | None = None
    max_tokens: int | None = None
    max_cost_usd: float | None = None
    max_wall_s: float | None = None


class ParentRef(_Data):
    session: str
    seq: int


class PluginRef(_Data):
    """A plugin a session uses (`agentctl.plugins`): its distribution, and what of it."""

    group: str  # the entry-point group: agentctl.tools or agentctl.providers
    name: str  # the entry point's name
    distribution: str | None = None
    version: str | None = None
    provides: list[str] = Field(default_factory=list)  # its tools (or scheme) the session uses

    @property
    def key(self) -> str:
        return f"{self.group}:{self.name}"


class SessionCreated(_Data):
    task: str
    model: str
    base_url: str | None = None
    system: str = ""
    tools: list[str]
    policy: dict[str, Any]
    sandbox: SandboxConfig
    budget: Budget = Field(default_factory=Budget)
    labels: dict[str, str] = Field(default_factory=dict)
    parent: ParentRef | None = None
    instructions: list[InstructionFile] = Field(default_factory=list)
    agent: AgentRef | None = None
    model_since_step: int = 0  # a fork with a new model: its first response is this step's
    request_id: str | None = None  # the client's key: a retried create or fork finds this session
    trigger: dict[str, Any] | None = None  # a schedule's or a webhook's firing that made it
    repeat_limit: int = 0  # loop guard: the same call this many times in a row (0: off)
    plugins: list[PluginRef] = Field(default_factory=list)  # what of installed plugins it uses
    mcp: list[str] = Field(
        default_factory=list
    )  # the MCP servers it uses (listed at its first step)
    version: str


class SessionStatusChanged(_Data):
    status: SessionStatus
    reason: str = ""
    budget: Budget | None = None  # set when a resume raises the budget
    # A pause caused by a fault outside the session (the engine, the log, a bug)
    # names it: the daemon retries such a pause when it next starts.
    fault: Literal["sandbox", "internal"] | None = None
    auto_resume: int | None = None  # set on a retry of a fault pause: its attempt number
    timer: str | None = None  # waiting for this timer (`timer.set`), not for a person


class UserMessage(_Data):
    text: str


class ModelRequested(_Data):
    attempt: int


class ToolCallData(_Data):
    id: str  # the model's id (or ours, when its was unusable): the conversation's only
    name: str
    args: dict[str, Any] | str  # a string when the model's JSON did not parse


class UsageData(_Data):
    input_tokens: int = Field(default=0, ge=0)
    output_tokens: int = Field(default=0, ge=0)
    reported: bool = True  # False: the server sent no usage (the counts are 0)


class ModelResponded(_Data):
    text: str
    tool_calls: list[ToolCallData] = Field(default_factory=list)
    usage: UsageData = Field(default_factory=UsageData)
    cost_usd: float | None = 0.0  # None: unknown (no price for the model, or no usage)
    latency_ms: float = 0.0
    # call id -> why the runtime refuses it as recorded (arguments too large for the log)
    refused: dict[str, str] = Field(default_factory=dict)
    reasoning: str = ""  # a reasoning model's thinking, as the server returned it
    first_token_ms: float | None = None  # streamed: time to the first delta


class ToolCallDeltaData(_Data):
    index: int
    id: str = ""
    name: str = ""
    args: str = ""  # the arguments' text received with this delta


class ModelDelta(_Data):
    """A piece of a streamed model response, sent live to clients and never stored.

    Its envelope carries the seq of the session's last event (it adds none),
    so a cursor never moves on a delta. The `model.responded` that follows
    holds the whole response.
    """

    text: str = ""
    reasoning: str = ""
    tool_calls: list[ToolCallDeltaData] = Field(default_factory=list)
    snapshot: bool = False  # True: the response so far, for a client that attached mid-call


class ModelFailed(_Data):
    error: str
    retryable: bool
    attempt: int
    retry_in_ms: float | None = None


class ToolProposed(_Data):
    call_id: str
    name: str
    args: dict[str, Any] | str
    tier: Literal["allow", "ask", "deny", "halt"]
    rule: str


class ApprovalContext(_Data):
    last_message: str = ""
    diff: str | None = None
    rule: str = ""
    reason: str = ""  # why a person is asked: the policy, or an interrupted call
    # An MCP server's question during a call (elicitation): what it asks, the JSON
    # schema of the answer (approve with --args ANSWER), or a URL it wants opened.
    question: str | None = None
    answer_schema: dict[str, Any] | None = None
    url: str | None = None


class EscalationStep(_Data):
    approvers: list[str]
    timeout_s: float


class ApprovalRequested(_Data):
    approval_id: str
    call_id: str
    name: str
    args: dict[str, Any]
    tier: Literal["allow", "ask", "deny"]
    context: ApprovalContext = Field(default_factory=ApprovalContext)
    expires_at: datetime | None = None
    on_expiry: Literal["deny", "pause"] = "deny"
    approvers: list[str] = Field(default_factory=list)  # who may decide (empty: anyone)
    escalation: list[EscalationStep] = Field(default_factory=list)  # after expires_at, in order
    # "call": may this call run; "elicitation": the answer to a server's question in a
    # call that is running (approve with the answer as args; deny declines).
    kind: Literal["call", "elicitation"] = "call"


class Decision(StrEnum):
    APPROVED = "approved"
    DENIED = "denied"
    EXPIRED = "expired"


class ApprovalDecided(_Data):
    approval_id: str
    decision: Decision
    approver: str
    reason: str = ""
    args: dict[str, Any] | None = None
    # Who decided, as the daemon verified it (the socket's peer credentials), and the
    # name the client claimed (`--as`) when it differs; `via` how the request came.
    verified_user: str | None = None
    claimed: str | None = None
    via: Literal["socket", "tcp", "in-process"] | None = None


class ToolStarted(_Data):
    call_id: str
    name: str
    args: dict[str, Any]
    idempotency_key: str
    idempotent: bool = False


class ToolFinished(_Data):
    call_id: str
    exit_code: int | None
    output: str
    truncated: bool = False
    artifact: str | None = None
    duration_ms: float = 0.0
    error: str | None = None  # set when the call was refused or failed before/inside the tool layer
    timed_out: bool = False
    # Files the result kept beside its output (an MCP result's images, audio, blobs):
    # SESSION/NAME in the artifacts folder, like `artifact`.
    attachments: list[str] = Field(default_factory=list)


class ToolInterrupted(_Data):
    call_id: str


class CheckpointCreated(_Data):
    image: str
    parent_checkpoint: str | None = None


class SandboxEvent(_Data):
    container: str
    image: str


class BudgetExceeded(_Data):
    limit: Literal["steps", "tokens", "cost_usd", "wall_s"]
    value: float


class ApprovalEscalated(_Data):
    approval_id: str
    step: int  # 1 for the first escalation
    approvers: list[str]
    expires_at: datetime
    reason: str = ""


class TimerSet(_Data):
    timer_id: str
    due_at: datetime
    purpose: Literal["start", "wait"]
    call_id: str | None = None  # the `wait` tool call it ends


class TimerFired(_Data):
    timer_id: str
    due_at: datetime
    late_s: float  # how long after due_at it fired (a daemon that was down fires late)


class SessionHalted(_Data):
    call_id: str
    rule: str


# Triggers: each schedule and each webhook is a stream of its own
# (`schedule:NAME`, `hook:NAME`); alert deliveries go to the `alerts` stream.

Overlap = Literal["skip", "queue", "allow"]


class ScheduleAdded(_Data):
    name: str
    cron: str
    tz: str = "UTC"
    overlap: Overlap = "skip"
    run: dict[str, Any]  # the CreateSession of each firing (its task, model, policy...)
    added_by: str = ""
    added_at: datetime  # by the runtime's clock: firings are due after it


class ScheduleChanged(_Data):  # schedule.paused / schedule.resumed / schedule.removed
    by: str = ""


class ScheduleFired(_Data):
    due_at: datetime
    late_s: float = 0.0
    outcome: Literal["started", "skipped", "queued", "failed"]
    session: str | None = None
    manual: bool = False  # `schedule run-now`
    from_queue: bool = False  # a queued firing started when the one before it ended
    missed: int = 0  # earlier firings that fell due while the daemon was down (fired once)
    reason: str = ""


class HookAdded(_Data):
    name: str
    task_template: str
    run: dict[str, Any]
    secret_sha256: str  # the secret itself is a file (0600) beside the log, never in it
    max_body: int
    added_by: str = ""


class HookRemoved(_Data):
    by: str = ""


class HookDelivered(_Data):
    delivery: str
    session: str
    payload: str  # the artifact holding the payload, under the artifacts folder
    sha256: str
    auth: Literal["signature", "token"]


class AlertDelivery(_Data):
    alert_id: str
    kind: str
    session: str
    target: Literal["command", "url"]
    attempt: int
    ok: bool
    error: str = ""
    retry_in_s: float | None = None  # None: no retry after this attempt


class WorkspaceCopied(_Data):
    """`agentctl cp SRC SESSION:PATH` put files into a session that was not running."""

    path: str
    bytes: int


class McpListed(_Data):
    """A session's MCP server listed its tools (or could not): the tools the session has.

    Recorded once per server, before the first model call, so the tools of a
    session come from its log after a restart, not from what the server says then."""

    server: str
    scope: str  # sandbox | host | http
    tools: list[dict[str, Any]] = Field(default_factory=list)  # agentctl.mcp.tools.McpToolSpec
    skipped: list[str] = Field(default_factory=list)  # tools left out, and why
    error: str | None = None  # it did not start, or did not list
    protocol: str | None = None  # the protocol revision it spoke


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


EVENT_DATA: dict[str, type[_Data]] = {
    "session.created": SessionCreated,
    "session.status": SessionStatusChanged,
    "message.user": UserMessage,
    "model.requested": ModelRequested,
    "model.responded": ModelResponded,
    "model.failed": ModelFailed,
    "tool.proposed": ToolProposed,
    "approval.requested": ApprovalRequested,
    "approval.decided": ApprovalDecided,
    "tool.started": ToolStarted,
    "tool.finished": ToolFinished,
    "tool.interrupted": ToolInterrupted,
    "checkpoint.created": CheckpointCreated,
    "sandbox.created": SandboxEvent,
    "sandbox.restored": SandboxEvent,
    "budget.exceeded": BudgetExceeded,
    "approval.escalated": ApprovalEscalated,
    "timer.set": TimerSet,
    "timer.fired": TimerFired,
    "session.halted": SessionHalted,
    "schedule.added": ScheduleAdded,
    "schedule.paused": ScheduleChanged,
    "schedule.resumed": ScheduleChanged,
    "schedule.removed": ScheduleChanged,
    "schedule.fired": ScheduleFired,
    "hook.added": HookAdded,
    "hook.removed": HookRemoved,
    "hook.delivered": HookDelivered,
    "alert.delivery": AlertDelivery,
    "workspace.copied": WorkspaceCopied,
    "mcp.listed": McpListed,
}
EVENT_TYPES: tuple[str, ...] = tuple(EVENT_DATA)
LIVE_DELTA = "model.delta"  # the one live-only type: in streams that ask for it, never in the log


def event_data(type_: str, data: _Data) -> dict[str, Any]:
    """The JSON-ready `data` of an event, checked against its type's model."""
    expected = EVENT_DATA[type_]
    if not isinstance(data, expected):
        raise TypeError(f"{type_} carries {expected.__name__}, not {type(data).__name__}")
    return data.model_dump(mode="json", exclude_none=False)


# --- API bodies ---------------------------------------------------------------

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


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


REQUEST_ID = r"^[A-Za-z0-9_.:-]{1,100}$"

# The sandbox limits a client may ask for: positive and bounded (Docker reads 0 as "none").
LIMIT_RANGES: dict[str, tuple[float, float]] = {
    "memory_mb": (64, 65_536),
    "cpus": (0.01, 64),
    "pids": (32, 32_768),
    "disk_mb": (64, 1_048_576),
    "files": (1_000, 100_000_000),
}


def limit_problem(name: str, value: float) -> str | None:
    """What is wrong with a sandbox limit's value (None: it is in `LIMIT_RANGES`)."""
    low, high = LIMIT_RANGES[name]
    if low <= value <= high:
        return None
    return f"{name} must be from {_number(low)} to {_number(high)}, not {_number(value)}"


def _number(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) else f"{value:g}"


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


class ErrorBody(BaseModel):
    code: str
    message: str
    detail: Any = None


class Health(BaseModel):
    ok: bool = True
    version: str
    protocol: int = PROTOCOL_VERSION


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


# --- observability (trace, stats, sql, export, gc) -----------------------------------

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
