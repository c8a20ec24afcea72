"""The cut of a compaction and the fold after it (agentctl.runtime.context, agentctl.state).

A cut never falls between a tool call and its results; the fold after
`context.compacted` keeps the system prompt and the task, puts the summary
after them and keeps the turns from `kept_from_seq` on; folding in pieces
equals folding at once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from agentctl.protocol import (
    SUMMARY_HEADER,
    ContextCompacted,
    ContextPolicy,
    EventData,
    ModelResponded,
    SandboxConfig,
    SessionCreated,
    SessionStatus,
    SessionStatusChanged,
    ToolCallData,
    ToolFinished,
    UsageData,
    UserMessage,
    event_data,
)
from agentctl.runtime.context import estimate, groups_of, plan_cut, tokens_of
from agentctl.state import Turn, fold_events
from store import StoredEvent

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def stored(items: list[EventData]) -> list[StoredEvent]:
    return [
        StoredEvent(
            stream="s",
            seq=i,
            offset=i,
            ts=T0 + timedelta(seconds=i),
            type=item.TYPE,
            data=event_data(item),
        )
        for i, item in enumerate(items, start=1)
    ]


def created(window: int = 1000) -> SessionCreated:
    return SessionCreated(
        task="the task",
        model="m",
        system="the system",
        tools=["shell"],
        policy={},
        sandbox=SandboxConfig(image=None),
        context=ContextPolicy(window=window),
        version="0",
    )


def step(n: int, calls: int, output: str) -> list[EventData]:
    """A response with `calls` tool calls, and their results."""
    items: list[EventData] = [
        ModelResponded(
            text=f"step {n}",
            tool_calls=[
                ToolCallData(id=f"c{n}_{i}", name="shell", args={"i": i}) for i in range(calls)
            ],
            usage=UsageData(input_tokens=0, output_tokens=0, reported=False),
        )
    ]
    items += [ToolFinished(call_id=f"c{n}_{i}", exit_code=0, output=output) for i in range(calls)]
    return items


def log(sizes: list[tuple[int, int]]) -> list[EventData]:
    items: list[EventData] = [created(), SessionStatusChanged(status=SessionStatus.RUNNING)]
    for n, (calls, chars) in enumerate(sizes):
        items += step(n, calls, "x" * chars)
    return items


@pytest.mark.parametrize("window", [64, 100, 200, 400, 800, 1600, 3200])
@pytest.mark.parametrize("keep", [0.05, 0.3, 0.9])
def test_a_cut_never_parts_a_tool_call_from_its_results(window: int, keep: float) -> None:
    # Steps of one to four calls, results of many sizes: the budget falls everywhere.
    sizes = [(1 + n % 4, 37 * (n % 7) + 10) for n in range(12)]
    state = fold_events(stored(log(sizes)))
    cut = plan_cut(state.transcript, ContextPolicy(window=window, keep=keep))
    if cut is None:  # all of it fits in the share kept verbatim: nothing to summarise
        assert tokens_of(state.transcript[2:]) <= keep * window
        return
    assert cut.kept[0].role == "assistant"  # the kept part starts a group, never mid-results
    called = {i for t in cut.kept for i, _, _ in t.tool_calls}
    answered = {t.tool_call_id for t in cut.kept if t.role == "tool"}
    assert called == answered  # every kept call has its results, every kept result its call
    replaced_called = {i for t in cut.replaced for i, _, _ in t.tool_calls}
    replaced_answered = {t.tool_call_id for t in cut.replaced if t.role == "tool"}
    assert replaced_called == replaced_answered
    assert [t.role for t in cut.pinned] == ["system", "user"]
    assert cut.pinned + cut.replaced + cut.kept == state.transcript


def test_the_newest_group_is_kept_whole_even_when_it_alone_passes_the_share() -> None:
    state = fold_events(stored(log([(1, 50), (3, 5000)])))
    cut = plan_cut(state.transcript, ContextPolicy(window=1000, keep=0.1))
    assert cut is not None
    assert [t.role for t in cut.kept] == ["assistant", "tool", "tool", "tool"]
    assert tokens_of(cut.kept) > 0.1 * 1000


def test_nothing_to_cut_is_no_cut() -> None:
    state = fold_events(stored(log([(2, 5000)])))
    assert plan_cut(state.transcript, ContextPolicy(window=100)) is None


def test_groups_attach_results_to_their_call() -> None:
    turns = [
        Turn("user", "u", seq=3),
        Turn("assistant", "a", tool_calls=(("c", "shell", {}),), seq=4),
        Turn("tool", "r", tool_call_id="c", seq=5),
        Turn("assistant", "b", seq=6),
    ]
    assert [[t.seq for t in g] for g in groups_of(turns)] == [[3], [4, 5], [6]]


def compacted(state_transcript: list[Turn], kept_from: int, summary: str) -> ContextCompacted:
    return ContextCompacted(
        summary=summary,
        replaced_from_seq=3,
        replaced_to_seq=kept_from - 1,
        turns_replaced=0,
        kept_from_seq=kept_from,
        tokens_before=900,
        tokens_after=120,
        window=1000,
        model="m",
        usage=UsageData(input_tokens=50, output_tokens=7),
        cost_usd=0.01,
    )


def test_the_fold_after_a_compaction_is_system_task_summary_and_the_kept_turns() -> None:
    items = log([(1, 100), (2, 100), (1, 100)])
    whole = fold_events(stored(items))
    kept_from = next(t.seq for t in whole.transcript if t.content == "step 2")
    items.append(compacted(whole.transcript, kept_from, "what happened"))
    items.append(UserMessage(text="more"))
    events = stored(items)
    state = fold_events(events)
    roles: list[Any] = [(t.role, t.content) for t in state.transcript[:3]]
    assert roles == [
        ("system", "the system"),
        ("user", "the task"),
        ("user", f"{SUMMARY_HEADER}\nwhat happened"),
    ]
    assert state.transcript[3].content == "step 2"
    assert state.transcript[-1].content == "more"
    assert state.input_tokens == 50 and state.output_tokens == 7 and state.cost_usd == 0.01
    assert state.compactions == [3]
    # the size is known from the compaction on: its estimate plus what came after
    assert estimate(state, []) == 120 + tokens_of(state.transcript[-1:])
    # folding in pieces equals folding at once
    for cut in range(1, len(events)):
        pieces = fold_events(events[cut:], fold_events(events[:cut]))
        assert pieces.transcript == state.transcript
    # a second compaction replaces the first summary too
    second = kept_from + 3
    events2 = stored([*items, compacted(state.transcript, second, "all of it")])
    again = fold_events(events2)
    assert [t.summary for t in again.transcript].count(True) == 1
    assert again.transcript[2].content.endswith("all of it")
    assert all(t.seq >= second for t in again.transcript[3:])


def test_a_compaction_renders_its_sizes_and_its_summary_as_plain_text() -> None:
    from rich.console import Console

    from agentctl.protocol import Envelope
    from agentctl.render import render_event

    data = event_data(compacted([], 9, "[bold]not markup[/bold]"))
    envelope = Envelope(
        session="s", seq=10, offset=10, ts=T0, type=ContextCompacted.TYPE, data=data
    )
    console = Console(record=True, width=200, color_system=None)
    console.print(render_event(envelope))
    text = console.export_text()
    assert "context compacted" in text and "~900 -> ~120 tokens of 1000" in text
    assert "[bold]not markup[/bold]" in text


@pytest.mark.parametrize(
    ("line", "problem"),
    [("context_window = 10", "context_window"), ("compact_at = 1.5", "compact_at")],
)
def test_a_profile_with_a_bad_context_setting_is_refused_by_name(
    tmp_path: Path, line: str, problem: str
) -> None:
    from agentctl.errors import UsageError
    from agentctl.profiles import load_profile

    path = tmp_path / "bad.toml"
    path.write_text(line + "\n")
    with pytest.raises(UsageError, match=problem):
        load_profile(path)


def test_an_endpoint_with_a_bad_context_window_is_refused(tmp_path: Path) -> None:
    from agentctl.config import load_config
    from agentctl.errors import AgentctlError

    path = tmp_path / "config.toml"
    path.write_text('[providers.local]\nbase_url = "http://127.0.0.1:1/v1"\ncontext_window = 0\n')
    with pytest.raises(AgentctlError, match="context_window"):
        load_config(path)


def test_the_trace_counts_the_summary_call_as_model_time() -> None:
    from agentctl.observe.trace import build_trace

    items: list[EventData] = [created(), SessionStatusChanged(status=SessionStatus.RUNNING)]
    items.append(compacted([], 2, "the summary"))
    trace = build_trace("s", stored(items))
    assert trace.seconds["model"] == 1.0  # running at 2 s, compacted at 3 s
