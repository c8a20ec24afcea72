"""Approvals: a person's decision on a call, and the deadline when none comes.

A decision is checked (who may decide, what was asked), recorded with the
status it implies, and wakes the session. A deadline is a timer on the
runtime's clock, re-armed from the log on start; when it passes, the approval
escalates to the next approvers or expires (docs/design.md §6). Part of the
runtime (agentctl.runtime.runtime), given it at construction as a `DecisionHost`.
"""

from __future__ import annotations

import logging
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, Protocol

from agentctl.errors import ConflictError, ForbiddenError, NotFoundError, UsageError
from agentctl.identity import Identity
from agentctl.identity import claimed as claimed_identity
from agentctl.mcp.elicit import answer_of
from agentctl.protocol import (
    ApprovalDecided,
    Decide,
    Decision,
    EventData,
    SessionStatus,
    SessionStatusChanged,
)
from agentctl.triggers.escalation import escalation_for

if TYPE_CHECKING:
    from agentctl.mcp.hub import McpHub
    from agentctl.runtime.journal import Journal
    from agentctl.state import SessionState
    from agentctl.tools import ToolRegistry
    from agentctl.triggers.clock import Clock, Handle
    from store import StoredEvent

log = logging.getLogger(__name__)


class DecisionHost(Protocol):
    """What deciding approvals needs of the runtime."""

    @property
    def journal(self) -> Journal: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def mcp(self) -> McpHub: ...

    def background(self, work: Coroutine[Any, Any, Any], name: str) -> None:
        """Run `work` as a task the runtime keeps."""

    def spawn(self, sid: str) -> None:
        """Start the actor of a session that is `running`."""

    def tools_for(self, state: SessionState) -> ToolRegistry:
        """The session's tools (built-in and MCP)."""


class Decisions:
    """Decides approvals and keeps their deadlines, for one runtime."""

    def __init__(self, runtime: DecisionHost) -> None:
        # The runtime's services, by the names the runtime gives them.
        self.journal = runtime.journal
        self.clock = runtime.clock
        self.mcp = runtime.mcp
        self.background = runtime.background
        self.spawn = runtime.spawn
        self.tools_for = runtime.tools_for
        self._timers: dict[str, Handle] = {}  # approval id -> its deadline

    def cancel_all(self) -> None:
        """At shutdown: the log keeps the deadlines, re-armed on the next start."""
        for timer in self._timers.values():
            timer.cancel()

    def schedule_expiry(self, sid: str, approval_id: str) -> None:
        approval = self.journal.state(sid).approvals.get(approval_id)
        if approval is None or approval.expires_at is None or not approval.pending:
            return
        old = self._timers.pop(approval_id, None)
        if old is not None:
            old.cancel()
        self._timers[approval_id] = self.clock.call_at(
            approval.expires_at,
            lambda: self.background(self._expire(sid, approval_id), f"expire:{approval_id}"),
        )

    async def _expire(self, sid: str, approval_id: str) -> None:
        self._timers.pop(approval_id, None)
        async with self.journal.lock(sid):
            state = self.journal.state(sid)
            approval = state.approvals.get(approval_id)
            if approval is None or not approval.pending:
                return
            escalated = escalation_for(approval, self.clock.now())
            if escalated is not None:  # the next approvers get a new deadline
                await self.journal.append(sid, [escalated])
                self.schedule_expiry(sid, approval_id)
                return
            decided = ApprovalDecided(
                approval_id=approval_id,
                decision=Decision.EXPIRED,
                approver="agentctl",
                reason=f"no decision before {approval.expires_at:%Y-%m-%d %H:%M:%S}Z; on expiry: {approval.on_expiry}",
            )
            if approval.on_expiry == "pause":
                status = SessionStatusChanged(
                    status=SessionStatus.PAUSED, reason=f"approval {approval_id} expired"
                )
            else:
                status = SessionStatusChanged(
                    status=SessionStatus.RUNNING, reason=f"approval {approval_id} expired: denied"
                )
            items: list[EventData] = [decided]
            if len(state.pending_approvals) == 1:
                items.append(status)
            await self.journal.append(sid, items)
        self.mcp.answered(approval_id)
        if self.journal.state(sid).status is SessionStatus.RUNNING:
            self.spawn(sid)

    async def decide(
        self, approval_id: str, req: Decide, identity: Identity | None = None
    ) -> StoredEvent:
        """Record a decision; the `approval.decided` event as stored.

        `identity` is who the daemon verified (None: an in-process caller, trusted
        with `req.approver`); a rule's `approvers` must include them."""
        who = identity or claimed_identity(req.approver)
        sid = self.journal.approval_index.get(approval_id)
        if sid is None:
            raise NotFoundError(f"no approval {approval_id!r}", hint="see `agentctl approvals`")
        async with self.journal.lock(sid):
            state = self.journal.state(sid)
            approval = state.approvals[approval_id]
            if not approval.pending:
                when = (
                    f" at {approval.decided_at:%Y-%m-%d %H:%M:%S}Z" if approval.decided_at else ""
                )
                raise ConflictError(
                    f"approval {approval_id} was already {approval.decision} by {approval.decided_by}{when}"
                    + (f" ({approval.reason})" if approval.reason else "")
                )
            if not who.may_decide(approval.approvers):
                step = (
                    f" (escalation step {approval.escalation_step})"
                    if approval.escalation_step
                    else ""
                )
                log.warning("refused a decision on %s by %s", approval_id, who.describe())
                raise ForbiddenError(
                    f"approval {approval_id} may be decided only by {', '.join(approval.approvers)}"
                    f"{step}; you are {who.describe()}"
                )
            args = None
            if req.decision == "approve":
                from agentctl.tools import ToolCallError

                args = approval.args
                if approval.kind == "elicitation":  # the answer to the server's question
                    try:
                        args = answer_of(approval.context.get("answer_schema"), req.args or {})
                    except ToolCallError as exc:
                        raise UsageError(str(exc), hint="approve with --args ANSWER") from None
                elif req.args is not None:
                    try:
                        _, parsed = self.tools_for(state).validate(approval.name, req.args)
                        args = parsed.model_dump(exclude_none=True)
                    except ToolCallError as exc:
                        raise UsageError(str(exc)) from None
            decided = ApprovalDecided(
                approval_id=approval_id,
                decision=Decision.APPROVED if req.decision == "approve" else Decision.DENIED,
                approver=who.user,
                reason=req.reason,
                args=args,
                verified_user=who.user if who.verified else None,
                claimed=req.approver if req.approver != who.user else None,
                via=who.via,
            )
            items: list[EventData] = [decided]
            if len(state.pending_approvals) == 1 and state.status is SessionStatus.WAITING:
                items.append(
                    SessionStatusChanged(
                        status=SessionStatus.RUNNING,
                        reason=f"approval {approval_id} {decided.decision.value}",
                    )
                )
            stored = await self.journal.append(sid, items)
        self.mcp.answered(approval_id)  # a server waiting for this answer gets it
        timer = self._timers.pop(approval_id, None)
        if timer is not None:
            timer.cancel()
        if self.journal.state(sid).status is SessionStatus.RUNNING:
            self.spawn(sid)
        return stored[0]


__all__ = ["DecisionHost", "Decisions"]
