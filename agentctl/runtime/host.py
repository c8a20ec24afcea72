"""What the runtime's parts need of the runtime, as protocols.

The runtime (`agentctl.runtime.runtime.Runtime`) is made of parts: the step
machine, the sandboxes, the workspaces, the timers, the triggers, the MCP hub,
the recovery at start. Each part is given the runtime at construction, typed
by the protocol here that says what it uses, so that no part imports the
runtime and the runtime's module sits above all of them (no import cycle).
`Runtime` satisfies each protocol; mypy checks it where the parts are made.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from agentctl.handoff import DelegateArgs
    from agentctl.mcp.hub import McpHub
    from agentctl.paths import Paths
    from agentctl.policy import Policy
    from agentctl.protocol import CreateSession, ToolProposed
    from agentctl.providers import Provider
    from agentctl.providers.retry import RetryPolicy
    from agentctl.runtime.journal import Journal
    from agentctl.runtime.live import LiveBus
    from agentctl.runtime.sandbox_host import SandboxHost
    from agentctl.state import SessionState, ToolCallState
    from agentctl.tools import ToolRegistry, WaitArgs
    from agentctl.triggers.clock import Clock
    from store import EventStore


class Host(Protocol):
    """The runtime's core services, as the timers, the triggers, the workspaces
    and the recovery use them: the log, the clock, the sandboxes, tasks."""

    @property
    def store(self) -> EventStore: ...
    @property
    def paths(self) -> Paths: ...
    @property
    def journal(self) -> Journal: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def sandboxes(self) -> SandboxHost: ...
    @property
    def stopping(self) -> bool:
        """Set once, at shutdown: a part starts no new work."""

    def background(self, work: Coroutine[Any, Any, Any], name: str) -> None:
        """Run `work` as a task the runtime keeps (and cancels at shutdown)."""

    def spawn(self, sid: str) -> None:
        """Start the actor of a session that is `running` (nothing if it has one)."""

    def drives(self, sid: str) -> bool:
        """Whether this process drives the session (not if another worker holds it)."""

    async def create_session(self, req: CreateSession) -> str:
        """A new session (a schedule's or a hook's firing)."""


class Waits(Protocol):
    """The `wait` tool's durable timer (agentctl.triggers.timers.Timers)."""

    async def begin_wait(
        self, sid: str, call: ToolCallState, args: WaitArgs, proposed: ToolProposed | None
    ) -> None:
        """Record the wait and arm its timer; the session holds nothing meanwhile."""


class Delegates(Protocol):
    """The `delegate` tool's child sessions (agentctl.runtime.delegation.Delegations)."""

    async def begin(
        self,
        sid: str,
        state: SessionState,
        call: ToolCallState,
        args: DelegateArgs,
        proposed: ToolProposed | None,
    ) -> None:
        """Start the child and wait for it; the session holds nothing meanwhile."""


class StepHost(Host, Protocol):
    """What the step machine (agentctl.runtime.steps) needs of the runtime.

    The step machine decides from the log's fold and performs through these;
    it never reaches into the runtime otherwise."""

    @property
    def live(self) -> LiveBus: ...
    @property
    def mcp(self) -> McpHub: ...
    @property
    def timers(self) -> Waits: ...
    @property
    def delegations(self) -> Delegates: ...
    @property
    def retry_policy(self) -> RetryPolicy: ...
    @property
    def output_cap(self) -> int: ...
    @property
    def tool_timeout_s(self) -> float: ...
    @property
    def artifact_cap(self) -> int:
        """Bytes of whole outputs kept per session."""

    @property
    def model_calls(self) -> dict[str, asyncio.Future[Any]]:
        """The model calls in flight, per session: a shutdown cancels them."""

    def missing_plugins(self, state: SessionState) -> list[str]:
        """What the session uses of plugins this daemon lacks, in words (empty: none)."""

    def provider_for(self, state: SessionState) -> Provider:
        """The session's model provider."""

    def load_provider(self, spec: str, base_url: str | None = None) -> Provider:
        """A provider of its own (a compaction's summary model); the caller closes it."""

    def tools_for(self, state: SessionState) -> ToolRegistry:
        """The session's tools: built-in and its MCP servers'."""

    def policy_of(self, state: SessionState) -> Policy:
        """The session's policy."""

    def schedule_expiry(self, sid: str, approval_id: str) -> None:
        """Arm the approval's deadline."""


__all__ = ["Delegates", "Host", "StepHost", "Waits"]
