"""A running session's tool calls: judged, asked about, run, and their results kept.

The part of the step machine (agentctl.runtime.steps) that performs the
actions on one tool call. The write-ahead rules of docs/design.md §4 hold
here: `tool.started` is committed before the side effect begins,
`tool.finished` after it ends; a call found started but not finished after a
crash runs again only when its tool is idempotent, otherwise it is
`tool.interrupted` and goes back to a person.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

from agentctl import ids
from agentctl.handoff import DELEGATE_TOOL, DelegateArgs
from agentctl.policy import Tier
from agentctl.protocol import (
    ApprovalContext,
    ApprovalRequested,
    EscalationStep,
    EventData,
    SessionHalted,
    SessionStatus,
    SessionStatusChanged,
    ToolFinished,
    ToolInterrupted,
    ToolProposed,
    ToolStarted,
)
from agentctl.runtime.decide import enabled_tools as _enabled
from agentctl.runtime.decide import repeated_calls
from agentctl.runtime.replies import MAX_CONTEXT_BYTES, MAX_ERROR_BYTES, clean_text
from agentctl.state import SessionState, ToolCallState
from agentctl.tools import (
    WAIT_TOOL,
    Tool,
    ToolCallError,
    ToolContext,
    ToolOutcome,
    WaitArgs,
)

if TYPE_CHECKING:
    from agentctl.runtime.host import StepHost

log = logging.getLogger(__name__)

Fault = Literal["sandbox", "internal"]


class ToolCalls:
    """Performs the actions on tool calls for one runtime (the step machine's base)."""

    def __init__(self, runtime: StepHost) -> None:
        self.rt = runtime
        self.journal = runtime.journal

    # -- tool calls ----------------------------------------------------------------

    async def _propose(self, sid: str, state: SessionState, call: ToolCallState) -> bool:
        if call.refusal is not None:  # the runtime refused it as it was recorded
            async with self.journal.lock(sid):
                self.journal.submit(sid, [_refusal(call, call.refusal)])
            return False
        try:
            tool, parsed = self.rt.tools_for(state).validate(call.name, call.args)
        except ToolCallError as exc:
            async with self.journal.lock(sid):
                self.journal.submit(sid, [_refusal(call, str(exc))])
            return False
        args = parsed.model_dump(exclude_none=True)
        repeated = repeated_calls(state, call)
        limit = int(state.created.get("repeat_limit") or 0)
        if limit and repeated >= limit:
            return await self._stop_loop(sid, call, repeated)
        if tool.name not in _enabled(state):
            refusal = _refusal(call, f"tool {tool.name!r} is not enabled for this session")
            async with self.journal.lock(sid):
                self.journal.submit(sid, [refusal])
            return False
        verdict = self.rt.policy_of(state).evaluate(call.name, args, hint=tool.hint)
        proposed = ToolProposed(
            call_id=call.call_id,
            name=call.name,
            args=args,
            tier=verdict.tier.value,
            rule=verdict.rule,
        )
        if verdict.tier is Tier.DENY:
            refusal = _refusal(call, f"denied by policy ({verdict.rule})")
            async with self.journal.lock(sid):
                self.journal.submit(sid, [proposed, refusal])
            return False
        if verdict.tier is Tier.HALT:
            await self._halt(sid, call, proposed, verdict.rule)
            return True
        if verdict.tier is Tier.ALLOW:  # proposed and started go to the log together
            await self._execute(sid, state, call, args, proposed=proposed)
            return False
        request = ApprovalRequested(
            approval_id=ids.approval_id(),
            call_id=call.call_id,
            name=call.name,
            args=args,
            tier="ask",
            context=ApprovalContext(
                last_message=clean_text(state.last_assistant_text, MAX_CONTEXT_BYTES),
                diff=await self._diff(sid, state, tool, parsed),
                rule=verdict.rule,
                reason="policy",
            ),
            expires_at=_deadline(verdict.timeout_s, self.rt.clock.now()),
            on_expiry=verdict.on_expiry.value,
            approvers=list(verdict.approvers),
            escalation=[
                EscalationStep(approvers=list(e.approvers), timeout_s=e.timeout_s)
                for e in verdict.escalate
            ],
        )
        await self._ask(sid, proposed, request)
        return True

    async def _refuse(self, sid: str, state: SessionState, call: ToolCallState) -> None:
        """A call a person denied (or let expire): its result says so."""
        approval = state.approvals[call.approval_id or ""]
        who = approval.decided_by
        why = f": {approval.reason}" if approval.reason else ""
        text = f"the call was {approval.decision} by {who}{why}"
        async with self.journal.lock(sid):
            self.journal.submit(sid, [_refusal(call, text)])

    async def _halt(self, sid: str, call: ToolCallState, proposed: ToolProposed, rule: str) -> None:
        """A `halt` tier: refuse the call and stop the session now; the alert goes out."""
        refusal = _refusal(call, f"halted by policy ({rule}): a person must look first")
        paused = SessionStatusChanged(
            status=SessionStatus.PAUSED, reason=f"halted by policy ({rule}) at {call.name}"
        )
        async with self.journal.lock(sid):
            await self.journal.append(
                sid,
                [
                    proposed,
                    refusal,
                    SessionHalted(call_id=call.call_id, rule=rule),
                    paused,
                ],
            )
        await self.rt.sandboxes.pause(sid)

    async def _stop_loop(self, sid: str, call: ToolCallState, repeated: int) -> bool:
        """The loop guard: refuse the call with a result that tells the model, then pause."""
        text = (
            f"loop guard: {call.name} was called with the same arguments {repeated} times in a "
            "row; it was not run again. Try something different, or give your final answer."
        )
        reason = f"loop guard: {call.name} called {repeated} times in a row with the same arguments"
        async with self.journal.lock(sid):
            self.journal.submit(sid, [_refusal(call, text)])
        await self._pause(sid, reason)
        return True

    async def _resume_call(self, sid: str, state: SessionState, call: ToolCallState) -> bool:
        """A call found in flight: it may have had its side effect or not."""
        if call.idempotent:
            log.info("re-running idempotent %s %s of %s", call.name, call.call_id, sid)
            await self._execute(sid, state, call, call.run_args or {})
            return False
        if await self._recover(sid, state, call):
            return False
        request = ApprovalRequested(
            approval_id=ids.approval_id(),
            call_id=call.call_id,
            name=call.name,
            args=call.run_args or {},
            tier="ask",
            context=ApprovalContext(
                last_message=clean_text(state.last_assistant_text, MAX_CONTEXT_BYTES),
                rule=call.rule,
                reason="interrupted: the daemon stopped while this call was running; "
                "it may or may not have taken effect",
            ),
        )
        await self._ask(sid, ToolInterrupted(call_id=call.call_id), request)
        return True

    async def _ask(self, sid: str, first: EventData, request: ApprovalRequested) -> None:
        """Ask a person: the request and `waiting`, durable; then hold nothing.

        The container is paused while the events commit, so a client that sees
        `waiting` (it reads what is durable) finds the container paused too."""
        waiting = SessionStatusChanged(
            status=SessionStatus.WAITING, reason=f"approval {request.approval_id}"
        )
        async with self.journal.lock(sid):
            self.journal.submit(sid, [first, request, waiting])
        await self.rt.sandboxes.pause(sid)
        await self.journal.barrier(sid)
        self.rt.schedule_expiry(sid, request.approval_id)

    async def _recover(self, sid: str, state: SessionState, call: ToolCallState) -> bool:
        """Use the completion record a call left in the sandbox, if it finished before the crash."""
        try:
            tool = self.rt.tools_for(state).get(call.name)
        except ToolCallError:
            return False
        if tool.recover is None:
            return False
        sandbox = await self._sandbox_for(sid, state) if tool.needs_sandbox else None
        # The call may still be running (the engine went on when the daemon died), for as
        # long as its own timeout, which can be above the runtime's.
        args = call.run_args or call.args or {}
        timeout = args.get("timeout_s") if isinstance(args, dict) else None
        ctx = ToolContext(
            session_id=sid,
            sandbox=sandbox,
            output_cap=self.rt.output_cap,
            timeout_s=float(timeout or self.rt.tool_timeout_s),
            call_key=_key(sid, call, call.started_count),
        )
        try:
            outcome = await asyncio.to_thread(tool.recover, ctx)
        except Exception:
            log.exception("could not look for the completion record of %s", call.call_id)
            return False
        if outcome is None:
            return False
        log.info("recovered the completed result of %s %s of %s", call.name, call.call_id, sid)
        async with self.journal.lock(sid):
            self.journal.submit(sid, [self._finished(sid, call, outcome, 0.0)])
        return True

    def _finished(
        self, sid: str, call: ToolCallState, outcome: ToolOutcome, fallback_ms: float
    ) -> ToolFinished:
        artifact, note = self._keep_artifact(sid, call.call_id, outcome)
        return ToolFinished(
            call_id=call.call_id,
            exit_code=outcome.exit_code,
            output=outcome.output + note,
            truncated=outcome.truncated,
            artifact=artifact,
            duration_ms=outcome.duration_ms or fallback_ms,
            error=clean_text(outcome.error, MAX_ERROR_BYTES) if outcome.error else None,
            timed_out=outcome.timed_out,
            attachments=list(outcome.attachments),
        )

    async def _execute(
        self,
        sid: str,
        state: SessionState,
        call: ToolCallState,
        args: dict[str, Any],
        proposed: ToolProposed | None = None,
    ) -> None:
        try:
            tool, parsed = self.rt.tools_for(state).validate(call.name, args)
        except ToolCallError as exc:
            items: list[EventData] = [proposed] if proposed else []
            async with self.journal.lock(sid):
                self.journal.submit(sid, [*items, _refusal(call, str(exc))])
            return
        if tool.name == WAIT_TOOL:  # a durable timer, not a run: holds nothing while it waits
            assert isinstance(parsed, WaitArgs)
            await self.rt.timers.begin_wait(sid, call, parsed, proposed)
            return
        if tool.name == DELEGATE_TOOL:  # a child session: waited for holding nothing
            assert isinstance(parsed, DelegateArgs)
            await self.rt.delegations.begin(sid, state, call, parsed, proposed)
            return
        sandbox = await self._sandbox_for(sid, state) if tool.needs_sandbox else None
        started = ToolStarted(
            call_id=call.call_id,
            name=call.name,
            args=parsed.model_dump(exclude_none=True),
            idempotency_key=_key(sid, call, call.started_count + 1),
            idempotent=tool.idempotent,
        )
        async with self.journal.lock(sid):
            if proposed is not None:
                self.journal.submit(sid, [proposed, started])
            else:
                self.journal.submit(sid, [started])
        if not tool.idempotent:
            # Write-ahead: durable before the side effect begins. An idempotent
            # tool has none to protect; if a crash loses its start, it runs again.
            await self.journal.barrier(sid)
        ctx = ToolContext(
            session_id=sid,
            sandbox=sandbox,
            output_cap=self.rt.output_cap,
            timeout_s=self.rt.tool_timeout_s,
            call_key=started.idempotency_key,
            call_id=call.call_id,
            spill_dir=self.rt.sandboxes.spill_dir,
        )
        t0 = time.perf_counter()
        try:
            if tool.arun is not None:
                outcome = await tool.arun(ctx, parsed)
            elif tool.inline:
                outcome = tool.run(ctx, parsed)
            else:
                outcome = await asyncio.to_thread(tool.run, ctx, parsed)
        except ToolCallError as exc:
            outcome = ToolOutcome(exit_code=None, error=str(exc))
        except Exception as exc:  # a tool crashing is a result for the model, not a dead session
            log.exception("tool %s failed", call.name)
            outcome = ToolOutcome(exit_code=None, error=f"{type(exc).__name__}: {exc}")
        self.journal.crash.reach("tool:ran")  # its effect is done, its result not yet recorded
        finished = self._finished(sid, call, outcome, round((time.perf_counter() - t0) * 1000, 3))
        async with self.journal.lock(sid):
            self.journal.submit(sid, [finished])

    async def _sandbox_for(self, sid: str, state: SessionState) -> Any:
        async with self.journal.lock(sid):
            return await self.rt.sandboxes.ensure(self.journal.state(sid))

    def _keep_artifact(
        self, sid: str, call_id: str, outcome: ToolOutcome
    ) -> tuple[str | None, str]:
        """Move a truncated call's whole output into the session's artifacts: (its name, a note).

        What the host keeps is bounded: per call by the sandbox (`keep_cap`), per
        session here (`artifact_cap`). Over the cap, or on a full disk, the output
        is not kept and the note says so; the call's result stands either way.
        """
        spill = outcome.full_output
        if spill is None:
            return None, ""
        folder = self.rt.paths.artifacts / sid
        name = f"{ids.call_ref(sid, call_id)}.out"  # never the model's id: see ids.call_ref
        try:
            size = spill.stat().st_size
            used = _folder_bytes(folder)
            if used + size > self.rt.artifact_cap:
                spill.unlink(missing_ok=True)
                return None, (
                    f"\n[the whole output ({size} bytes) was not kept: this session's kept "
                    f"outputs reached their {self.rt.artifact_cap} byte cap]"
                )
            folder.mkdir(parents=True, exist_ok=True)
            shutil.move(str(spill), folder / name)
            self.journal.crash.reach("artifact:moved")
        except OSError as exc:  # a full disk: the result goes on without its artifact
            log.warning("could not keep the output of %s in %s: %s", call_id, sid, exc)
            spill.unlink(missing_ok=True)
            (folder / name).unlink(missing_ok=True)
            return None, f"\n[the whole output was not kept: {exc.strerror or exc}]"
        return f"{sid}/{name}", ""

    async def _diff(
        self, sid: str, state: SessionState, tool: Tool, parsed: BaseModel
    ) -> str | None:
        """What the call would change, as its tool shows it (a file write's diff)."""
        if tool.preview is None:
            return None
        try:
            sandbox = await self._sandbox_for(sid, state)
            if sandbox is None:
                return None
            diff = await asyncio.to_thread(tool.preview, sandbox, parsed)
        except Exception as exc:  # the diff helps a person; failing to make one must not block
            return f"(no diff: {exc})"
        return clean_text(diff, MAX_CONTEXT_BYTES)

    # -- status --------------------------------------------------------------------

    async def _set_status(
        self, sid: str, status: SessionStatus, reason: str, fault: Fault | None = None
    ) -> None:
        async with self.journal.lock(sid):
            if self.journal.state(sid).status is status:
                return
            changed = SessionStatusChanged(status=status, reason=reason, fault=fault)
            await self.journal.append(sid, [changed])

    async def _pause(self, sid: str, reason: str, fault: Fault | None = None) -> None:
        log.warning("pausing %s: %s", sid, reason)
        await self._set_status(sid, SessionStatus.PAUSED, reason, fault)
        await self.rt.sandboxes.pause(sid)


def _folder_bytes(folder: Path) -> int:
    try:
        return sum(entry.stat().st_size for entry in os.scandir(folder) if entry.is_file())
    except FileNotFoundError:
        return 0


def _key(sid: str, call: ToolCallState, attempt: int) -> str:
    # The completion record in the sandbox is named after this key: runtime ids only.
    return f"{sid}:{ids.call_ref(sid, call.call_id)}:{attempt}"


def _refusal(call: ToolCallState, text: str) -> ToolFinished:
    error = clean_text(text, MAX_ERROR_BYTES)  # errors quote arguments, which can be large
    return ToolFinished(call_id=call.call_id, exit_code=None, output="", error=error)


def _deadline(timeout_s: float | None, now: datetime) -> datetime | None:
    return now + timedelta(seconds=timeout_s) if timeout_s else None
