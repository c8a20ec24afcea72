"""Keeping a session's conversation inside its model's context window (docs/context.md). Pure.

Before each model call the step machine estimates the request's size
(`estimate`): the tokens the server counted for the last response (its
usage: the request's input and the reply's output) plus about a token per
`CHARS_PER_TOKEN` characters of what came after; before any usage is known,
the characters of the whole request (turns and tool schemas) over
`CHARS_PER_TOKEN`. When that passes `compact_at` of the window, `plan_cut`
picks the older turns a summary replaces — whole groups only, so a tool call
and its results are never split — and `summary_request` is what the model is
asked to summarise them from.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass

from agentctl.protocol import SUMMARY_HEADER, ContextPolicy
from agentctl.providers import Message, ToolSpec
from agentctl.state import SessionState, Turn

CHARS_PER_TOKEN = 4  # the estimate before a server has counted: ~4 characters a token
TURN_OVERHEAD = 4  # tokens a chat template adds around each message
SUMMARY_INPUT = 0.5  # the share of the window the summary request's conversation may take
TURN_FLOOR = 200  # characters of each turn the summary request keeps, at least

SUMMARY_PROMPT = (
    "You compress the conversation of an agent so that it can go on within its context "
    "window. Summarise the conversation below: the task and how far it got, what was done "
    "(commands, files, results), what was learnt, and what remains to be done. Be brief and "
    "factual, and write only the summary."
)


def turn_tokens(turn: Turn) -> int:
    chars = len(turn.content) + sum(
        len(name) + len(args if isinstance(args, str) else json.dumps(args))
        for _, name, args in turn.tool_calls
    )
    return math.ceil(chars / CHARS_PER_TOKEN) + TURN_OVERHEAD


def tokens_of(turns: Sequence[Turn]) -> int:
    return sum(turn_tokens(turn) for turn in turns)


def tools_tokens(tools: Sequence[ToolSpec]) -> int:
    chars = sum(len(t.name) + len(t.description) + len(json.dumps(t.parameters)) for t in tools)
    return math.ceil(chars / CHARS_PER_TOKEN)


def estimate(state: SessionState, tools: Sequence[ToolSpec]) -> int:
    """The next request's size in tokens: counted by the server up to the last response
    (or estimated at the last compaction), estimated for what came after."""
    transcript = state.transcript
    if 0 < state.context_turns <= len(transcript):
        return state.context_tokens + tokens_of(transcript[state.context_turns :])
    return tokens_of(transcript) + tools_tokens(tools)


def over_threshold(state: SessionState, tokens: int) -> bool:
    policy = policy_of(state)
    return policy.window is not None and tokens > policy.compact_at * policy.window


def policy_of(state: SessionState) -> ContextPolicy:
    return ContextPolicy.model_validate(state.created.get("context") or {})


@dataclass(frozen=True)
class Cut:
    pinned: list[Turn]  # the session's own turns (system prompt, task): never replaced
    replaced: list[Turn]  # what the summary replaces (an earlier summary among them)
    kept: list[Turn]  # the newest turns, kept verbatim

    @property
    def kept_from_seq(self) -> int:
        return self.kept[0].seq

    @property
    def replaced_seqs(self) -> tuple[int, int]:
        seqs = [t.seq for t in self.replaced if not t.summary]
        return min(seqs), max(seqs)


def groups_of(turns: Sequence[Turn]) -> list[list[Turn]]:
    """The turns in the units a cut may fall between: an assistant turn with the tool
    results that answer it is one unit; every other turn is one of its own."""
    groups: list[list[Turn]] = []
    for turn in turns:
        if turn.role == "tool" and groups and groups[-1][0].role == "assistant":
            groups[-1].append(turn)
        else:
            groups.append([turn])
    return groups


def plan_cut(transcript: Sequence[Turn], policy: ContextPolicy) -> Cut | None:
    """Which turns to summarise: all but the newest groups that fit in `keep` of the
    window (at least the newest group). None when nothing but a summary would go."""
    assert policy.window is not None
    if not transcript:
        return None
    first = transcript[0].seq
    pinned = [t for t in transcript if t.seq == first and not t.summary]
    groups = groups_of([t for t in transcript if not (t.seq == first and not t.summary)])
    budget = policy.keep * policy.window
    kept: list[list[Turn]] = []
    size = 0
    for group in reversed(groups):
        tokens = tokens_of(group)
        if kept and size + tokens > budget:
            break
        kept.insert(0, group)
        size += tokens
    replaced = [t for group in groups[: len(groups) - len(kept)] for t in group]
    if not any(not t.summary for t in replaced):
        return None
    return Cut(pinned=pinned, replaced=replaced, kept=[t for group in kept for t in group])


def _render(turn: Turn, cap: int) -> str:
    text = turn.content
    if len(text) > cap:
        text = f"{text[:cap]} [... {len(text) - cap} characters left out]"
    if turn.summary:
        return f"EARLIER SUMMARY:\n{text.removeprefix(SUMMARY_HEADER).strip()}"
    if turn.role == "tool":
        return f"TOOL RESULT ({turn.name or 'tool'}):\n{text}"
    calls = "".join(
        f"\n[calls {name} {args if isinstance(args, str) else json.dumps(args)}]"[: cap // 2]
        for _, name, args in turn.tool_calls
    )
    return f"{turn.role.upper()}:\n{text}{calls}"


def summary_request(cut: Cut, policy: ContextPolicy) -> list[Message]:
    """What the model is asked: the summary prompt, and the replaced turns as text, each
    shortened so that the whole fits in `SUMMARY_INPUT` of the window (the newest kept)."""
    assert policy.window is not None
    budget = int(policy.window * SUMMARY_INPUT * CHARS_PER_TOKEN)
    cap = max(TURN_FLOOR, budget // max(1, len(cut.replaced)))
    text = "\n\n".join(_render(turn, cap) for turn in cut.replaced)
    if len(text) > budget:
        text = "[... the start is left out]\n" + text[-budget:]
    return [Message("system", SUMMARY_PROMPT), Message("user", text)]


def tokens_after(cut: Cut, summary: str, tools: Sequence[ToolSpec]) -> int:
    """The estimated size of the request built from the compaction."""
    turn = Turn("user", f"{SUMMARY_HEADER}\n{summary}", summary=True)
    return tokens_of(cut.pinned) + turn_tokens(turn) + tokens_of(cut.kept) + tools_tokens(tools)


def compaction_index(state: SessionState) -> int:
    """How many compactions the session's model has made (a recording answers by it);
    a fork onto a new model counts from its first step, as its responses do."""
    since = int(state.created.get("model_since_step") or 0)
    return sum(1 for steps in state.compactions if steps >= since)


__all__ = [
    "CHARS_PER_TOKEN",
    "SUMMARY_PROMPT",
    "Cut",
    "compaction_index",
    "estimate",
    "groups_of",
    "over_threshold",
    "plan_cut",
    "policy_of",
    "summary_request",
    "tokens_after",
    "tokens_of",
]
