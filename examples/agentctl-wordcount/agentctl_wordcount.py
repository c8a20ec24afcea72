"""An example agentctl plugin (docs/extending.md): one tool, one model provider.

- `word_count` counts the words of a text. It only reads its arguments, so it
  is idempotent: a call found in flight after a crash simply runs again.
- `line_count` counts the lines of a file in the session's sandbox: it takes
  the call's context (`ToolContext`) and needs a sandbox.
- `counter:NAME` is a model that asks for `word_count` of the task, then
  answers with the count: enough to run a whole session with no server.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Annotated

from pydantic import Field

import agentctl
from agentctl import Message, ModelResponse, Provider, ToolCall, ToolContext, ToolSpec, Usage


@agentctl.tool(idempotent=True)
def word_count(
    text: Annotated[str, Field(description="The text whose words to count.")],
    unique: bool = False,
) -> dict[str, int]:
    """Count the words of a text (with `unique`, each word once)."""
    words = text.split()
    return {"words": len(set(words)) if unique else len(words)}


@agentctl.tool(idempotent=True, needs_sandbox=True)
def line_count(ctx: ToolContext, path: Annotated[str, Field(min_length=1)]) -> str:
    """Count the lines of a file in /workspace."""
    assert ctx.sandbox is not None  # needs_sandbox: never called without one
    return str(ctx.sandbox.read_file(path).count("\n"))


TOOLS = [word_count, line_count]


class CounterModel(Provider):
    """`counter:NAME`: asks for the task's word count, then says it."""

    def __init__(self, spec: str, model: str, base_url: str | None) -> None:
        self.spec = spec
        self.endpoint = spec
        self.model = model

    async def complete(
        self, messages: Sequence[Message], tools: Sequence[ToolSpec], *, step: int, on_delta=None
    ) -> ModelResponse:
        results = [m for m in messages if m.role == "tool"]
        if not results:
            task = next(m.content for m in messages if m.role == "user")
            call = ToolCall(id="count-1", name="word_count", arguments={"text": task})
            return ModelResponse("let me count", (call,), Usage(0, 0), None, 0.0)
        output = results[-1].content.split("\n[exit code", 1)[0]  # the runtime adds the code
        words = json.loads(output)["words"]
        return ModelResponse(f"{self.model}: the task has {words} words", (), Usage(0, 0), None, 0.0)
