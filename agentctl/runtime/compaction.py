"""Context compaction: the older turns summarised by a model, recorded as `context.compacted`.

The step machine calls `Compactor.compact` before a model call whose request
would pass the session's threshold (agentctl.runtime.context). The summary
call is made once: its result, with the seqs of the turns it replaces and the
sizes before and after, is one event, and everything later — the next
requests, a resume, a fork, a replay's recording — reads it from the log
(docs/context.md). A daemon killed during the call has nothing of it in the
log, so the compaction is asked again on start, like a model call.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from agentctl.errors import ProviderError
from agentctl.protocol import ContextCompacted, UsageData
from agentctl.providers import Message, ToolSpec
from agentctl.providers.base import ModelResponse, OnDelta, Provider
from agentctl.providers.retry import breaker_for, call_with_retries
from agentctl.runtime import context
from agentctl.runtime.replies import MAX_REPLY_TEXT_BYTES, clean_text
from agentctl.state import SessionState

if TYPE_CHECKING:
    from agentctl.runtime.host import StepHost

log = logging.getLogger(__name__)

Pause = Callable[[str, str], Awaitable[None]]


class _Summarising(Provider):
    """A provider seen through its `summarise`, so the retries of a model call apply."""

    def __init__(self, inner: Provider, index: int) -> None:
        self.inner = inner
        self.index = index
        self.spec = inner.spec
        self.endpoint = inner.endpoint

    async def complete(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec],
        *,
        step: int,
        on_delta: OnDelta | None = None,
    ) -> ModelResponse:
        return await self.inner.summarise(messages, index=self.index)


class Compactor:
    def __init__(self, runtime: StepHost, pause: Pause) -> None:
        self.rt = runtime
        self.journal = runtime.journal
        self.pause = pause

    async def compact(
        self, sid: str, state: SessionState, tools: Sequence[ToolSpec], size: int
    ) -> tuple[SessionState, int] | None:
        """Compact the conversation; the state and the request's size after it.

        Nothing to cut (the newest turns alone fill the window): the state as it
        is. None: the session stops here (the summary call failed and the session
        is paused, or the runtime is stopping)."""
        policy = context.policy_of(state)
        cut = context.plan_cut(state.transcript, policy)
        if cut is None:
            log.info("%s: over the context threshold with nothing left to compact", sid)
            return state, size
        spec = policy.summary_model
        provider = self.rt.load_provider(spec) if spec else None
        summariser = provider or self.rt.provider_for(state)
        wrapped = _Summarising(summariser, context.compaction_index(state))

        async def nothing(*_: object) -> None:
            return None

        call = asyncio.ensure_future(
            call_with_retries(
                wrapped,
                context.summary_request(cut, policy),
                (),
                step=wrapped.index,
                policy=self.rt.retry_policy,
                breaker=breaker_for(summariser.endpoint),
                on_attempt=nothing,
                on_failure=nothing,
            )
        )
        self.rt.model_calls[sid] = call  # a shutdown cancels it at once, as a model call
        try:
            response = await call
        except asyncio.CancelledError:
            call.cancel()
            raise
        except ProviderError as exc:
            await self.pause(sid, f"context compaction failed: {exc}")
            return None
        finally:
            self.rt.model_calls.pop(sid, None)
            if provider is not None:
                await provider.aclose()
        summary = clean_text(response.text, MAX_REPLY_TEXT_BYTES).strip() or "(no summary)"
        first, last = cut.replaced_seqs
        after = context.tokens_after(cut, summary, tools)
        assert policy.window is not None
        event = ContextCompacted(
            summary=summary,
            replaced_from_seq=first,
            replaced_to_seq=last,
            turns_replaced=len(cut.replaced),
            kept_from_seq=cut.kept_from_seq,
            tokens_before=size,
            tokens_after=after,
            window=policy.window,
            model=summariser.spec,
            usage=UsageData(
                input_tokens=max(0, response.usage.input_tokens),
                output_tokens=max(0, response.usage.output_tokens),
                reported=response.usage.reported,
            ),
            cost_usd=response.cost_usd,
            latency_ms=response.latency_ms,
        )
        async with self.journal.lock(sid):
            self.journal.submit(sid, [event])
        if self.rt.stopping:  # the model call is asked when the session runs on
            return None
        return self.journal.state(sid), after


__all__ = ["Compactor"]
