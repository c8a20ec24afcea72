"""A session's events: one model per event type, its stored type name its `TYPE`.

The triggers' streams (schedules, hooks, alerts) have theirs in
`agentctl.protocol.triggers`; `agentctl.protocol.registry` lists them all.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar, Literal

from pydantic import Field

from agentctl.protocol.base import LIVE_DELTA, EventData, SessionStatus, _Data
from agentctl.protocol.limits import Limits


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


class DelegatedBy(_Data):
    """The session and `delegate` call that started a child session (docs/subagents.md)."""

    session: str
    call_id: str


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


class ContextPolicy(_Data):
    """How a session keeps its conversation inside the model's context window (docs/context.md).

    `window` is the model's declared context in tokens (the endpoint's or the
    profile's `context_window`); None: no compaction. When a request would
    pass `compact_at` of it, the older turns are summarised and the request is
    built from the summary and the turns after the cut (`context.compacted`)."""

    window: int | None = Field(default=None, ge=64)
    compact_at: float = Field(default=0.8, gt=0, lt=1)
    keep: float = Field(default=0.3, gt=0, lt=1)  # the share of the window kept verbatim
    summary_model: str | None = None  # a cheaper model for the summaries (None: the session's)


class SessionCreated(EventData):
    TYPE: ClassVar[str] = "session.created"

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
    delegated_by: DelegatedBy | None = None  # a child session: its parent's `delegate` call
    output_schema: dict[str, Any] | None = None  # a child's: the schema its answer must fit
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
    context: ContextPolicy = Field(default_factory=ContextPolicy)
    version: str


class SessionStatusChanged(EventData):
    TYPE: ClassVar[str] = "session.status"

    status: SessionStatus
    reason: str = ""
    budget: Budget | None = None  # set when a resume raises the budget
    # A pause caused by a fault outside the session (the engine, the log, a bug)
    # names it: the daemon retries such a pause when it next starts.
    fault: Literal["sandbox", "internal"] | None = None
    auto_resume: int | None = None  # set on a retry of a fault pause: its attempt number
    timer: str | None = None  # waiting for this timer (`timer.set`), not for a person
    child: str | None = None  # waiting for this child session (the `delegate` tool)


class UserMessage(EventData):
    TYPE: ClassVar[str] = "message.user"

    text: str


class ModelRequested(EventData):
    TYPE: ClassVar[str] = "model.requested"

    attempt: int
    context_tokens: int | None = None  # the request's size in tokens, as estimated before it


class ToolCallData(_Data):
    id: str  # the model's id (or ours, when its was unusable): the conversation's only
    name: str
    args: dict[str, Any] | str  # a string when the model's JSON did not parse


class UsageData(_Data):
    input_tokens: int = Field(default=0, ge=0)
    output_tokens: int = Field(default=0, ge=0)
    reported: bool = True  # False: the server sent no usage (the counts are 0)


class ModelResponded(EventData):
    TYPE: ClassVar[str] = "model.responded"

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


class ModelDelta(EventData):
    """A piece of a streamed model response, sent live to clients and never stored.

    Its envelope carries the seq of the session's last event (it adds none),
    so a cursor never moves on a delta. The `model.responded` that follows
    holds the whole response.
    """

    TYPE: ClassVar[str] = LIVE_DELTA

    text: str = ""
    reasoning: str = ""
    tool_calls: list[ToolCallDeltaData] = Field(default_factory=list)
    snapshot: bool = False  # True: the response so far, for a client that attached mid-call


class ModelFailed(EventData):
    TYPE: ClassVar[str] = "model.failed"

    error: str
    retryable: bool
    attempt: int
    retry_in_ms: float | None = None


class ToolProposed(EventData):
    TYPE: ClassVar[str] = "tool.proposed"

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


class ApprovalRequested(EventData):
    TYPE: ClassVar[str] = "approval.requested"

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


class ApprovalDecided(EventData):
    TYPE: ClassVar[str] = "approval.decided"

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


class ToolStarted(EventData):
    TYPE: ClassVar[str] = "tool.started"

    call_id: str
    name: str
    args: dict[str, Any]
    idempotency_key: str
    idempotent: bool = False


class ToolFinished(EventData):
    TYPE: ClassVar[str] = "tool.finished"

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


class ToolInterrupted(EventData):
    TYPE: ClassVar[str] = "tool.interrupted"

    call_id: str


class CheckpointCreated(EventData):
    TYPE: ClassVar[str] = "checkpoint.created"

    image: str
    parent_checkpoint: str | None = None


class SandboxEvent(EventData):
    """A container for the session: the data `sandbox.created` and `sandbox.restored` share."""

    container: str
    image: str


class SandboxCreated(SandboxEvent):
    """The session's first container was made."""

    TYPE: ClassVar[str] = "sandbox.created"


class SandboxRestored(SandboxEvent):
    """The container the log names was made again (from the latest checkpoint, or a fork's)."""

    TYPE: ClassVar[str] = "sandbox.restored"


class BudgetExceeded(EventData):
    TYPE: ClassVar[str] = "budget.exceeded"

    limit: Literal["steps", "tokens", "cost_usd", "wall_s"]
    value: float


class ApprovalEscalated(EventData):
    TYPE: ClassVar[str] = "approval.escalated"

    approval_id: str
    step: int  # 1 for the first escalation
    approvers: list[str]
    expires_at: datetime
    reason: str = ""


class TimerSet(EventData):
    TYPE: ClassVar[str] = "timer.set"

    timer_id: str
    due_at: datetime
    purpose: Literal["start", "wait"]
    call_id: str | None = None  # the `wait` tool call it ends


class TimerFired(EventData):
    TYPE: ClassVar[str] = "timer.fired"

    timer_id: str
    due_at: datetime
    late_s: float  # how long after due_at it fired (a daemon that was down fires late)


class SessionHalted(EventData):
    TYPE: ClassVar[str] = "session.halted"

    call_id: str
    rule: str


class WorkspaceCopied(EventData):
    """`agentctl cp SRC SESSION:PATH` put files into a session that was not running."""

    TYPE: ClassVar[str] = "workspace.copied"

    path: str
    bytes: int


class McpListed(EventData):
    """A session's MCP server listed its tools (or could not): the tools the session has.

    Recorded once per server, before the first model call, so the tools of a
    session come from its log after a restart, not from what the server says then."""

    TYPE: ClassVar[str] = "mcp.listed"

    server: str
    scope: str  # sandbox | host | http
    tools: list[dict[str, Any]] = Field(default_factory=list)  # agentctl.mcp.tools.McpToolSpec
    skipped: list[str] = Field(default_factory=list)  # tools left out, and why
    error: str | None = None  # it did not start, or did not list
    protocol: str | None = None  # the protocol revision it spoke


# What heads the summary where the conversation the model sees has it.
SUMMARY_HEADER = "[Summary of the earlier conversation, written when it outgrew the context window]"


class ContextCompacted(EventData):
    """The older turns of the conversation, replaced by a summary the model wrote.

    The full history stays in the log; from this event on the fold builds the
    conversation as the session's system prompt and task, this summary, and
    the turns of the events from `kept_from_seq` on. The summary call is
    recorded here, so a resume, a fork and a replay never make it again
    (docs/context.md)."""

    TYPE: ClassVar[str] = "context.compacted"

    summary: str
    replaced_from_seq: int  # the first and last event whose turns the summary replaces
    replaced_to_seq: int
    turns_replaced: int
    kept_from_seq: int  # the turns of events from this seq on are kept verbatim
    tokens_before: int  # the request's estimated size before the compaction, and after
    tokens_after: int
    window: int
    model: str  # the model that wrote the summary
    usage: UsageData = Field(default_factory=UsageData)
    cost_usd: float | None = 0.0
    latency_ms: float = 0.0


class DelegateRejected(EventData):
    """A child's final answer did not fit the `delegate` call's output schema; the
    error was given back to the child (once) as a user message (docs/subagents.md)."""

    TYPE: ClassVar[str] = "delegate.rejected"

    call_id: str
    child: str
    child_seq: int  # the child's last seq when its answer was judged
    error: str


class DelegateEnded(EventData):
    """A child session ended and its `delegate` call has its result (with `tool.finished`):
    what the child spent, which counts against this session's budget."""

    TYPE: ClassVar[str] = "delegate.ended"

    call_id: str
    child: str
    status: SessionStatus
    steps: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    cost_known: bool = True
