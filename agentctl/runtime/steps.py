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

`drive` loops `next_action` (agentctl.runtime.decide: the decisions, pure) →
perform (here, and the tool calls in agentctl.runtime.calls) until the
session leaves `running`.
Because every decision is made from the log's fold, the same loop serves a
fresh session, a resumed one and one recovered after `kill -9`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from agentctl.errors import AgentctlError, ProviderError
from agentctl.plugins import lacking
from agentctl.protocol import (
    BudgetExceeded,
    CheckpointCreated,
    ModelFailed,
    ModelRequested,
    ModelResponded,
    SessionStatus,
    SessionStatusChanged,
)
from agentctl.providers import Message
from agentctl.providers.base import Delta
from agentctl.providers.retry import breaker_for, call_with_retries
from agentctl.runtime import context
from agentctl.runtime.calls import Fault, ToolCalls
from agentctl.runtime.compaction import Compactor
from agentctl.runtime.decide import Action, next_action, to_messages
from agentctl.runtime.decide import enabled_tools as _enabled
from agentctl.runtime.replies import MAX_REPLY_TEXT_BYTES, checked_usage, clean_text, recorded_calls
from agentctl.state import SessionState

if TYPE_CHECKING:
    from agentctl.runtime.host import StepHost

log = logging.getLogger(__name__)


class StepMachine(ToolCalls):
    """Performs actions for one runtime; stateless apart from the runtime it serves."""

    def __init__(self, runtime: StepHost) -> None:
        super().__init__(runtime)
        self._messages: dict[int, tuple[int, list[Message]]] = {}
        self.compactor = Compactor(runtime, self._pause)

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
            action = next_action(state, self.rt.clock.now())
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
        if kind == "over_budget":
            assert action.exceeded is not None
            await self._stop_on_budget(sid, action.exceeded)
            return True
        if kind == "list_mcp":
            await self._list_mcp(sid, state)
            return False
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
            await self._refuse(sid, state, call)
            return False
        # wait: an approval is pending
        await self._set_status(sid, SessionStatus.WAITING, "waiting for approval")
        await self.rt.sandboxes.pause(sid)
        return True

    # -- model -------------------------------------------------------------------

    async def _call_model(self, sid: str, state: SessionState) -> bool:
        provider = self.rt.provider_for(state)
        tools = self.rt.tools_for(state).specs(_enabled(state))
        size = context.estimate(state, tools)
        if context.over_threshold(state, size):
            compacted = await self.compactor.compact(sid, state, tools, size)
            if compacted is None:  # paused on a failed compaction, or shutting down
                return True
            state, size = compacted
        attempt_base = state.model_attempts if state.awaiting_model else 0

        async def on_attempt(attempt: int) -> None:
            self.rt.live.end(sid)  # a new attempt streams its response from the start
            async with self.journal.lock(sid):
                self.journal.submit(
                    sid, [ModelRequested(attempt=attempt_base + attempt, context_tokens=size)]
                )

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
        self.rt.model_calls[sid] = call
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
            self.rt.model_calls.pop(sid, None)
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

    async def _stop_on_budget(self, sid: str, exceeded: BudgetExceeded) -> None:
        """A budget is spent: recorded, and the session paused (a resume may raise it)."""
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


__all__ = ["Fault", "StepMachine"]
