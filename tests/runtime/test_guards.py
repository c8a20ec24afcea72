"""Guards from config.toml: default budgets, the loop guard, and cost budgets that can be kept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agentctl.errors import UsageError
from agentctl.paths import get_paths
from agentctl.protocol import Budget, CreateSession, ResumeSession, SessionStatus
from agentctl.runtime import Runtime
from agentctl.runtime.decide import repeated_calls
from store import InMemoryEventStore

from .harness import Counter, call, create, final, registry, settle, start_runtime, write_recording


def config(text: str) -> None:
    get_paths().ensure().config_file.write_text(text)


def finished(rt: Runtime, sid: str) -> list[dict[str, Any]]:
    return [e.data for e in rt.store.read_stream(sid) if e.type == "tool.finished"]


async def test_the_same_call_n_times_in_a_row_is_refused_then_the_session_pauses(
    tmp_path: Path,
) -> None:
    config("[guards]\nrepeat_limit = 3\n")
    counter = Counter()
    same = [call("count", {"n": 7}, f"c{i}") for i in range(5)]
    rec = write_recording(tmp_path / "r.jsonl", [*same, final()])
    rt = await start_runtime(InMemoryEventStore(), registry(counter.tool()))
    sid = await rt.create_session(create("t", rec))

    assert await settle(rt, sid) is SessionStatus.PAUSED
    state = rt.journal.state(sid)
    assert state.reason == "loop guard: count called 3 times in a row with the same arguments"
    assert counter.runs == [7, 7]  # the third was not run
    refused = finished(rt, sid)[-1]
    assert refused["exit_code"] is None and "loop guard" in refused["error"]
    assert "not run again" in refused["error"]  # what the model is told

    # Resumed, the model repeats itself once more: refused again, paused again.
    await rt.resume(sid, ResumeSession())
    assert await settle(rt, sid) is SessionStatus.PAUSED
    assert counter.runs == [7, 7]
    await rt.stop()


async def test_a_different_call_in_between_resets_the_count(tmp_path: Path) -> None:
    config("[guards]\nrepeat_limit = 2\n")
    counter = Counter()
    responses = [call("count", {"n": n}, f"c{i}") for i, n in enumerate([1, 2, 1, 2, 1])]
    rec = write_recording(tmp_path / "r.jsonl", [*responses, final()])
    rt = await start_runtime(InMemoryEventStore(), registry(counter.tool()))
    sid = await rt.create_session(create("t", rec))
    assert await settle(rt, sid) is SessionStatus.COMPLETED
    assert counter.runs == [1, 2, 1, 2, 1]
    state = rt.journal.state(sid)
    assert all(repeated_calls(state, c) == 1 for c in state.calls.values())
    await rt.stop()


async def test_the_loop_guard_is_on_by_default_and_off_with_zero(tmp_path: Path) -> None:
    same = [call("count", {"n": 0}, f"c{i}") for i in range(6)]
    rec = write_recording(tmp_path / "r.jsonl", [*same, final()])
    counter = Counter()
    rt = await start_runtime(InMemoryEventStore(), registry(counter.tool()))
    sid = await rt.create_session(create("t", rec))
    assert await settle(rt, sid) is SessionStatus.PAUSED
    assert len(counter.runs) == 4  # the default limit is 5
    config("[guards]\nrepeat_limit = 0\n")
    sid = await rt.create_session(create("t", rec))
    assert await settle(rt, sid) is SessionStatus.COMPLETED
    assert len(counter.runs) == 4 + 6
    await rt.stop()


async def test_default_budget_comes_from_config_and_an_explicit_one_wins(tmp_path: Path) -> None:
    config("[budget]\nmax_steps = 2\nmax_wall_s = 600\n")
    rec = write_recording(
        tmp_path / "r.jsonl", [call("count", {"n": i}, f"c{i}") for i in range(4)] + [final()]
    )
    rt = await start_runtime(InMemoryEventStore(), registry(Counter().tool()))
    sid = await rt.create_session(create("t", rec))
    assert await settle(rt, sid) is SessionStatus.PAUSED
    assert rt.journal.state(sid).budget == {
        "max_steps": 2,
        "max_tokens": None,
        "max_cost_usd": None,
        "max_wall_s": 600.0,
    }
    assert rt.journal.state(sid).reason == "budget: steps reached (2)"
    explicit = await rt.create_session(create("t", rec, budget=Budget(max_steps=10)))
    assert await settle(rt, explicit) is SessionStatus.COMPLETED
    await rt.stop()


async def test_a_bad_config_is_refused_with_the_key_that_is_wrong(tmp_path: Path) -> None:
    config("[budget]\nmax_stepz = 2\n")
    rec = write_recording(tmp_path / "r.jsonl", [final()])
    rt = await start_runtime(InMemoryEventStore(), registry())
    with pytest.raises(UsageError, match=r"budget\.max_stepz"):
        await rt.create_session(create("t", rec))
    await rt.stop()


async def test_max_cost_on_a_model_without_a_price_is_refused(tmp_path: Path) -> None:
    rt = await start_runtime(InMemoryEventStore(), registry())
    unpriced = CreateSession(
        task="t",
        model="openai:my-finetune",
        base_url="http://127.0.0.1:9/v1",
        image="none",
        budget=Budget(max_cost_usd=1.0),
    )
    with pytest.raises(UsageError, match="no price is known for openai:my-finetune"):
        await rt.create_session(unpriced)
    assert rt.sessions() == []  # nothing was started

    # With a price in config it is accepted.
    config('[prices]\n"openai:my-finetune" = [1.0, 2.0]\n')
    sid = await rt.create_session(unpriced)
    assert rt.journal.state(sid).budget["max_cost_usd"] == 1.0
    await rt.cancel(sid)
    await rt.stop()


async def test_a_default_cost_budget_is_dropped_for_an_unpriced_model(tmp_path: Path) -> None:
    config("[budget]\nmax_cost_usd = 5.0\n")
    rt = await start_runtime(InMemoryEventStore(), registry())
    sid = await rt.create_session(
        CreateSession(task="t", model="openai:m", base_url="http://127.0.0.1:9/v1", image="none")
    )
    assert rt.journal.state(sid).budget["max_cost_usd"] is None
    await rt.cancel(sid)
    await rt.stop()


async def test_alike_calls_in_one_reply_are_one_step_not_a_loop(tmp_path: Path) -> None:
    config("[guards]\nrepeat_limit = 2\n")
    counter = Counter()
    batch = {
        "text": "",
        "tool_calls": [{"id": f"b{i}", "name": "count", "args": {"n": 3}} for i in range(4)],
    }
    rec = write_recording(tmp_path / "r.jsonl", [batch, final()])
    rt = await start_runtime(InMemoryEventStore(), registry(counter.tool()))
    sid = await rt.create_session(create("t", rec))
    assert await settle(rt, sid) is SessionStatus.COMPLETED
    assert counter.runs == [3, 3, 3, 3]
    await rt.stop()
