"""Ended sessions are not folded at start-up: their snapshots answer until asked more.

Real DuckDB files throughout: a session ends, the daemon's runtime restarts
on the same log, and everything a client sees (the list, a summary, the
counts, a request id, an approval id, a fork) is what it was before.
"""

from __future__ import annotations

from pathlib import Path

from agentctl.protocol import ForkSession, SessionStatus
from store import MIGRATIONS, DuckDBEventStore

from .harness import Counter, call, create, final, registry, settle, start_runtime, write_recording


async def test_a_restart_leaves_ended_sessions_dormant_and_answers_the_same(
    tmp_path: Path,
) -> None:
    path = tmp_path / "events.duckdb"
    counter = Counter()
    rec = write_recording(tmp_path / "r.jsonl", [call("count", {"n": 1}), final()])
    store = DuckDBEventStore(path)
    rt = await start_runtime(store, registry(counter.tool()))
    done = await rt.create_session(create("ends", rec, request_id="req-ended"))
    assert await settle(rt, done) is SessionStatus.COMPLETED
    before_list = rt.sessions()
    before_one = rt.session(done)
    before_counts = rt.counts_by_status()
    events_before = store.read_stream(done)
    await rt.stop()
    store.close()

    store = DuckDBEventStore(path)
    rt = await start_runtime(store, registry(counter.tool()))
    try:
        assert done in rt.journal.dormant
        assert done not in rt.journal.states  # not folded at start
        assert rt.sessions() == before_list
        assert rt.session(done) == before_one
        assert rt.counts_by_status() == before_counts
        assert rt.sessions(limit=1) == before_list[-1:]
        # a retried create finds the session its request made, from the snapshot
        again = await rt.create_session(create("ends", rec, request_id="req-ended"))
        assert again == done
        # asking for its state folds it from its own events
        state = rt.journal.state(done)
        assert state.status is SessionStatus.COMPLETED
        assert state.last_seq == len(events_before)
        assert done not in rt.journal.dormant
        more = write_recording(tmp_path / "more.jsonl", [final("more")])
        fork = await rt.fork(
            done, ForkSession(at=events_before[-2].seq, message="more", model=f"replay:{more}")
        )
        status = await settle(rt, fork)
        assert status is SessionStatus.COMPLETED, rt.session(fork).reason
        assert store.read_stream(fork)[0].data["parent"] == {
            "session": done,
            "seq": events_before[-2].seq,
        }
    finally:
        await rt.stop()
        store.close()


async def test_an_old_log_is_folded_once_then_gets_snapshots(tmp_path: Path) -> None:
    """A log written before snapshots (schema 1) starts as before, and the next start is lean."""
    path = tmp_path / "events.duckdb"
    counter = Counter()
    rec = write_recording(tmp_path / "r.jsonl", [final()])
    store = DuckDBEventStore(path)
    rt = await start_runtime(store, registry(counter.tool()))
    sid = await rt.create_session(create("old", rec))
    assert await settle(rt, sid) is SessionStatus.COMPLETED
    summary = rt.session(sid)
    await rt.stop()
    store.close()
    # make it a schema-1 database: no snapshots table, no record of migration 2
    import duckdb

    conn = duckdb.connect(str(path))
    conn.execute("DROP TABLE snapshots")
    conn.execute("DELETE FROM schema_migrations WHERE version > 1")
    conn.close()

    store = DuckDBEventStore(path)
    assert store.schema_version() == MIGRATIONS[-1].version
    assert store.read_snapshots() == []
    rt = await start_runtime(store, registry(counter.tool()))
    assert sid in rt.journal.states  # folded, as before snapshots
    assert rt.session(sid) == summary
    assert [s.stream for s in store.read_snapshots()] == [sid]  # written at that start
    await rt.stop()
    store.close()

    store = DuckDBEventStore(path)
    rt = await start_runtime(store, registry(counter.tool()))
    try:
        assert sid in rt.journal.dormant
        assert rt.session(sid) == summary
    finally:
        await rt.stop()
        store.close()


async def test_a_resumed_ended_session_is_folded_again_at_start(tmp_path: Path) -> None:
    """A snapshot behind the stream's head (events after the end) is not trusted."""
    path = tmp_path / "events.duckdb"
    rec = write_recording(tmp_path / "r.jsonl", [final()])
    store = DuckDBEventStore(path)
    rt = await start_runtime(store, registry())
    sid = await rt.create_session(create("x", rec))
    assert await settle(rt, sid) is SessionStatus.COMPLETED
    await rt.stop()
    # an event after the end, appended without a snapshot
    from store import NewEvent

    head = store.last_seq(sid)
    store.append(sid, [NewEvent("message.user", {"text": "late"})], head + 1)
    store.close()
    store = DuckDBEventStore(path)
    rt = await start_runtime(store, registry())
    try:
        assert sid in rt.journal.states
        assert rt.journal.state(sid).last_seq == head + 1
        assert rt.session(sid).last_seq == head + 1
    finally:
        await rt.stop()
        store.close()


async def test_a_snapshot_keeps_the_summary_as_text_and_one_of_version_1_is_written_again(
    tmp_path: Path,
) -> None:
    """The snapshot keeps the summary as JSON text (parsed when asked); a version 1
    snapshot (the summary as an object and no stats, from an earlier agentctl) is folded
    at start, to the same summary, and written again in this version."""
    import json

    from agentctl.runtime.summary import SNAPSHOT_VERSION

    path = tmp_path / "events.duckdb"
    rec = write_recording(tmp_path / "r.jsonl", [final()])
    store = DuckDBEventStore(path)
    rt = await start_runtime(store, registry())
    sid = await rt.create_session(create("text", rec))
    assert await settle(rt, sid) is SessionStatus.COMPLETED
    summary = rt.session(sid)
    await rt.stop()
    (snapshot,) = store.read_snapshots()
    assert snapshot.data["v"] == SNAPSHOT_VERSION == 3
    assert isinstance(snapshot.data["summary"], str)
    assert json.loads(snapshot.data["summary"])["id"] == sid
    # what an earlier agentctl wrote: version 1, the summary as an object, no stats
    old = {k: v for k, v in snapshot.data.items() if k != "stats"}
    old |= {"v": 1, "summary": json.loads(snapshot.data["summary"])}
    store.put_snapshot(sid, snapshot.seq, old).result()
    store.close()

    store = DuckDBEventStore(path)
    rt = await start_runtime(store, registry())
    try:
        assert sid in rt.journal.states and sid not in rt.journal.dormant
        assert rt.session(sid) == summary
        assert rt.sessions() == [summary]
    finally:
        await rt.stop()
        store.close()
    store = DuckDBEventStore(path)
    (rewritten,) = store.read_snapshots()
    assert rewritten.data == snapshot.data
    rt = await start_runtime(store, registry())
    try:
        assert sid in rt.journal.dormant and sid not in rt.journal.states
        assert rt.session(sid) == summary
        assert rt.sessions() == [summary]
    finally:
        await rt.stop()
        store.close()


async def test_a_snapshot_without_stats_is_folded_at_start_and_written_again(
    tmp_path: Path,
) -> None:
    """Version 2 snapshots carry no stats projection: start folds such a session from its
    events (so `stats` counts it) and writes a version 3 snapshot, which the next start reads."""
    from agentctl.observe.stats import compute_stats, project_report

    path = tmp_path / "events.duckdb"
    rec = write_recording(tmp_path / "r.jsonl", [final()])
    store = DuckDBEventStore(path)
    rt = await start_runtime(store, registry())
    sid = await rt.create_session(create("text", rec))
    assert await settle(rt, sid) is SessionStatus.COMPLETED
    await rt.stop()
    (snapshot,) = store.read_snapshots()
    old = {k: v for k, v in snapshot.data.items() if k != "stats"} | {"v": 2}
    store.put_snapshot(sid, snapshot.seq, old).result()
    store.close()

    store = DuckDBEventStore(path)
    rt = await start_runtime(store, registry())
    try:
        assert sid not in rt.journal.dormant and sid in rt.journal.durable
        (rewritten,) = store.read_snapshots()
        assert rewritten.data["v"] == 3 and isinstance(rewritten.data["stats"], str)
        folded, ended, _ = rt.journal.stats_data()
        report, _ = project_report(store, folded, ended, None)
        scan = compute_stats(store, None, now=report.generated_at)
        assert report.totals == scan.totals and report.totals["sessions"] == 1
    finally:
        await rt.stop()
        store.close()


async def test_a_dormant_session_holds_no_stats_until_stats_reads_them(tmp_path: Path) -> None:
    """Start-up keeps an ended session's summary and ids, not its stats projection (it stays
    in the store); `stats` reads it from the snapshot, equal to the scan, and after a
    restart too."""
    from agentctl.observe.stats import compute_stats, project_report

    path = tmp_path / "events.duckdb"
    rec = write_recording(tmp_path / "r.jsonl", [final()])
    store = DuckDBEventStore(path)
    rt = await start_runtime(store, registry())
    sid = await rt.create_session(create("text", rec))
    assert await settle(rt, sid) is SessionStatus.COMPLETED
    folded, ended, _ = rt.journal.stats_data()
    live, _ = project_report(store, folded, ended, None)  # a folded session's projection
    await rt.stop()
    store.close()

    for _ in range(2):  # a start, and one after the first stats was kept
        store = DuckDBEventStore(path)
        rt = await start_runtime(store, registry())
        try:
            assert sid in rt.journal.dormant and "stats" not in rt.journal.dormant[sid]
            folded, ended, epoch = rt.journal.stats_data()
            assert folded == {} and ended == [sid]
            report, merged = project_report(store, folded, ended, None)
            rt.journal.keep_stats(merged, epoch)
            assert rt.journal.stats_data()[1] is merged  # kept while the dormant set holds
            scan = compute_stats(store, None, now=report.generated_at)
            assert report.totals == scan.totals == live.totals
            assert report.totals["sessions"] == 1 and report.totals["model_responses"] == 1
            rt.journal.find(sid)  # it leaves the dormant set: the kept merge is stale
            folded, ended, _ = rt.journal.stats_data()
            assert ended == [] and set(folded) == {sid}
            again, _ = project_report(store, folded, ended, None)
            assert again.totals == report.totals
        finally:
            await rt.stop()
            store.close()
