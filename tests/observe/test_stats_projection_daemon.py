"""`agentctl stats` from the projection, through a real daemon: equal to the SQL scan of its
log after a crash point mid-session, a fork, a restart and a kill -9 while a session waits;
and on a real PostgreSQL log."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from agentctl.observe.stats import compute_stats
from agentctl.paths import Paths
from agentctl.protocol import CreateSession, Decide, ForkSession, StatsReport
from store import DuckDBEventStore, NewEvent
from store.postgres_store import PostgresEventStore
from tests.observe.test_stats_projection import assert_equal
from tests.support.daemon import SpawnDaemon, wait_status
from tests.support.observe import call, final
from tests.support.postgres import PostgresServer


def tables(report: StatsReport) -> dict[str, Any]:
    return report.model_dump(exclude={"generated_at", "since_ts", "approvals"})


def test_stats_equal_the_scan_across_crash_fork_restart_and_kill(
    spawn_daemon: SpawnDaemon, paths: Paths, recording: Any
) -> None:
    reads = recording(
        "reads",
        [call("read_file", {"path": f"f{i}"}, f"r{i}", cost=0.125 * (i + 1)) for i in range(5)]
        + [final(cost=0.5)],
    )
    asks = recording("asks", [call("shell", {"command": "touch x"}, "s1", cost=1.0), final()])

    # 1. the daemon dies (like kill -9) right after a commit, mid-session: no snapshot of it
    crashing = spawn_daemon(env={"AGENTCTL_CRASH_AT": "after:tool.finished:3"})
    with crashing.wait_ready() as client:
        a = client.create_session(CreateSession(task="a", model=reads, image="none")).id
        assert crashing.process.wait(30) == 86
    # 2. start: the session is folded from its events and goes on; a fork, one that waits
    second = spawn_daemon()
    with second.wait_ready() as client:
        assert wait_status(client, a, "completed", "failed") in ("completed", "failed")
        b = client.create_session(CreateSession(task="b", model=asks, image="none")).id
        assert wait_status(client, b, "waiting") == "waiting"
        f = client.fork(a, ForkSession(at=client.session(a).last_seq - 2, message="again")).id
        wait_status(client, f, "completed", "failed")
        before = client.stats()
        assert before.totals["sessions"] == 3 and before.totals["approvals"] == 1
    # 3. kill -9 while b waits for its approval; the next start reads a's snapshot
    second.kill()
    third = spawn_daemon()
    with third.wait_ready() as client:
        after = client.stats()
        assert tables(after) == tables(before)  # what the kill could not change
        assert after.approvals[0]["decision"] == "pending"
        # a fork folds its ended parent again (it leaves the merged dormant ones):
        # counted once, as a folded session, from then on
        g = client.fork(a, ForkSession(at=client.session(a).last_seq - 1, message="more")).id
        wait_status(client, g, "completed", "failed")
        [approval] = client.approvals(session=b)
        client.decide(approval.id, Decide(decision="approve", approver="ann"))
        assert wait_status(client, b, "completed", "failed", timeout=30) in ("completed", "failed")
        final_report = client.stats()
        recent = client.stats("1h")
        assert {r["decision"] for r in final_report.approvals} == {"approved", "all"}
    assert third.terminate() == 0
    with DuckDBEventStore(paths.database) as store:
        now = final_report.generated_at
        assert_equal(compute_stats(store, None, now=now), final_report)
        assert_equal(
            compute_stats(store, timedelta(hours=1), "1h", now=recent.generated_at), recent
        )


def test_stats_on_postgres_equal_the_scan_of_the_same_log(
    spawn_daemon: SpawnDaemon, paths: Paths, recording: Any, postgres_server: PostgresServer
) -> None:
    """The projection needs no SQL of the store's: on PostgreSQL it answers too, with a
    fork, across a restart (the ended sessions' stats read from their snapshots), and
    equals the DuckDB scan of a copy of the same log."""
    url = postgres_server.new_database()
    reads = recording("reads", [call("read_file", {"path": "a"}, "r1", cost=0.25), final(cost=0.5)])
    asks = recording("asks", [call("shell", {"command": "touch x"}, "s1", cost=1.0), final()])
    env = {"AGENTCTL_STORE_URL": url}
    process = spawn_daemon(env=env)
    with process.wait_ready() as client:
        a = client.create_session(CreateSession(task="a", model=reads, image="none")).id
        b = client.create_session(CreateSession(task="b", model=asks, image="none")).id
        wait_status(client, a, "completed", "failed")
        assert wait_status(client, b, "waiting") == "waiting"
        f = client.fork(a, ForkSession(at=client.session(a).last_seq - 1, message="again")).id
        wait_status(client, f, "completed", "failed")
        before = client.stats()
    assert process.terminate() == 0, process.output()
    again = spawn_daemon(env=env)
    with again.wait_ready() as client:
        report = client.stats()
        recent = client.stats("1h")
    assert again.terminate() == 0, again.output()
    assert tables(report) == tables(before)
    assert report.totals["sessions"] == 3 and report.totals["approvals"] == 1
    with PostgresEventStore(url) as log:
        events = log.read_all()
    with DuckDBEventStore(paths.database.with_name("copy.duckdb")) as copy:
        streams: dict[str, list[NewEvent]] = {}
        for e in events:
            streams.setdefault(e.stream, []).append(NewEvent(e.type, e.data, ts=e.ts))
        for stream, new in streams.items():
            copy.append(stream, new, 1)
        assert_equal(compute_stats(copy, None, now=report.generated_at), report)
        assert_equal(compute_stats(copy, timedelta(hours=1), "1h", now=recent.generated_at), recent)
