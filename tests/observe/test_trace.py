"""`agentctl trace`: the waterfall adds up to the wall time, and says where the time went."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from agentctl.client import Client
from agentctl.observe.trace import build_trace, session_segment
from agentctl.protocol import CreateSession, Decide, SessionTrace
from tests.support.daemon import wait_status
from tests.support.observe import DEMO, DEMO_WORKSPACE, Cli, call, final

T0 = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Ev:
    seq: int
    ts: datetime
    type: str
    data: dict[str, Any]


def log(*items: tuple[float, str, dict[str, Any]]) -> list[Ev]:
    return [
        Ev(i + 1, T0 + timedelta(seconds=t), type_, data)
        for i, (t, type_, data) in enumerate(items)
    ]


def status(s: str) -> dict[str, Any]:
    return {"status": s, "reason": ""}


def responded(cost: float = 0.01, calls: int = 1) -> dict[str, Any]:
    return {
        "text": "",
        "tool_calls": [{"id": f"c{i}", "name": "shell", "args": {}} for i in range(calls)],
        "usage": {"input_tokens": 10, "output_tokens": 2},
        "cost_usd": cost,
        "latency_ms": 900.0,
    }


SCRIPTED = log(
    (0.0, "session.created", {"model": "openai:gpt-x", "parent": None}),
    (0.0, "session.status", status("running")),
    (0.5, "model.requested", {"attempt": 1}),
    (1.5, "model.failed", {"error": "429", "retryable": True, "attempt": 1, "retry_in_ms": 2000}),
    (3.5, "model.requested", {"attempt": 2}),
    (4.5, "model.responded", responded()),
    (4.6, "tool.proposed", {"call_id": "c0", "name": "shell", "tier": "ask"}),
    (4.6, "approval.requested", {"approval_id": "apr_1", "call_id": "c0", "name": "shell"}),
    (4.6, "session.status", status("waiting")),
    (14.6, "approval.decided", {"approval_id": "apr_1", "decision": "approved", "approver": "ann"}),
    (14.6, "session.status", status("running")),
    (15.0, "sandbox.created", {"container": "x", "image": "img"}),
    (15.0, "tool.started", {"call_id": "c0", "name": "shell"}),
    (18.0, "tool.finished", {"call_id": "c0", "exit_code": 1, "duration_ms": 2990.0}),
    (19.0, "checkpoint.created", {"image": "cp:1"}),
    (19.2, "model.requested", {"attempt": 1}),
    (20.2, "model.responded", responded(cost=0.02, calls=0)),
    (20.2, "session.status", status("paused")),
    (80.2, "message.user", {"text": "more"}),
    (80.2, "session.status", status("running")),
    (80.5, "model.requested", {"attempt": 1}),
    (81.0, "model.responded", responded(cost=0.0, calls=0)),
    (81.0, "session.status", status("completed")),
)


def test_every_interval_is_in_one_category() -> None:
    trace = build_trace("ses_x", SCRIPTED)
    assert trace.wall_s == 81.0
    assert sum(trace.seconds.values()) == pytest.approx(trace.wall_s, abs=1e-6)
    assert trace.seconds == pytest.approx(
        {
            "model": 1.0
            + 2.0
            + 1.0
            + 1.0
            + 0.5,  # two attempts, the backoff between, two more calls
            "tool": 3.0,
            "approval": 10.0,
            "sandbox": 0.4 + 1.0,  # starting the container, the checkpoint
            "overhead": 0.5 + 0.1 + 0.2 + 0.3,
            "idle": 60.0,  # paused until the next message
        }
    )
    assert (trace.retries, trace.input_tokens, trace.cost_usd) == (1, 30, 0.03)
    assert trace.model_latency_ms == 2700.0
    assert trace.model == "openai:gpt-x"
    assert [s.step for s in trace.steps] == [0, 1, 2, 3]
    for step in trace.steps:
        assert sum(step.seconds.values()) == pytest.approx(step.duration_s, abs=1e-6)


def test_spans_are_measured_between_their_events() -> None:
    trace = build_trace("ses_x", SCRIPTED)
    spans = [(s.kind, s.name, s.step, s.start_s, s.duration_s) for s in trace.spans]
    assert spans == [
        ("model", "openai:gpt-x", 1, 0.5, 1.0),
        ("backoff", "backoff", 1, 1.5, 2.0),
        ("model", "openai:gpt-x", 1, 3.5, 1.0),
        ("approval", "shell", 1, 4.6, 10.0),
        ("sandbox", "img", 1, 14.6, 0.4),
        ("tool", "shell", 1, 15.0, 3.0),
        ("checkpoint", "cp:1", 1, 18.0, 1.0),
        ("model", "openai:gpt-x", 2, 19.2, 1.0),
        ("model", "openai:gpt-x", 3, 80.5, 0.5),
    ]
    failed, retried = trace.spans[0], trace.spans[2]
    assert failed.attrs["outcome"] == "failed" and failed.attrs["attempt"] == 1
    assert retried.attrs["attempt"] == 2 and retried.attrs["cost_usd"] == 0.01
    tool = trace.spans[5]
    assert tool.attrs == {
        "call_id": "c0",
        "outcome": "failed",
        "exit_code": 1,
        "duration_ms": 2990.0,
        "error": None,
    }
    assert trace.spans[3].attrs["decision"] == "approved"


def test_a_fork_counts_the_gap_after_its_copied_prefix_as_idle() -> None:
    events = log(
        (0.0, "session.created", {"model": "m", "parent": {"session": "ses_p", "seq": 3}}),
        (0.0, "session.status", status("running")),
        (1.0, "checkpoint.created", {"image": "cp"}),
        (500.0, "session.status", status("running")),
        (501.0, "model.requested", {"attempt": 1}),
        (502.0, "model.responded", responded(calls=0)),
    )
    trace = build_trace("ses_f", events)
    assert trace.inherited_until_seq == 3
    assert trace.seconds["idle"] == 499.0
    assert sum(trace.seconds.values()) == pytest.approx(trace.wall_s)
    assert [e.seq for e in session_segment(events)] == [4, 5, 6]


def test_the_segment_of_a_resumed_session_is_its_latest_run() -> None:
    ended_at = next(e.seq for e in SCRIPTED if e.data.get("status") == "paused")
    assert [e.seq for e in session_segment(SCRIPTED)] == list(range(1, len(SCRIPTED) + 1))
    ended = [
        *SCRIPTED[: ended_at - 1],
        Ev(ended_at, SCRIPTED[ended_at - 1].ts, "session.status", status("completed")),
        *SCRIPTED[ended_at:],
    ]
    assert session_segment(ended)[0].type == "message.user"


def test_an_unfinished_call_is_drawn_up_to_the_last_event() -> None:
    events = log(
        (0.0, "session.created", {"model": "m"}),
        (0.0, "session.status", status("running")),
        (1.0, "model.requested", {"attempt": 1}),
        (2.0, "model.responded", responded()),
        (3.0, "tool.started", {"call_id": "c0", "name": "shell"}),
        (7.0, "session.status", status("paused")),
    )
    trace = build_trace("ses_x", events)
    assert trace.seconds["tool"] == 4.0
    assert trace.spans[-1].attrs["outcome"] == "open"


# --- against a real daemon ---------------------------------------------------------------


def test_trace_of_a_replayed_session(daemon: Client, cli: Cli, recording: Any) -> None:
    model = recording(
        "three",
        [
            call("read_file", {"path": "a.txt"}, "c1", cost=0.01),
            call("list_files", {"path": "."}, "c2", cost=0.02),
            final(cost=0.005),
        ],
    )
    sid = daemon.create_session(CreateSession(task="t", model=model, image="none")).id
    assert wait_status(daemon, sid, "completed", "failed", "paused") == "completed"

    result = cli("trace", sid, "--json")
    assert result.returncode == 0, result.stderr
    trace = SessionTrace.model_validate_json(result.stdout)
    events = list(daemon.events(sid))
    assert trace.wall_s == pytest.approx((events[-1].ts - events[0].ts).total_seconds(), abs=1e-5)
    assert sum(trace.seconds.values()) == pytest.approx(trace.wall_s, abs=1e-5)
    assert [s.kind for s in trace.spans if s.kind in ("model", "tool")] == [
        "model",
        "tool",
        "model",
        "tool",
        "model",
    ]
    assert trace.cost_usd == pytest.approx(0.035)
    assert (trace.input_tokens, trace.output_tokens) == (250, 25)
    assert trace.status is not None and trace.status.value == "completed"

    drawn = cli("trace", sid)
    assert drawn.returncode == 0, drawn.stderr
    assert "where the time went" in drawn.stdout and "█" in drawn.stdout
    assert "tool read_file" in drawn.stdout and "total" in drawn.stdout

    missing = cli("trace", "ses_nope")
    assert missing.returncode == 1 and "no session" in missing.stderr


@pytest.mark.docker
def test_trace_of_the_demo_adds_up_to_its_wall_time(
    daemon: Client, cli: Cli, sessions_cleanup: list[str]
) -> None:
    """The demo, in the real sandbox, with one approval answered after a pause of ~1.5 s."""
    sid = daemon.create_session(
        CreateSession(task="Fix the tests.", model=f"replay:{DEMO}", workspace=str(DEMO_WORKSPACE))
    ).id
    sessions_cleanup.append(sid)
    assert wait_status(daemon, sid, "waiting", timeout=180) == "waiting"
    time.sleep(1.5)  # a person reading the diff
    (approval,) = daemon.approvals(session=sid)
    daemon.decide(approval.id, Decide(decision="approve", approver="tester"))
    assert wait_status(daemon, sid, "completed", "failed", "paused", timeout=180) == "completed"

    result = cli("trace", sid, "--json")
    assert result.returncode == 0, result.stderr
    trace = SessionTrace.model_validate_json(result.stdout)
    events = list(daemon.events(sid))
    wall = (events[-1].ts - events[0].ts).total_seconds()
    assert trace.wall_s == pytest.approx(wall, abs=1e-5)
    assert abs(sum(trace.seconds.values()) - wall) <= 0.05 * wall

    # plausible: the wait for the person, the tools the sandbox ran, the container work
    s = trace.seconds
    assert 1.5 <= s["approval"] < wall
    finished = [e.data for e in events if e.type == "tool.finished"]
    measured_s = sum(d["duration_ms"] for d in finished) / 1000
    assert s["tool"] >= 0.9 * measured_s > 0
    assert s["sandbox"] > 0  # the container start and the checkpoints (docker commit)
    assert s["idle"] == 0  # the session never paused
    kinds = [span.kind for span in trace.spans]
    assert kinds.count("model") == 6 and kinds.count("tool") == 6
    assert kinds.count("approval") == 1 and kinds.count("sandbox") == 1
    assert kinds.count("checkpoint") == sum(e.type == "checkpoint.created" for e in events)
    assert trace.model_latency_ms == 5550.0  # what the recording says the model took
    assert trace.input_tokens == 412 + 498 + 903 + 1187 + 1322 + 1450
    for span in trace.spans:
        assert span.start_s >= 0 and span.start_s + span.duration_s <= trace.wall_s + 1e-6

    drawn = cli("trace", sid)
    assert drawn.returncode == 0, drawn.stderr
    print(drawn.stdout)  # the waterfall, for the record (pytest -s)
    assert "approval edit_file" in drawn.stdout and "approved" in drawn.stdout
    assert json.loads(cli("trace", sid, "--json").stdout)["seconds"] == trace.seconds
