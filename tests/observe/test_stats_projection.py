"""The stats projection (`agentctl.observe.projection`) against the SQL scan it replaces.

Logs of real event shapes (every event fits its protocol model, so the
journal's fold takes it) go into a real DuckDB store; the report folded from
each session's events (the journal's path: `fold_events` -> `SessionState.stats`,
through the snapshot's JSON) must equal `compute_stats` on the same log, with
and without `since`, forks included.
"""

from __future__ import annotations

import json
import random
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentctl.observe.projection import HOUR_US, quantile_cont, sql_round, to_us
from agentctl.observe.stats import compute_stats, project_report
from agentctl.protocol import StatsReport
from agentctl.runtime.summary import snapshot_of
from agentctl.state import fold_events
from store import DuckDBEventStore, NewEvent

NOW = datetime(2026, 3, 4, 12, 30, 15, 123456, tzinfo=UTC)
MODELS = ["replay:a.jsonl", "openai:gpt-x", "anthropic:claude", "local"]
TOOLS = ["shell", "read_file", "write_file"]
Ev = tuple[str, dict[str, Any], datetime]


def created(rng: random.Random, parent: dict[str, Any] | None = None) -> dict[str, Any]:
    agent = rng.choice(
        [None, {"name": "fixer", "hash": "sha256:" + "ab" * 20}, {"hash": "sha256:" + "cd" * 20}]
    )
    return {
        "task": "t",
        "model": rng.choice(MODELS),
        "tools": TOOLS,
        "policy": {"name": "permissive", "rules": []},
        "sandbox": {"image": None},
        "parent": parent,
        "version": "test",
        **({"agent": agent} if agent else {}),
    }


def status(value: str) -> dict[str, Any]:
    return {"status": value, "reason": "r"}


def session_events(rng: random.Random, start: datetime, n_steps: int) -> list[Ev]:
    """A whole session: steps of ask/answer/calls (approvals, retries, failures)."""
    ts = start
    out: list[Ev] = []

    def add(kind: str, data: dict[str, Any]) -> None:
        nonlocal ts
        # gaps from none (one batch) to most of an hour: sessions cross hours
        ts = ts + rng.choice(
            [
                timedelta(0),
                timedelta(microseconds=rng.randrange(1, 10**6)),
                timedelta(seconds=rng.uniform(0, 2400)),
            ]
        )
        out.append((kind, data, ts))

    add("session.created", created(rng))
    add("session.status", status("running"))
    call_n = 0
    for _ in range(n_steps):
        attempt = 1
        add("model.requested", {"attempt": attempt})
        while rng.random() < 0.2:
            add(
                "model.failed",
                {"error": "429", "retryable": rng.random() < 0.7, "attempt": attempt},
            )
            attempt += 1
            add("model.requested", {"attempt": attempt})
        calls = []
        for _ in range(rng.choice([0, 1, 1, 2, 3])):
            call_n += 1
            calls.append({"id": f"c{call_n}", "name": rng.choice(TOOLS), "args": {"p": call_n}})
        usage = {"input_tokens": rng.randrange(0, 500), "output_tokens": rng.randrange(0, 90)}
        responded: dict[str, Any] = {
            "text": "x",
            "tool_calls": calls,
            "usage": usage,
            "cost_usd": rng.choice([None, 0.0, round(rng.uniform(0, 0.01), 5)]),
        }
        if rng.random() < 0.9:
            responded["latency_ms"] = round(rng.uniform(1, 900), 2)
        add("model.responded", responded)
        for call in calls:
            cid = call["id"]
            base = {"call_id": cid, "name": call["name"], "args": call["args"]}
            add("tool.proposed", {**base, "tier": "ask", "rule": "r"})
            if rng.random() < 0.4:
                aid = f"apr_{rng.getrandbits(48):x}"
                add("approval.requested", {"approval_id": aid, **base, "tier": "ask"})
                if rng.random() < 0.15:  # left pending: its wait runs to now
                    add("session.status", status("waiting"))
                    return out
                decision = rng.choice(["approved", "approved", "denied", "expired"])
                add(
                    "approval.decided",
                    {"approval_id": aid, "decision": decision, "approver": "ann"},
                )
                if decision != "approved":
                    continue
            for _ in range(rng.choice([1, 1, 1, 2])):  # a retried start: the later one runs
                add("tool.started", {**base, "idempotency_key": f"{cid}:1"})
            finished: dict[str, Any] = {
                "call_id": cid,
                "exit_code": rng.choice([0, 0, 0, 1, None]),
                "output": "o",
                "timed_out": rng.random() < 0.1,
            }
            if rng.random() < 0.1:
                finished["error"] = "refused"
            if rng.random() < 0.9:
                finished["duration_ms"] = round(rng.uniform(0, 3000), 3)
            add("tool.finished", finished)
        add("checkpoint.created", {"image": ""})
    add("model.requested", {"attempt": 1})
    add("session.status", status(rng.choice(["completed", "failed", "cancelled", "paused"])))
    return out


def fork_of(rng: random.Random, parent_id: str, parent: list[Ev], at: int) -> list[Ev]:
    """What `Runtime.fork` appends: the parent's prefix (its ts), paused, then new events."""
    data = created(rng, parent={"session": parent_id, "seq": at})
    copied: list[Ev] = [("session.created", data, parent[0][2]), *parent[1:at]]
    copied.append(("session.status", status("paused"), parent[at - 1][2]))
    later = parent[at - 1][2] + timedelta(minutes=rng.uniform(1, 120))
    tail = session_events(rng, later, rng.randrange(1, 4))[1:]  # its own, after the copy
    return copied + tail


def build_log(store: DuckDBEventStore, seed: int) -> dict[str, list[Ev]]:
    rng = random.Random(seed)
    sessions: dict[str, list[Ev]] = {}
    for i in range(rng.randrange(2, 9)):
        start = NOW - timedelta(hours=rng.uniform(0.5, 40))
        sessions[f"ses_{i}"] = session_events(rng, start, rng.randrange(0, 8))
    for j in range(rng.randrange(0, 3)):
        parent_id = rng.choice(list(sessions))
        parent = sessions[parent_id]
        at = rng.randrange(1, len(parent) + 1)
        sessions[f"ses_fork{j}"] = fork_of(rng, parent_id, parent, at)
    for sid, events in sessions.items():
        store.append(sid, [NewEvent(t, d, ts=ts) for t, d, ts in events], 1)
    return sessions


def put_snapshots(store: DuckDBEventStore) -> dict[str, str]:
    """Each session folded (`SessionState.stats`) and its snapshot written, as the journal
    writes an ended one's; its stats text, by session."""
    texts = {}
    for sid in store.streams():
        state = fold_events(store.read_stream(sid))
        snapshot = snapshot_of(state)
        store.put_snapshot(sid, state.last_seq, snapshot).result()
        texts[sid] = snapshot["stats"]
    return texts


def projected(store: DuckDBEventStore, since: timedelta | None) -> StatsReport:
    """The journal's path: the dormant sessions' projections read from their snapshots."""
    texts = put_snapshots(store)
    report, ended = project_report(store, {}, list(texts), since, now=NOW)
    assert [session[0] for session in ended.sessions] == list(texts)
    again, _ = project_report(store, {}, ended, since, now=NOW)  # as the journal keeps it
    assert again == report
    # and the same sessions as folded ones (live: each its own data), not merged
    live, _ = project_report(
        store, {k: json.loads(v) for k, v in texts.items()}, [], since, now=NOW
    )
    assert_equal(live, report)
    return report


# Sums of doubles, added in another order than the SQL's: after its round(.., digits)
# they may differ by one unit in the last digit (a sum on a tie); every other figure
# is equal to the bit.
SUMMED = {"cost_usd": 6, "latency_ms_avg": 1, "total_s": 3}


def same(a: Any, b: Any, where: str = "") -> None:
    if isinstance(a, float) or isinstance(b, float):
        assert a is not None and b is not None, (where, a, b)
        digits = SUMMED.get(where.rsplit(".", 1)[-1])
        if digits is None:
            assert a == b, (where, a, b)
        else:
            assert abs(a - b) <= 10**-digits * 1.0001, (where, a, b)
    elif isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b), (where, a, b)
        for key in a:
            same(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), (where, a, b)
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            same(x, y, f"{where}[{i}]")
    else:
        assert a == b, (where, a, b)


def assert_equal(scan: StatsReport, proj: StatsReport) -> None:
    left = scan.model_dump(mode="json", exclude={"generated_at"})
    right = proj.model_dump(mode="json", exclude={"generated_at"})
    for table in left:
        same(left[table], right[table], table)


SINCES = [
    None,
    timedelta(hours=3),  # NOW is not on the hour: the cutoff's hour is cut exactly
    timedelta(hours=12, minutes=30, seconds=15, microseconds=123456),  # on the hour
    timedelta(days=30),
    timedelta(minutes=7, seconds=3),
]


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32), since=st.sampled_from(SINCES))
def test_projection_equals_the_scan(seed: int, since: timedelta | None) -> None:
    with tempfile.TemporaryDirectory() as tmp, DuckDBEventStore(Path(tmp) / "e.duckdb") as store:
        build_log(store, seed)
        scan = compute_stats(store, since, now=NOW)
        assert_equal(scan, projected(store, since))


def test_a_varied_log_every_window(tmp_path: Path) -> None:
    """One bigger log, many windows (some on the hour), forks included: every table equal."""
    with DuckDBEventStore(tmp_path / "events.duckdb") as store:
        sessions = build_log(store, 7)
        rng = random.Random(7)
        for j in range(3):  # more forks, some of forks
            parent_id = rng.choice(list(sessions))
            parent = sessions[parent_id]
            at = rng.randrange(1, len(parent) + 1)
            fork = fork_of(rng, parent_id, parent, at)
            sessions[f"ses_more{j}"] = fork
            store.append(f"ses_more{j}", [NewEvent(t, d, ts=ts) for t, d, ts in fork], 1)
        scan = compute_stats(store, None, now=NOW)
        assert scan.totals["events"] > 0 and any(t["calls"] for t in scan.tools)
        assert scan.approvals, "the log has approvals"
        windows = [None] + [timedelta(minutes=m) for m in (1, 59, 60, 61, 200, 600, 1500, 3000)]
        windows.append(NOW - NOW.replace(minute=0, second=0, microsecond=0))
        for since in windows:
            assert_equal(compute_stats(store, since, now=NOW), projected(store, since))


def test_a_fork_counts_only_its_own_events(tmp_path: Path) -> None:
    rng = random.Random(3)
    parent = session_events(rng, NOW - timedelta(hours=5), 6)
    fork = fork_of(rng, "ses_p", parent, len(parent) - 1)
    with DuckDBEventStore(tmp_path / "events.duckdb") as store:
        store.append("ses_p", [NewEvent(t, d, ts=ts) for t, d, ts in parent], 1)
        alone = projected(store, None)
        store.append("ses_f", [NewEvent(t, d, ts=ts) for t, d, ts in fork], 1)
        both = projected(store, None)
        assert_equal(compute_stats(store, None, now=NOW), both)
    own = len(fork) - len(parent) + 1  # after the copy (seq > parent.seq): paused and its tail
    assert both.totals["events"] == alone.totals["events"] + own
    assert both.totals["sessions"] == 2


def test_sql_round_and_quantile_are_duckdbs(tmp_path: Path) -> None:
    """The two numeric helpers against DuckDB itself, on values where they differ from Python's."""
    import duckdb

    values = [0.25, 2.675, -0.25, 12.25, 0.35, 1.0005, 5e-7, 123.456789]
    con = duckdb.connect()
    for v in values:
        for d in (1, 3, 6):
            (got,) = con.execute("SELECT round(?::DOUBLE, ?)", [v, d]).fetchone()  # type: ignore[misc]
            assert sql_round(v, d) == got, (v, d)
    rng = random.Random(1)
    for n in (1, 2, 3, 10, 101):
        xs = [rng.uniform(0, 100) for _ in range(n)]
        for q in (0.5, 0.9, 0.95, 0.99):
            (got,) = con.execute(  # type: ignore[misc]
                "SELECT quantile_cont(x, ?) FROM unnest(?::DOUBLE[]) t(x)", [q, xs]
            ).fetchone()
            assert quantile_cont(list(xs), q) == got, (xs, q)


def test_hours_are_utc_microseconds() -> None:
    ts = datetime(2026, 1, 1, 5, 59, 59, 999999, tzinfo=UTC)
    assert to_us(ts) // HOUR_US == to_us(ts.replace(tzinfo=None)) // HOUR_US
    assert (to_us(ts) + 1) % HOUR_US == 0
    assert json.loads(json.dumps({"h": str(to_us(ts) // HOUR_US)}))


def test_a_window_cutting_a_busy_hour_is_answered_by_the_scan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More sessions in the cutoff's hour than REFOLD_MAX: one scan, not a read of each."""
    from agentctl.observe import stats

    reads: list[str] = []
    with DuckDBEventStore(tmp_path / "events.duckdb") as store:
        build_log(store, 11)
        since = timedelta(hours=30, minutes=10)
        real_read = store.read_stream

        def counted(stream: str, *args: Any, **kwargs: Any) -> Any:
            reads.append(stream)
            return real_read(stream, *args, **kwargs)

        texts = put_snapshots(store)
        monkeypatch.setattr(store, "read_stream", counted)
        busy = projection_cut(texts, since)
        assert busy > 0, "the log has a session in the cutoff's hour"
        refolded, _ = project_report(store, {}, list(texts), since, now=NOW)
        assert len(reads) == busy
        monkeypatch.setattr(stats, "REFOLD_MAX", busy - 1)
        reads.clear()
        scanned, _ = project_report(store, {}, list(texts), since, now=NOW)
        assert reads == []  # no session read: the scan answered
        assert_equal(scanned, refolded)
        assert_equal(compute_stats(store, since, now=NOW), scanned)


def projection_cut(texts: dict[str, str], since: timedelta) -> int:
    from agentctl.observe.projection import cutoff_hour

    cut = cutoff_hour(NOW - since)
    return sum(1 for text in texts.values() if cut in json.loads(text)["b"])


def test_ended_sessions_are_read_from_their_snapshots_or_folded_without_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`read_ended` reads only the snapshots' stats; a session whose snapshot has none (or
    has no snapshot) is folded from its events, to the same report."""
    from agentctl.observe.stats import read_ended

    with DuckDBEventStore(tmp_path / "events.duckdb") as store:
        build_log(store, 5)
        texts = put_snapshots(store)
        sids = list(texts)
        assert len(sids) >= 3
        whole = read_ended(store, sids)
        asked: list[dict[str, Any]] = []
        real = store.read_snapshots

        def narrow(**kwargs: Any) -> Any:
            asked.append(kwargs)
            return real(**kwargs)

        monkeypatch.setattr(store, "read_snapshots", narrow)
        assert read_ended(store, sids).sessions == whole.sessions
        assert asked == [{"only": ("stats",)}]
        # one snapshot without its stats (as an older agentctl wrote), one session without any
        head = store.last_seq(sids[0])
        old = {k: v for k, v in real()[0].data.items() if k != "stats"}
        store.put_snapshot(sids[0], head, old).result()
        reads: list[str] = []
        real_read = store.read_stream

        def counted(stream: str, *args: Any, **kwargs: Any) -> Any:
            reads.append(stream)
            return real_read(stream, *args, **kwargs)

        monkeypatch.setattr(store, "read_stream", counted)
        missing = tmp_path / "other.duckdb"
        with DuckDBEventStore(missing) as bare:  # the same log, no snapshots at all
            for sid in sids:
                bare.append(sid, [NewEvent(e.type, e.data, ts=e.ts) for e in real_read(sid)], 1)
            folded = read_ended(bare, sids)
        mixed = read_ended(store, sids)
        assert reads == [sids[0]]
        for since in (None, timedelta(hours=3)):
            expected = compute_stats(store, since, now=NOW)
            for ended in (whole, mixed, folded):
                report, _ = project_report(store, {}, ended, since, now=NOW)
                assert_equal(expected, report)
