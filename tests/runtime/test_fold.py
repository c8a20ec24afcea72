"""The fold is pure: a prefix then the rest equals everything, however the events are batched."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentctl.protocol import Budget, Decide, ResumeSession
from agentctl.state import SessionState, apply_event, fold_events
from store import InMemoryEventStore, StoredEvent

from .harness import Counter, call, create, final, registry, settle, start_runtime, write_recording


def _log() -> list[StoredEvent]:
    """A realistic log: bad calls, approvals (approved, denied, edited), a budget pause, a resume."""

    async def scenario(tmp: Path) -> list[StoredEvent]:
        counter = Counter()
        rec = write_recording(
            tmp / "r.jsonl",
            [
                call("count", "{broken", "bad"),
                call("count", {"n": 1}, "a"),
                call("count", {"n": 2}, "b"),
                call("count", {"n": 3}, "c"),
                {
                    "text": "two at once",
                    "tool_calls": [
                        {"id": "d", "name": "count", "args": {"n": 4}},
                        {"id": "e", "name": "count", "args": {"n": 5}},
                    ],
                },
                final("finished"),
            ],
        )
        store = InMemoryEventStore()
        rt = await start_runtime(store, registry(counter.tool()))
        sid = await rt.create_session(create("t", rec, policy="strict", budget=Budget(max_steps=4)))
        decisions = iter(
            [
                Decide(decision="approve", approver="a"),
                Decide(decision="deny", approver="b", reason="no"),
                Decide(decision="approve", approver="c", args={"n": 30}),
                Decide(decision="approve", approver="d"),
                Decide(decision="approve", approver="e"),
            ]
        )
        while True:
            status = await settle(rt, sid)
            if status.value == "waiting":
                [approval] = rt.approvals(sid)
                await rt.decide(approval.id, next(decisions))
            elif status.value == "paused":
                await rt.resume(sid, ResumeSession(budget=Budget(max_steps=10)))
            else:
                break
        await rt.stop()
        return store.read_stream(sid)

    import os
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:  # built at import: keep it off the real home
        previous = os.environ.get("AGENTCTL_HOME")
        os.environ["AGENTCTL_HOME"] = tmp
        try:
            return asyncio.run(scenario(Path(tmp)))
        finally:
            if previous is None:
                del os.environ["AGENTCTL_HOME"]
            else:
                os.environ["AGENTCTL_HOME"] = previous


LOG = _log()


def test_the_log_covers_every_kind_of_event() -> None:
    kinds = {e.type for e in LOG}
    assert {
        "approval.requested",
        "approval.decided",
        "budget.exceeded",
        "tool.finished",
        "model.responded",
    } <= kinds
    assert LOG[-1].type == "session.status" and LOG[-1].data["status"] == "completed"


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=len(LOG)))
def test_prefix_then_rest_equals_everything(cut: int) -> None:
    whole = fold_events(LOG)
    prefix = fold_events(LOG[:cut])
    assert fold_events(LOG[cut:], prefix) == whole
    assert prefix == fold_events(LOG[:cut])  # folding onto a state never changes it


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=len(LOG)), max_size=12))
def test_batching_does_not_matter(cuts: list[int]) -> None:
    bounds = sorted({0, len(LOG), *cuts})
    state = SessionState()
    for lo, hi in itertools.pairwise(bounds):
        state = fold_events(LOG[lo:hi], state)
    one_by_one = SessionState()
    for event in LOG:
        apply_event(one_by_one, event)
    assert state == one_by_one == fold_events(LOG)


def test_a_gap_is_refused() -> None:
    with pytest.raises(ValueError, match="does not follow"):
        fold_events([LOG[0], LOG[2]])


def test_the_fold_explains_the_session() -> None:
    state = fold_events(LOG)
    assert state.steps == 6
    decisions = [(a.decision, a.approver) for a in state.approvals.values()]
    assert decisions == [
        ("approved", "a"),
        ("denied", "b"),
        ("approved", "c"),
        ("approved", "d"),
        ("approved", "e"),
    ]
    tool_results = [t.content for t in state.transcript if t.role == "tool"]
    assert tool_results[0].startswith("error: arguments of count are not valid JSON")
    assert "denied by b: no" in tool_results[2]
