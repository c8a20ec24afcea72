"""The `delegate` tool: a child session with a handoff contract (docs/subagents.md).

A `delegate` call starts a child — a normal session whose `session.created`
names its parent's call (`delegated_by`) — and the parent waits for it the way
it waits for a person: `waiting` with `child` set, no task, its container
paused. When the child ends, its end wakes the parent: the child's final
answer is checked against the call's `output_schema`; the first answer that
does not fit is given back to the child as a user message (`delegate.rejected`
in the parent's log) and the child goes on; a second one fails the call. The
call's result is the child's answer (JSON with a schema), or an error saying
the child failed or was cancelled, recorded with what the child spent
(`delegate.ended`, counted against the parent's budget) and `running`.

Durability: `tool.started` is durable before the child is made, and the
child is made with a client request id derived from the parent and the call
id, so a daemon killed anywhere in between finds the same child on restart
(the call is idempotent: it runs again and gets the child the log knows). A
parent that was waiting when the daemon died is looked at on start: a child
that ended meanwhile wakes it then.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from agentctl.errors import AgentctlError, UsageError
from agentctl.handoff import DelegateArgs, judge, request_id
from agentctl.protocol import (
    Budget,
    CreateSession,
    DelegatedBy,
    DelegateEnded,
    DelegateRejected,
    EventData,
    SessionStatus,
    SessionStatusChanged,
    ToolFinished,
    ToolProposed,
    ToolStarted,
)
from agentctl.runtime.decide import spent
from agentctl.runtime.making import Child

if TYPE_CHECKING:
    from agentctl.paths import Paths
    from agentctl.runtime.journal import Journal
    from agentctl.runtime.making import SessionMaker
    from agentctl.runtime.sandbox_host import SandboxHost
    from agentctl.state import SessionState, ToolCallState
    from agentctl.triggers.clock import Clock

log = logging.getLogger(__name__)

FEEDBACK = (
    "Your final answer does not satisfy the output schema the delegating agent asked for:\n"
    "{error}\n\nAnswer again with only a JSON value that satisfies this schema:\n{schema}"
)
MAX_ANSWER_BYTES = 64_000


def remaining(state: SessionState, now: datetime | None = None) -> Budget:
    """What the parent has left of its budget (None where it has no limit): steps, tokens
    and cost, and, at `now`, the running time its clock has left."""
    b = state.budget
    steps, tokens, cost = spent(state)
    left: dict[str, Any] = {}
    if b.get("max_steps") is not None:
        left["max_steps"] = b["max_steps"] - steps
    if b.get("max_tokens") is not None:
        left["max_tokens"] = b["max_tokens"] - tokens
    if b.get("max_cost_usd") is not None:
        left["max_cost_usd"] = round(b["max_cost_usd"] - cost, 6)
    if b.get("max_wall_s") is not None:
        wall = state.running_s
        if now is not None and state.running_since is not None:
            wall += (now - state.running_since).total_seconds()
        left["max_wall_s"] = round(b["max_wall_s"] - wall, 3)
    return Budget.model_validate(left)


def final_answer(child: SessionState) -> str:
    last = child.transcript[-1] if child.transcript else None
    if last is not None and last.role == "assistant" and not last.tool_calls:
        return last.content
    return child.last_assistant_text


class DelegationHost(Protocol):
    """What the `delegate` tool needs of the runtime."""

    @property
    def journal(self) -> Journal: ...
    @property
    def paths(self) -> Paths: ...
    @property
    def sandboxes(self) -> SandboxHost: ...
    @property
    def maker(self) -> SessionMaker: ...
    @property
    def clock(self) -> Clock: ...

    def spawn(self, sid: str) -> None:
        """Start the actor of a session that is `running`."""

    def drives(self, sid: str) -> bool:
        """Whether this process drives the session (another worker may hold it)."""

    async def post_message(self, sid: str, text: str) -> None:
        """A user message to a session (it runs on)."""

    async def cancel(self, sid: str, reason: str = ...) -> None:
        """Cancel a session."""


class Delegations:
    """Starts children, and wakes their parents when they end, for one runtime."""

    def __init__(self, runtime: DelegationHost) -> None:
        self.rt = runtime
        self.journal = runtime.journal

    # -- starting a child ------------------------------------------------------------

    async def begin(
        self,
        sid: str,
        state: SessionState,
        call: ToolCallState,
        args: DelegateArgs,
        proposed: ToolProposed | None,
    ) -> None:
        """The `delegate` call: started (durably), the child made, the parent waiting."""
        started = ToolStarted(
            call_id=call.call_id,
            name=call.name,
            args=args.model_dump(exclude_none=True),
            idempotency_key=request_id(sid, call.call_id),
            idempotent=True,
        )
        async with self.journal.lock(sid):
            self.journal.submit(sid, [proposed, started] if proposed else [started])
        await self.journal.barrier(sid)  # write-ahead: the call is in the log before its child
        try:
            child = await self._make_child(sid, self.journal.state(sid), call, args)
        except AgentctlError as exc:
            error = f"the child session could not be started: {exc}"
            if exc.hint:
                error += f" ({exc.hint})"
            async with self.journal.lock(sid):
                self.journal.submit(
                    sid,
                    [ToolFinished(call_id=call.call_id, exit_code=None, output="", error=error)],
                )
            return
        self.journal.crash.reach("delegate:created")  # the child exists, the parent not waiting
        waiting = SessionStatusChanged(
            status=SessionStatus.WAITING, reason=f"delegated to {child}", child=child
        )
        async with self.journal.lock(sid):
            await self.journal.append(sid, [waiting])
        await self.rt.sandboxes.pause(sid)
        await self.deliver(child)  # it may have ended before the parent waited

    async def _make_child(
        self, sid: str, state: SessionState, call: ToolCallState, args: DelegateArgs
    ) -> str:
        known = self.journal.request_index.get(request_id(sid, call.call_id))
        if known is not None:  # made before a crash: found, whatever changed since
            return await self.rt.maker.create_session(
                CreateSession(task=args.task, request_id=request_id(sid, call.call_id))
            )
        created = state.created
        parent_box = created.get("sandbox") or {}
        left = remaining(state, self.rt.clock.now())
        for name, value in left.model_dump(exclude_none=True).items():
            if value <= 0:
                raise UsageError(f"this session has no {name.removeprefix('max_')} budget left")
        profile = None
        if args.profile is not None:
            from agentctl.profiles import find_profile

            # The config folder's only: a repository does not define the agents it gets.
            profile = await asyncio.to_thread(find_profile, args.profile, self.rt.paths.config)
        fields: dict[str, Any] = {
            "task": args.task,
            "network": parent_box.get("network", "none"),
            "limits": parent_box.get("limits") or {},
            "labels": dict(created.get("labels") or {}),
            "request_id": request_id(sid, call.call_id),
        }
        if profile is None or profile.profile.model is None:
            fields["model"] = created["model"]
            if created.get("base_url"):
                fields["base_url"] = created["base_url"]
        if args.sandbox == "fork":
            image = parent_box.get("image")
            if image is None:
                raise UsageError("this session has no sandbox to fork (sandbox: fresh)")
            checkpoint = state.latest_checkpoint
            if checkpoint is not None and checkpoint.image:
                fields["image"] = checkpoint.image  # its files as of the latest checkpoint
            else:  # none yet: its image and the workspace it started from
                fields["image"] = image
                if parent_box.get("workspace"):
                    fields["workspace"] = parent_box["workspace"]
        elif profile is None:
            fields["image"] = parent_box.get("image") or "none"
        if profile is not None:
            fields["agent"] = args.profile
        req = CreateSession.model_validate(fields)
        inherit_policy = profile is None or profile.profile.policy is None
        spec = Child(
            delegated_by=DelegatedBy(session=sid, call_id=call.call_id),
            cap=left,
            policy=dict(created["policy"]) if inherit_policy else None,
            output_schema=args.output_schema,
        )
        return await self.rt.maker.create_session(req, child=spec)

    # -- a child's end -------------------------------------------------------------------

    async def deliver(self, child_sid: str) -> None:
        """A child that ended gives its parent the call's result (if the parent waits for it)."""
        child = self.journal.find(child_sid)
        if child is None or child.status is None or not child.status.ended:
            return
        ref = child.created.get("delegated_by")
        if not ref:
            return
        parent_sid, call_id = ref["session"], ref["call_id"]
        if not self.rt.drives(parent_sid):
            return  # the worker that holds the parent delivers, when it folds the child's end
        feedback = None
        async with self.journal.lock(parent_sid):
            parent = self.journal.find(parent_sid)
            if (
                parent is None
                or parent.status is not SessionStatus.WAITING
                or parent.delegation.child != child_sid
                or child.status is None
                or not child.status.ended  # given its feedback by another delivery meanwhile
            ):
                return
            schema = child.created.get("output_schema")
            output, error = "", None
            if child.status is SessionStatus.COMPLETED:
                text = final_answer(child)
                if schema is None:
                    output = text
                else:
                    value, problem = judge(text, schema)
                    if problem is None:
                        output = json.dumps(value, ensure_ascii=False)
                    else:
                        rejected = parent.delegation.rejected.get(child_sid, [])
                        if not rejected:
                            await self.journal.append(
                                parent_sid,
                                [
                                    DelegateRejected(
                                        call_id=call_id,
                                        child=child_sid,
                                        child_seq=child.last_seq,
                                        error=problem,
                                    )
                                ],
                            )
                            feedback = problem
                        elif len(rejected) == 1 and rejected[0] == child.last_seq:
                            feedback = problem  # recorded, not yet given (a crash in between)
                        else:
                            error = (
                                f"the child session {child_sid} answered twice with an answer "
                                f"that does not fit the output schema: {problem}"
                            )
            else:
                why = f": {child.reason}" if child.reason else ""
                error = f"the child session {child_sid} {child.status.value}{why}"
            if feedback is not None:
                # Under the parent's lock (a parent's lock is taken before a child's, never
                # after), so two deliveries of one answer give the child one message.
                message = FEEDBACK.format(error=feedback, schema=json.dumps(schema))
                await self.rt.post_message(child_sid, message)
                return
            await self.journal.append(parent_sid, self._ended(child, call_id, output, error))
        self.rt.spawn(parent_sid)

    def _ended(
        self, child: SessionState, call_id: str, output: str, error: str | None
    ) -> list[EventData]:
        assert child.status is not None
        if len(output.encode("utf-8", "replace")) > MAX_ANSWER_BYTES:
            error = f"the child's answer is over {MAX_ANSWER_BYTES} bytes"
            output = ""
        steps, _, cost = spent(child)
        return [
            DelegateEnded(
                call_id=call_id,
                child=child.session_id,
                status=child.status,
                steps=steps,
                input_tokens=child.input_tokens + child.delegation.input_tokens,
                output_tokens=child.output_tokens + child.delegation.output_tokens,
                cost_usd=round(cost, 6),
                cost_known=not (child.cost_unknown or child.delegation.cost_unknown),
            ),
            ToolFinished(
                call_id=call_id,
                exit_code=0 if error is None else None,
                output=output,
                error=error,
            ),
            SessionStatusChanged(
                status=SessionStatus.RUNNING,
                reason=f"child {child.session_id} {child.status.value}",
            ),
        ]

    # -- start and cancel ------------------------------------------------------------------

    async def recover(self) -> None:
        """On start: a parent waiting for a child that ended while the daemon was down."""
        for state in list(self.journal.states.values()):
            if state.status is SessionStatus.WAITING and state.delegation.child:
                await self.deliver(state.delegation.child)

    async def cancel_child(self, parent_sid: str, child_sid: str) -> None:
        """The parent was cancelled: the child it waits for is cancelled too (and its own)."""
        child = self.journal.find(child_sid)
        if child is None or child.status is None or child.status.ended:
            return
        try:
            await self.rt.cancel(child_sid, reason=f"its parent {parent_sid} was cancelled")
        except AgentctlError as exc:  # it ended meanwhile
            log.info("child %s of %s: %s", child_sid, parent_sid, exc)


__all__ = ["Delegations", "remaining"]
