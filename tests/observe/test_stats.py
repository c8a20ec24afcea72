"""`agentctl stats`: DuckDB SQL over the log, through the daemon and on a store of its own."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from agentctl.client import Client
from agentctl.durations import parse_timedelta as parse_duration
from agentctl.errors import UsageError
from agentctl.observe.stats import compute_stats
from agentctl.protocol import CreateSession, Decide, ForkSession, StatsReport
from store import DuckDBEventStore, NewEvent
from tests.support.daemon import wait_status
from tests.support.observe import Cli, call, final


def by(rows: list[dict[str, Any]], key: str) -> dict[Any, dict[str, Any]]:
    return {row[key]: row for row in rows}


def test_stats_of_real_sessions(daemon: Client, cli: Cli, recording: Any) -> None:
    reads = recording(
        "reads",
        [call("read_file", {"path": "a"}, "r1", cost=0.25), final(cost=0.5)],
    )
    asks = recording(
        "asks",
        [call("shell", {"command": "touch x"}, "s1", cost=1.0), final(cost=1.0)],
    )
    exhausted = recording("exhausted", [call("list_files", {"path": "."}, "l1", cost=0.125)])
    a = daemon.create_session(CreateSession(task="a", model=reads, image="none")).id
    b = daemon.create_session(CreateSession(task="b", model=asks, image="none")).id
    c = daemon.create_session(CreateSession(task="c", model=exhausted, image="none")).id
    assert wait_status(daemon, a, "completed") == "completed"
    assert wait_status(daemon, c, "failed") == "failed"  # the recording ran out
    assert wait_status(daemon, b, "waiting") == "waiting"
    (approval,) = daemon.approvals(session=b)
    daemon.decide(approval.id, Decide(decision="approve", approver="ann"))
    assert wait_status(daemon, b, "completed", timeout=30) == "completed"
    # a fork copies its parent's events: their cost must not be counted twice
    fork_at = daemon.session(a).last_seq
    f = daemon.fork(a, ForkSession(at=fork_at, message="again")).id
    assert wait_status(daemon, f, "failed") == "failed"

    result = cli("stats", "--json")
    assert result.returncode == 0, result.stderr
    report = StatsReport.model_validate_json(result.stdout)
    assert report.since is None
    assert by(report.sessions_by_status, "status") == {
        "completed": {"status": "completed", "sessions": 2},
        "failed": {"status": "failed", "sessions": 2},
    }
    totals = report.totals
    assert totals["sessions"] == 4
    assert totals["cost_usd"] == pytest.approx(0.25 + 0.5 + 1.0 + 1.0 + 0.125)
    assert totals["model_responses"] == 5 and totals["approvals"] == 1
    models = by(report.models, "model")
    assert models[reads]["cost_usd"] == pytest.approx(0.75)
    assert models[reads]["responses"] == 2
    assert models[asks]["cost_usd"] == pytest.approx(2.0)
    assert models[asks]["latency_ms_avg"] == pytest.approx(125.0)  # 250 and 0 (unrecorded)
    tools = by(report.tools, "tool")
    # without a sandbox every tool fails: the failure rates say so
    assert tools["read_file"] | {"total_s": 0, "p50_ms": 0, "p95_ms": 0} == {
        "tool": "read_file",
        "proposed": 1,
        "calls": 1,
        "failed": 1,
        "failure_rate": 1.0,
        "total_s": 0,
        "p50_ms": 0,
        "p95_ms": 0,
        "cost_usd": 0.25,
    }
    assert tools["shell"]["cost_usd"] == pytest.approx(1.0) and tools["shell"]["calls"] == 1
    assert tools["list_files"]["cost_usd"] == pytest.approx(0.125)
    approvals = by(report.approvals, "decision")
    assert approvals["approved"]["approvals"] == 1 and approvals["all"]["approvals"] == 1
    assert approvals["approved"]["p50_s"] >= 0
    providers = by(report.providers, "provider")
    # a: 2, b: 2, c: 2 (the second finds the recording exhausted), the fork's own: 1
    assert providers["replay"]["requests"] == 7
    assert providers["replay"]["failures"] == 2 and providers["replay"]["retryable_failures"] == 0
    assert providers["replay"]["retries"] == 0

    recent = cli("stats", "--since", "1h", "--json")
    assert json.loads(recent.stdout)["totals"]["sessions"] == 4
    drawn = cli("stats", "--since", "1h")
    assert drawn.returncode == 0, drawn.stderr
    for title in ("sessions by status", "cost per model", "approval waits", "retries per provider"):
        assert title in drawn.stdout
    bad = cli("stats", "--since", "yesterday")
    assert bad.returncode == 2 and "not a duration" in bad.stderr


def test_retries_failures_and_approval_percentiles(tmp_path: Path) -> None:
    """The SQL on a store of its own, with what a replay cannot produce: retries, old events."""
    now = datetime.now(UTC)
    old = now - timedelta(days=10)
    with DuckDBEventStore(tmp_path / "events.duckdb") as store:

        def session(sid: str, model: str, events: list[tuple[str, Any, datetime]]) -> None:
            created = NewEvent("session.created", {"model": model, "parent": None}, ts=events[0][2])
            store.append(sid, [created, *(NewEvent(t, d, ts=ts) for t, d, ts in events)], 1)

        session(
            "ses_a",
            "openai:gpt-x",
            [
                ("session.status", {"status": "running"}, now),
                ("model.requested", {"attempt": 1}, now),
                ("model.failed", {"error": "429", "retryable": True, "attempt": 1}, now),
                ("model.requested", {"attempt": 2}, now),
                ("model.failed", {"error": "500", "retryable": True, "attempt": 2}, now),
                ("model.requested", {"attempt": 3}, now),
                (
                    "model.responded",
                    {"usage": {"input_tokens": 7}, "cost_usd": 0.5, "tool_calls": []},
                    now,
                ),
            ]
            + [
                (
                    kind,
                    {"approval_id": f"apr_{i}", "decision": "approved"},
                    now + timedelta(seconds=s),
                )
                for i in range(1, 5)
                for kind, s in (("approval.requested", 0), ("approval.decided", i * 10))
            ]
            + [("session.status", {"status": "completed"}, now + timedelta(seconds=60))],
        )
        session(
            "ses_old",
            "anthropic:claude",
            [
                ("session.status", {"status": "cancelled"}, old),
                ("model.requested", {"attempt": 1}, old),
                ("model.failed", {"error": "400", "retryable": False, "attempt": 1}, old),
            ],
        )
        report = compute_stats(store, None)
        providers = by(report.providers, "provider")
        assert providers["openai"] | {"retry_rate": None} == {
            "provider": "openai",
            "requests": 3,
            "retries": 2,
            "failures": 2,
            "retryable_failures": 2,
            "retry_rate": None,
        }
        assert providers["openai"]["retry_rate"] == pytest.approx(2 / 3, abs=1e-4)
        assert (
            providers["anthropic"]["failures"] == 1
            and providers["anthropic"]["retryable_failures"] == 0
        )
        waits = by(report.approvals, "decision")["approved"]
        assert (waits["approvals"], waits["p50_s"], waits["max_s"]) == (4, 25.0, 40.0)
        assert waits["p90_s"] == pytest.approx(37.0)
        assert by(report.sessions_by_status, "status") == {
            "completed": {"status": "completed", "sessions": 1},
            "cancelled": {"status": "cancelled", "sessions": 1},
        }

        week = compute_stats(store, timedelta(days=7), "7d")
        assert week.since == "7d" and week.totals["sessions"] == 1
        assert set(by(week.providers, "provider")) == {"openai"}


def test_durations() -> None:
    assert parse_duration("90s") == timedelta(seconds=90)
    assert parse_duration("1h30m") == timedelta(minutes=90)
    assert parse_duration("7d") == timedelta(days=7)
    assert parse_duration("2w") == timedelta(weeks=2)
    assert parse_duration("0") == timedelta(0)
    for bad in ("", "d", "7 days", "-1h", "1y"):
        with pytest.raises(UsageError, match="not a duration"):
            parse_duration(bad)
