"""The step machine's decisions (agentctl.runtime.decide): pure, from the fold and the time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from agentctl.runtime.decide import next_action
from agentctl.state import SessionState

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def running(budget: dict[str, object], **created: object) -> SessionState:
    state = SessionState()
    state.created = dict(created)
    state.budget = dict(budget)
    state.running_since = T0
    return state


def test_the_wall_time_budget_is_decided_by_the_time_given() -> None:
    state = running({"max_wall_s": 5})
    assert next_action(state, T0 + timedelta(seconds=4.9)).kind == "model"
    action = next_action(state, T0 + timedelta(seconds=5))
    assert action.kind == "over_budget"
    assert action.exceeded is not None and action.exceeded.limit == "wall_s"
    assert action.exceeded.value == 5.0


def test_a_spent_budget_comes_before_listing_mcp_tools_and_listing_before_the_model() -> None:
    state = running({"max_steps": 1}, mcp=["files"])
    assert next_action(state, T0).kind == "list_mcp"
    state.steps = 1
    spent = next_action(state, T0)
    assert spent.kind == "over_budget" and spent.exceeded is not None
    assert (spent.exceeded.limit, spent.exceeded.value) == ("steps", 1)
    state.steps = 0
    state.mcp_listed["files"] = {"tools": []}
    assert next_action(state, T0).kind == "model"
