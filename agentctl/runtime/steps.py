"""The step machine: what a running session does next, decided from its folded state.

One step is a model call, then each proposed tool call through the policy,
approval when asked for, execution, and a checkpoint when a mutating tool ran.
The write-ahead rules of docs/design.md §4 hold everywhere below:

- a model response is committed before any of its tool calls is acted on;
- `tool.started` is committed before the side effect begins, `tool.finished`
  after it ends;
- after a crash, a call found started but not finished runs again only when
  its tool is idempotent; otherwise it is `tool.interrupted` and goes back to
  a person — a side effect is never repeated silently.

`drive` loops `next_action` → perform until the session leaves `running`.
Because every decision is made from the log's fold, the same loop serves a
fresh session, a resumed one and one recovered after `kill -9`.
"""

from __future__ import annotations

import asyncio
import difflib
import logging
import os
import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from agentctl import ids
from agentctl.errors import AgentctlError, ProviderError
from agentctl.plugins import lacking
from agentctl.policy import Tier
from agentctl.protocol import (
    ApprovalContext,
    ApprovalRequested,
    BudgetExceeded,
    CheckpointCreated,
    EscalationStep,
    EventData,
    ModelFailed,
    ModelRequested,
    ModelResponded,
    SessionHalted,
    SessionStatus,
    SessionStatusChanged,
    ToolFinished,
    ToolInterrupted,
    ToolProposed,
    ToolStarted,
)
from agentctl.providers import Message, ToolCall
from agentctl.providers.base import Delta
from agentctl.providers.retry import breaker_for, call_with_retries
from agentctl.runtime.replies import (
    MAX_CONTEXT_BYTES,
    MAX_ERROR_BYTES,
    MAX_REPLY_TEXT_BYTES,
    checked_usage,
    clean_text,
    recorded_calls,
)
from agentctl.state import CallPhase, SessionState, ToolCallState
from agentctl.tools import WAIT_TOOL, ToolCallError, ToolContext, ToolOutcome, WaitArgs

if TYPE_CHECKING:
    from agentctl.runtime.runtime import Runtime

log = logging.getLogger(__name__)

Fault = Literal["sandbox", "internal"]


@dataclass(frozen=True)
class Action:
    kind: str  # model | propose | start | resume_call | refuse | checkpoint | complete | wait
    call: ToolCallState | None = None


def next_action(state: SessionState) -> Action:
    """The one thing a running session does next. Pure."""
    if state.awaiting_model:
        return Action("model")
    for call in state.calls.values():
        phase = call.phase
        if phase is CallPhase.FINISHED:
            continue
        if phase is CallPhase.NEW:
            return Action("propose", call)
        if phase is CallPhase.PROPOSED:
            return Action("start", call)  # allow; ask and deny never rest in PROPOSED
        if phase is CallPhase.APPROVED:
            return Action("start", call)
        if phase is CallPhase.STARTED:
            return Action("resume_call", call)
        approval = state.approvals.get(call.approval_id or "")
        if approval is not None and not approval.pending:
            return Action("refuse", call)  # denied or expired (approved is APPROVED)
        return Action("wait", call)
    if state.step_mutated:
        return Action("checkpoint")
    last = state.transcript[-1] if state.transcript else None
    if last is not None and last.role == "assistant" and not last.tool_calls:
        return Action("complete")
    return Action("model")


def to_messages(
    state: SessionState, cache: dict[int, list[Message]] | None = None
) -> list[Message]:
    """The transcript as provider messages. The transcript only grows, so with a
    cache (keyed by the state object) each turn is converted once, not once per step."""
    known = cache.get(id(state), []) if cache is not None else []
    if len(known) > len(state.transcript):
        known = []
    known = (
        known
        + [
            Message(
                role=turn.role,  # type: ignore[arg-type]
                content=turn.content,
                tool_calls=tuple(
                    ToolCall(id=i, name=n, arguments=a) for i, n, a in turn.tool_calls
                ),
                tool_call_id=turn.tool_call_id,
                name=turn.name,
            )
            for turn in state.transcript[len(known) :]
        ]
    )
    if cache is not None:
        cache[id(state)] = known
    return known


def budget_exceeded(state: SessionState, now: datetime) -> BudgetExceeded | None:
    b = state.budget
    if b.get("max_steps") is not None and state.steps >= b["max_steps"]:
        return BudgetExceeded(limit="steps", value=state.steps)
    tokens = state.input_tokens + state.output_tokens
    if b.get("max_tokens") is not None and tokens >= b["max_tokens"]:
        return BudgetExceeded(limit="tokens", value=tokens)
    if b.get("max_cost_usd") is not None and state.cost_usd >= b["max_cost_usd"]:
        return BudgetExceeded(limit="cost_usd", value=round(state.cost_usd, 6))
    if b.get("max_wall_s") is not None:
        wall = state.running_s
        if state.running_since is not None:
            wall += (now - state.running_since).total_seconds()
        if wall >= b["max_wall_s"]:
            return BudgetExceeded(limit="wall_s", value=round(wall, 3))
    return None


def repeated_calls(state: SessionState, call: ToolCallState) -> int:
    """How many calls in a row, ending with `call`, had its name and arguments. Pure.

    Counted in the log's order over the whole session, so a model that repeats
    a call turn after turn is seen, while one different call in between resets
    it. Alike calls side by side in one reply count once: a batch of reads made
    at once is not a loop.
    """
    wanted = (call.name, call.args)
    count = 0
    for turn in reversed(state.transcript):
        if turn.role != "assistant" or not turn.tool_calls:
            continue
        calls = list(turn.tool_calls)
        if count == 0:
            ids = [call_id for call_id, _, _ in calls]
            if call.call_id not in ids:
                continue  # a later step's turn
            calls = calls[: ids.index(call.call_id) + 1]
        previous = None
        for _, name, args in reversed(calls):
            if (name, args) == previous:
                continue  # alike calls side by side in one reply
            previous = (name, args)
            if previous != wanted:
                return count
            count += 1
    return count


class StepMachine:
    """Performs actions for one runtime; stateless apart from the runtime it serves."""

    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime
        self.journal = runtime.journal
        self._messages: dict[int, list[Message]] = {}

    async def drive(self, sid: str) -> None:
        try:
            await self._drive(sid)
        finally:
            self._messages.pop(id(self.journal.states.get(sid)), None)
            await self.journal.barrier(sid)  # an actor never stops with its last events in flight

    async def _drive(self, sid: str) -> None:
        gaps = self.rt.missing_plugins(self.journal.state(sid))
        if gaps:  # a running session this daemon found at its start
            await self._pause(sid, lacking(sid, gaps))
            return
        while not self.rt.stopping:
            state = self.journal.state(sid)
            if state.status is not SessionStatus.RUNNING:
                return
            action = next_action(state)
            try:
                done = await self._perform(sid, state, action)
            except AgentctlError as exc:
                await self._pause(sid, f"error: {exc}")
                return
            if done:
                return

    async def _perform(self, sid: str, state: SessionState, action: Action) -> bool:
        kind, call = action.kind, action.call
        if kind == "model":
            return await self._call_model(sid, state)
        if kind == "complete":
            await self._set_status(sid, SessionStatus.COMPLETED, "the model gave its final answer")
            await self.rt.mcp.close_session(sid)
            await self.rt.sandboxes.release(sid)
            return True
        if kind == "checkpoint":
            await self._checkpoint(sid)
            return False
        assert call is not None
        if kind == "propose":
            return await self._propose(sid, state, call)
        if kind == "start":
            await self._execute(sid, state, call, call.run_args or {})
            return False
        if kind == "resume_call":
            return await self._resume_call(sid, state, call)
        if kind == "refuse":
            approval = state.approvals[call.approval_id or ""]
            who = approval.decided_by
            why = f": {approval.reason}" if approval.reason else ""
            text = f"the call was {approval.decision} by {who}{why}"
            async with self.journal.lock(sid):
                self.journal.submit(sid, [_refusal(call, text)])
            return False
        # wait: an approval is pending
        await self._set_status(sid, SessionStatus.WAITING, "waiting for approval")
        await self.rt.sandboxes.pause(sid)
        return True

    # -- model -------------------------------------------------------------------

    async def _call_model(self, sid: str, state: SessionState) -> bool:
        exceeded = budget_exceeded(state, datetime.now(UTC))
        if exceeded is not None:
            async with self.journal.lock(sid):
                await self.journal.append(
                    sid,
                    [
                        exceeded,
                        SessionStatusChanged(
                            status=SessionStatus.PAUSED,
                            reason=f"budget: {exceeded.limit} reached ({exceeded.value:g})",
                        ),
                    ],
                )
            await self.rt.sandboxes.pause(sid)
            return True
        if state.mcp_unlisted:  # the session's first step: its MCP servers' tools, recorded
            await self._list_mcp(sid, state)
            return False
        provider = self.rt.provider_for(state)
        tools = self.rt.tools_for(state).specs(_enabled(state))
        attempt_base = state.model_attempts if state.awaiting_model else 0

        async def on_attempt(attempt: int) -> None:
            self.rt.live.end(sid)  # a new attempt streams its response from the start
            async with self.journal.lock(sid):
                self.journal.submit(sid, [ModelRequested(attempt=attempt_base + attempt)])

        async def on_failure(err: ProviderError, attempt: int, retry_in_ms: float | None) -> None:
            async with self.journal.lock(sid):
                self.journal.submit(
                    sid,
                    [
                        ModelFailed(
                            error=str(err),
                            retryable=err.retryable,
                            attempt=attempt_base + attempt,
                            retry_in_ms=retry_in_ms,
                        )
                    ],
                )

        live = self.rt.live

        async def on_delta(delta: Delta) -> None:
            live.publish(sid, self.journal.state(sid).last_seq, delta)

        call = asyncio.ensure_future(
            call_with_retries(
                provider,
                to_messages(state, self._messages),
                tools,
                step=state.steps - int(state.created.get("model_since_step") or 0),
                policy=self.rt.retry_policy,
                breaker=breaker_for(provider.endpoint),
                on_attempt=on_attempt,
                on_failure=on_failure,
                on_delta=on_delta,
            )
        )
        # Registered so that a shutdown cancels the HTTP request at once (it is
        # asked again on resume); a cancel of the session cancels it through us.
        self.rt._model_calls[sid] = call
        try:
            response = await call
        except asyncio.CancelledError:
            call.cancel()
            raise
        except ProviderError as exc:
            if exc.retryable:  # the endpoint may come back: a person can resume
                await self._pause(sid, f"model error: {exc}")
            else:  # it answered, and the answer was no (bad request, bad key, recording exhausted)
                await self._set_status(sid, SessionStatus.FAILED, f"model error: {exc}")
                await self.rt.sandboxes.pause(sid)
            return True
        finally:
            self.rt._model_calls.pop(sid, None)
            live.end(sid)
        try:
            usage = checked_usage(response)
        except ProviderError as exc:
            await self._set_status(sid, SessionStatus.FAILED, f"model error: {exc}")
            await self.rt.sandboxes.pause(sid)
            return True
        calls, refused = recorded_calls(response.tool_calls, state.steps)
        data = ModelResponded(
            text=clean_text(response.text, MAX_REPLY_TEXT_BYTES),
            tool_calls=calls,
            usage=usage,
            cost_usd=response.cost_usd,
            latency_ms=response.latency_ms,
            refused=refused,
            reasoning=response.reasoning,
            first_token_ms=response.first_token_ms,
        )
        async with self.journal.lock(sid):
            self.journal.submit(sid, [data])
        return False

    async def _list_mcp(self, sid: str, state: SessionState) -> None:
        """Start the session's MCP servers and record what tools each has (or why none).

        A server that fails to start is recorded with its error: the session goes
        on without its tools, and `mcp ls` says what happened."""
        servers = await asyncio.to_thread(self.rt.mcp.store.servers)
        sandbox = None
        if any(servers[s].where == "sandbox" for s in state.mcp_unlisted if s in servers):
            sandbox = await self._sandbox_for(sid, state)  # None for a session without one
        listed = await asyncio.gather(
            *(self.rt.mcp.listing(sid, server, sandbox) for server in state.mcp_unlisted)
        )
        async with self.journal.lock(sid):
            self.journal.submit(sid, list(listed))

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
                diff=await self._diff(sid, state, call.name, args),
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
        self, sid: str, state: SessionState, name: str, args: dict[str, Any]
    ) -> str | None:
        """A unified diff of a file write against the file as it is in the sandbox."""
        if name not in ("write_file", "edit_file"):
            return None
        try:
            sandbox = await self._sandbox_for(sid, state)
            if sandbox is None:
                return None
            path = args["path"]
            exists = await asyncio.to_thread(sandbox.file_exists, path)
            before = await asyncio.to_thread(sandbox.read_file, path) if exists else ""
        except Exception as exc:  # the diff helps a person; failing to make one must not block
            return f"(no diff: {exc})"
        if name == "write_file":
            after = args["content"]
        else:
            count = before.count(args["old"])
            if count != 1:
                return f"(no diff: `old` occurs {count} times in {args['path']})"
            after = before.replace(args["old"], args["new"], 1)
        diff = "".join(
            difflib.unified_diff(
                before.splitlines(keepends=True),
                after.splitlines(keepends=True),
                fromfile=f"a/{args['path']}" if exists else "/dev/null",
                tofile=f"b/{args['path']}",
            )
        )
        return clean_text(diff, MAX_CONTEXT_BYTES)

    # -- checkpoints and status ------------------------------------------------------

    async def _checkpoint(self, sid: str) -> None:
        async with self.journal.lock(sid):
            state = self.journal.state(sid)
            sandbox = await self.rt.sandboxes.ensure(state)
            if sandbox is None:  # nothing to snapshot; mark the step done
                image, parent = "", None
            else:
                checkpoint = await asyncio.to_thread(sandbox.checkpoint, state.last_seq + 1)
                image = checkpoint.image
                parent = state.latest_checkpoint.image if state.latest_checkpoint else None
            self.journal.submit(
                sid,
                [CheckpointCreated(image=image, parent_checkpoint=parent)],
            )

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


def _enabled(state: SessionState) -> list[str]:
    """The tools the session may call: its built-in ones and its MCP servers' listed ones."""
    names = list(state.created.get("tools", []))
    for listed in state.mcp_listed.values():
        names.extend(tool["name"] for tool in listed.get("tools", []))
    return names


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


__all__ = [
    "Action",
    "StepMachine",
    "budget_exceeded",
    "next_action",
    "repeated_calls",
    "to_messages",
]
