"""The step machine's decisions: what a running session does next. Pure.

`next_action` reads the folded state (and the time, for the wall budget) and
names one action; `agentctl.runtime.steps.StepMachine` performs it. Every
decision is made here, from the log's fold, so a fresh session, a resumed one
and one recovered after `kill -9` take the same path (docs/design.md §4).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from agentctl.protocol import BudgetExceeded
from agentctl.providers import Message, ToolCall
from agentctl.state import CallPhase, SessionState, ToolCallState, Turn


@dataclass(frozen=True)
class Action:
    # model | list_mcp | over_budget | propose | start | resume_call | refuse | checkpoint
    # | complete | wait
    kind: str
    call: ToolCallState | None = None
    exceeded: BudgetExceeded | None = None  # over_budget: which limit


def next_action(state: SessionState, now: datetime) -> Action:
    """The one thing a running session does next (`now` for its wall-time budget). Pure."""
    if state.awaiting_model:
        return _model_turn(state, now)
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
    return _model_turn(state, now)


def _model_turn(state: SessionState, now: datetime) -> Action:
    """The model's turn: unless a budget is spent, or the MCP tools are not listed yet."""
    exceeded = budget_exceeded(state, now)
    if exceeded is not None:
        return Action("over_budget", exceeded=exceeded)
    if state.mcp_unlisted:  # the session's first step: its MCP servers' tools, recorded
        return Action("list_mcp")
    return Action("model")


def to_messages(
    state: SessionState, cache: dict[int, tuple[int, list[Message]]] | None = None
) -> list[Message]:
    """The transcript as provider messages. The transcript only grows between two
    compactions, so with a cache (keyed by the state object, and valid while no
    compaction happened) each turn is converted once, not once per step."""
    generation = len(state.compactions)
    held = cache.get(id(state)) if cache is not None else None
    known = held[1] if held is not None and held[0] == generation else []
    if len(known) > len(state.transcript):
        known = []
    known = known + [as_message(turn) for turn in state.transcript[len(known) :]]
    if cache is not None:
        cache[id(state)] = (generation, known)
    return known


def as_message(turn: Turn) -> Message:
    return Message(
        role=turn.role,  # type: ignore[arg-type]
        content=turn.content,
        tool_calls=tuple(ToolCall(id=i, name=n, arguments=a) for i, n, a in turn.tool_calls),
        tool_call_id=turn.tool_call_id,
        name=turn.name,
    )


def budget_exceeded(state: SessionState, now: datetime) -> BudgetExceeded | None:
    b = state.budget
    steps, tokens, cost = spent(state)  # its own and its ended children's (docs/subagents.md)
    if b.get("max_steps") is not None and steps >= b["max_steps"]:
        return BudgetExceeded(limit="steps", value=steps)
    if b.get("max_tokens") is not None and tokens >= b["max_tokens"]:
        return BudgetExceeded(limit="tokens", value=tokens)
    if b.get("max_cost_usd") is not None and cost >= b["max_cost_usd"]:
        return BudgetExceeded(limit="cost_usd", value=round(cost, 6))
    if b.get("max_wall_s") is not None:
        wall = state.running_s
        if state.running_since is not None:
            wall += (now - state.running_since).total_seconds()
        if wall >= b["max_wall_s"]:
            return BudgetExceeded(limit="wall_s", value=round(wall, 3))
    return None


def spent(state: SessionState) -> tuple[int, int, float]:
    """Steps, tokens and cost the budget counts: the session's own and its children's."""
    steps = state.steps + state.delegation.steps
    tokens = state.input_tokens + state.output_tokens
    tokens += state.delegation.input_tokens + state.delegation.output_tokens
    return steps, tokens, state.cost_usd + state.delegation.cost_usd


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


def enabled_tools(state: SessionState) -> list[str]:
    """The tools the session may call: its built-in ones and its MCP servers' listed ones."""
    names = list(state.created.get("tools", []))
    for listed in state.mcp_listed.values():
        names.extend(tool["name"] for tool in listed.get("tools", []))
    return names


__all__ = [
    "Action",
    "as_message",
    "budget_exceeded",
    "enabled_tools",
    "next_action",
    "repeated_calls",
    "spent",
    "to_messages",
]
