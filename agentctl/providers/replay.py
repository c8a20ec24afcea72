"""`replay:PATH`: play a recording back, response k for step k.

Deterministic by construction: the answer depends only on `step`, so a
resumed session that asks again for a step it already asked gets the same
response (docs/design.md §4). The file is validated when the provider is made, so a
broken recording fails `agentctl run` at once, not at step 7.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from agentctl.errors import ProviderError
from agentctl.providers.base import Message, ModelResponse, OnDelta, Provider, ToolSpec
from agentctl.providers.recording import Recording, load_recording


class ReplayProvider(Provider):
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.spec = f"replay:{path}"
        self.endpoint = f"replay:{self.path.resolve()}"
        self.recording: Recording = load_recording(self.path)

    @property
    def price_known(self) -> bool:
        return True  # a recording carries its own costs

    async def complete(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec],
        *,
        step: int,
        on_delta: OnDelta | None = None,
    ) -> ModelResponse:
        if step < 0:
            raise ValueError(f"step must be >= 0, got {step}")
        responses = self.recording.responses
        if step >= len(responses):
            raise ProviderError(
                f"{self.spec}: recording exhausted after {len(responses)} responses "
                f"(asked for response {step + 1})",
                retryable=False,
                hint="the session needs more model turns than were recorded",
            )
        return responses[step]

    async def summarise(self, messages: Sequence[Message], *, index: int) -> ModelResponse:
        """The recording's compaction `index` (its lines of kind "compaction", in order)."""
        compactions = self.recording.compactions
        if not 0 <= index < len(compactions):
            raise ProviderError(
                f"{self.spec}: the recording has {len(compactions)} compaction summaries "
                f"(asked for summary {index + 1})",
                retryable=False,
                hint="the session outgrew its context window where the recorded one did not",
            )
        return compactions[index]
