"""An MCP server's question during a call (elicitation) as an approval in the same queue.

The server asks while its tool call runs; agentctl records an
`approval.requested` of kind "elicitation" (the question, the JSON schema of
the answer, or a URL) and the session waits for a person like any other
approval: `agentctl approvals`, the TUI, the inline prompt or HTTP. Approving
with `--args ANSWER` accepts with that answer (checked against the schema);
denying declines; an expiry cancels. The call's own timeout stops while a
person is asked.

It is durable: the question and its answer are events. A daemon that dies
while the question is open leaves the approval pending; the call itself was
in flight and comes back as any call does (run again if idempotent, else a
person is asked first). When the call runs again and the server asks the same
question, the approval already in the log is used, pending or answered, so a
person is not asked twice and an answer given is not lost.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any, Protocol

from agentctl import ids
from agentctl.jsonschemas import best_error, validator_of
from agentctl.protocol import (
    ApprovalContext,
    ApprovalRequested,
    SessionStatus,
    SessionStatusChanged,
)
from agentctl.runtime.replies import MAX_CONTEXT_BYTES, clean_text
from agentctl.tools import ToolCallError

if TYPE_CHECKING:
    import mcp_types as types

    from agentctl.runtime.journal import Journal

MAX_SCHEMA_BYTES = 16 * 1024


class Answers(Protocol):
    """Where a question waits for its answer (the MCP hub)."""

    @property
    def used_answers(self) -> set[str]:
        """Elicitation approvals this process answered with."""

    def waiter(self, approval_id: str) -> asyncio.Future[None]:
        """Done when the approval is decided."""

    def answered(self, approval_id: str) -> None:
        """The approval was decided: its waiter is done."""


class ElicitHost(Protocol):
    """What asking a person needs of the runtime: the log and the answers."""

    @property
    def journal(self) -> Journal: ...

    @property
    def mcp(self) -> Answers: ...


def answer_of(schema: dict[str, Any] | None, answer: dict[str, Any]) -> dict[str, Any]:
    """The answer a person gave, checked against the schema the server asked for."""
    if schema is None:
        return dict(answer)
    try:  # with formats: email, date, uri are a person's typing
        error = best_error(validator_of(schema, formats=True), answer)
    except Exception as exc:
        raise ToolCallError(f"the server's answer schema cannot be checked: {exc}") from None
    if error is not None:
        where = ".".join(str(p) for p in error.absolute_path) or "answer"
        raise ToolCallError(
            f"the answer does not fit what the server asked for: {where}: {error.message}"
        )
    return dict(answer)


async def ask_person(
    rt: ElicitHost, sid: str, call_id: str, tool: str, params: types.ElicitRequestParams
) -> types.ElicitResult:
    import mcp_types as types

    url = params.url if isinstance(params, types.ElicitRequestURLParams) else None
    schema = None
    if isinstance(params, types.ElicitRequestFormParams):
        schema = dict(params.requested_schema)
        if len(json.dumps(schema)) > MAX_SCHEMA_BYTES:
            return types.ElicitResult(action="decline")
    question = clean_text(params.message, MAX_CONTEXT_BYTES)
    state = rt.journal.state(sid)
    approval_id = None
    for known in state.approvals.values():
        ctx = known.context
        if (
            known.kind == "elicitation"
            and known.call_id == call_id
            and known.approval_id not in rt.mcp.used_answers
            and (ctx.get("question"), ctx.get("answer_schema"), ctx.get("url"))
            == (question, schema, url)
        ):
            approval_id = known.approval_id
            break
    waiter = None
    if approval_id is None or state.approvals[approval_id].pending:
        if approval_id is None:
            approval_id = ids.approval_id()
            waiter = rt.mcp.waiter(approval_id)
            request = ApprovalRequested(
                approval_id=approval_id,
                call_id=call_id,
                name=tool,
                args={},
                tier="ask",
                context=ApprovalContext(
                    last_message=clean_text(state.last_assistant_text, MAX_CONTEXT_BYTES),
                    reason="the MCP server asks a question during the call: approve with "
                    "--args ANSWER to answer, deny to decline",
                    question=question,
                    answer_schema=schema,
                    url=url,
                ),
                kind="elicitation",
            )
            waiting = SessionStatusChanged(
                status=SessionStatus.WAITING, reason=f"approval {approval_id}: the MCP server asks"
            )
            async with rt.journal.lock(sid):
                rt.journal.submit(sid, [request, waiting])
            await rt.journal.barrier(sid)
        else:
            waiter = rt.mcp.waiter(approval_id)
            if not rt.journal.state(sid).approvals[approval_id].pending:  # decided meanwhile
                rt.mcp.answered(approval_id)
        await waiter
    rt.mcp.used_answers.add(approval_id)
    decided = rt.journal.state(sid).approvals[approval_id]
    if decided.decision == "approved":
        content = None if url is not None else dict(decided.decided_args or {})
        return types.ElicitResult(action="accept", content=content)
    return types.ElicitResult(action="decline" if decided.decision == "denied" else "cancel")


__all__ = ["Answers", "ElicitHost", "answer_of", "ask_person"]
