"""Benchmark of how the daemon's costs grow with the log: start-up, memory, reads, lists.

For each size (10k, 100k, 1M events by default) it builds a log directly
through the store API (`DuckDBEventStore.append` in bulk: sessions of
agentctl's real event shapes, appended in interleaved rounds as concurrent
sessions would be, every ended one with the snapshot the journal writes),
then measures, on that log:

  read_stream_ms   `read_stream` of a 1,000-event session (in-process, median of 5)
  start_s          `agentctl daemon start` until the daemon answers (a real process)
  rss_mb           the daemon's resident memory right after start
  list_http_ms     GET /v1/sessions in-process through the client (all sessions)
  ls_ms            `agentctl ls` end to end (a process; the table of all sessions)
  ls_json_ms       `agentctl ls --json` end to end
  stats_ms         `agentctl stats --json` end to end (from the stats projection)
  stats_http_ms    GET /v1/stats in-process through the client (median of 3, after a first)
  stats_first_ms   ... the first one (it reads the ended sessions' stats from their snapshots
                   in the store, merges them, and keeps the merge)
  rss_stats_mb     the daemon's resident memory after those (the parsed projections kept)
  stats_scan_ms    the baseline: the SQL scan of the log (`compute_stats`), in-process on the
                   same log before the daemon starts (median of 3); stats_scan_ratio its
                   ratio to stats_http_ms
  backfill_ms      GET /v1/sessions/{id}/events of the 1,000-event session, whole
  first_page_ms    ... until its first event arrives
  fork_ms          a fork of the 1,000-event session (no sandbox: the log part only)

Sessions: 10 at 10k events (1,000 each) up to 10,000 at 1M (100 each, plus
the probe session of 1,000); 10 of them are left live (paused), the rest
completed. One JSON line per size goes to stdout, then one line with the
fitted growth exponent of each figure (the slope of log(figure) against
log(total events): 0 is flat, 1 is linear), so a change in the shape shows.

With `--long N` it also builds a log holding one session of N events and
times that session's backfill (first event, whole) and its fork, the cost
of a long session on its own (one JSON line, `"long": N`).

With `--logs DIR` each size's log is built once into DIR and copied from there
on later runs (a 1M-event log takes minutes to build).

    .venv/bin/python bench/growth.py [--sizes 10000,100000,1000000] [--long 100000] [--logs DIR]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agentctl.protocol import SandboxConfig, SessionCreated
from agentctl.state import fold_events
from store import DuckDBEventStore, NewEvent, StoredEvent

try:  # a tree from before snapshots (to measure it the same way): logs without them
    from agentctl.runtime.summary import snapshot_of
except ImportError:  # pragma: no cover - only on an older tree
    snapshot_of = None  # type: ignore[assignment]

LIVE = 10
PROBE_EVENTS = 1000
ROUND = 20  # events of one session appended before the next session's turn
CONCURRENT = 10  # sessions whose events interleave in the log
ROOT = Path(__file__).resolve().parents[1]
AGENTCTL = [sys.executable, "-m", "agentctl"]


def created(i: int) -> dict[str, Any]:
    return SessionCreated(
        task=f"bench task {i}",
        model="replay:/nonexistent/recording.jsonl",
        tools=["shell", "read_file"],
        policy={"name": "permissive", "rules": []},
        sandbox=SandboxConfig(image=None),
        labels={"bench": "growth"},
        version="bench",
    ).model_dump(mode="json")


def status(value: str, reason: str) -> dict[str, Any]:
    return {"status": value, "reason": reason, "budget": None, "fault": None}


def step(n: int) -> list[tuple[str, dict[str, Any]]]:
    """One step of six events: ask, answer with a call, propose, start, finish, checkpoint."""
    cid = f"c{n}"
    args = {"command": f"echo {n} >> log.txt"}
    usage = {"input_tokens": 120, "output_tokens": 30, "reported": True}
    return [
        ("model.requested", {"attempt": 1}),
        (
            "model.responded",
            {
                "text": f"step {n}",
                "tool_calls": [{"id": cid, "name": "shell", "args": args}],
                "usage": usage,
                "cost_usd": 0.0001,
                "latency_ms": 12.5,
            },
        ),
        (
            "tool.proposed",
            {"call_id": cid, "name": "shell", "args": args, "tier": "allow", "rule": "allow"},
        ),
        (
            "tool.started",
            {
                "call_id": cid,
                "name": "shell",
                "args": args,
                "idempotency_key": f"{cid}:1",
                "idempotent": False,
            },
        ),
        (
            "tool.finished",
            {"call_id": cid, "exit_code": 0, "output": "x" * 200, "duration_ms": 3.0},
        ),
        ("checkpoint.created", {"image": ""}),
    ]


def session_events(i: int, total: int, live: bool) -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = [
        ("session.created", created(i)),
        ("session.status", status("running", "created")),
    ]
    n = 0
    while len(out) < total - 3:
        n += 1
        out += step(n)
    out = out[: max(total - 3, 2)]
    # cut back to a step boundary, so the session is whole and a fork point exists
    while out[-1][0] not in ("checkpoint.created", "session.status"):
        out.pop()
    out.append(("model.requested", {"attempt": 1}))
    if live:
        out.append(("session.status", status("paused", "bench: left live")))
    else:
        done = {"text": "done", "tool_calls": [], "usage": {"input_tokens": 1, "output_tokens": 1}}
        out.append(("model.responded", {**done, "cost_usd": 0.0, "latency_ms": 1.0}))
        out.append(("session.status", status("completed", "the model gave its final answer")))
    return out


def build_long(path: Path, total: int) -> str:
    """A log of one session of about `total` events, left paused (live)."""
    sid = "ses_benchlong"
    events = session_events(0, total, live=True)
    base = datetime(2026, 1, 1, tzinfo=UTC)
    with DuckDBEventStore(path) as store:
        futures = []
        for start in range(0, len(events), 1000):
            chunk = events[start : start + 1000]
            new = [
                NewEvent(t, d, ts=base + timedelta(milliseconds=start + j))
                for j, (t, d) in enumerate(chunk)
            ]
            futures.append(store.append_future(sid, new, start + 1))
        for future in futures:
            future.result()
    return sid


def measure_long(total: int) -> dict[str, Any]:
    home = Path(tempfile.mkdtemp(prefix="agentctl-growth-long-"))
    os.environ["AGENTCTL_HOME"] = str(home)
    from agentctl.client import Client
    from agentctl.daemon import lifecycle
    from agentctl.paths import get_paths
    from agentctl.protocol import ForkSession

    paths = get_paths().ensure()
    sid = build_long(paths.database, total)
    with DuckDBEventStore(paths.database) as store:
        got = store.read_stream(sid)
        fork_at = max(e.seq for e in got if e.type == "checkpoint.created")
    t0 = time.perf_counter()
    lifecycle.start_background(paths)
    start_s = time.perf_counter() - t0
    try:
        with Client(paths.socket, timeout=600) as client:
            t1 = time.perf_counter()
            first = None
            count = 0
            for _ in client.events(sid):
                count += 1
                if first is None:
                    first = time.perf_counter() - t1
            backfill = time.perf_counter() - t1
            assert count == len(got), (count, len(got))
            t1 = time.perf_counter()
            client.fork(sid, ForkSession(at=fork_at))
            fork = time.perf_counter() - t1
    finally:
        lifecycle.stop(paths)
    return {
        "long": len(got),
        "start_s": round(start_s, 3),
        "first_page_ms": ms(first or 0.0),
        "backfill_ms": ms(backfill),
        "fork_ms": ms(fork),
    }


def build(path: Path, total: int) -> tuple[str, int]:
    """A log of about `total` events; (the probe session's id, events written)."""
    sessions = max(10, total // 100)
    per = max(10, (total - PROBE_EVENTS) // sessions) if sessions > 10 else total // sessions
    plan: list[tuple[str, list[tuple[str, dict[str, Any]]]]] = []
    probe_at = sessions // 2
    for i in range(sessions):
        size = PROBE_EVENTS if i == probe_at else per
        plan.append((f"ses_bench{i:06d}", session_events(i, size, live=i < LIVE)))
    probe = plan[probe_at][0]
    base = datetime(2026, 1, 1, tzinfo=UTC)
    written = 0
    clock = 0
    with DuckDBEventStore(path) as store:
        for group in range(0, len(plan), CONCURRENT):
            members = plan[group : group + CONCURRENT]
            cursors = [0] * len(members)
            folded: list[list[StoredEvent]] = [[] for _ in members]
            futures = []
            while any(c < len(ev) for c, (_, ev) in zip(cursors, members, strict=True)):
                for k, (sid, events) in enumerate(members):
                    start = cursors[k]
                    if start >= len(events):
                        continue
                    chunk = events[start : start + ROUND]
                    new = []
                    for j, (type_, data) in enumerate(chunk):
                        clock += 1
                        ts = base + timedelta(milliseconds=clock)
                        new.append(NewEvent(type_, data, ts=ts))
                        folded[k].append(StoredEvent(sid, start + j + 1, 0, ts, type_, data))
                    cursors[k] = start + len(chunk)
                    snapshot = None
                    if cursors[k] == len(events) and snapshot_of is not None:
                        state = fold_events(folded[k])
                        if state.status is not None and state.status.ended:
                            snapshot = snapshot_of(state)
                    if snapshot is None:
                        futures.append(store.append_future(sid, new, start + 1))
                    else:
                        futures.append(store.append_future(sid, new, start + 1, snapshot=snapshot))
                    written += len(new)
            for future in futures:
                future.result()
    return probe, written


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def timed_cli(env: dict[str, str], *args: str) -> float:
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        subprocess.run([*AGENTCTL, *args], env=env, check=True, capture_output=True, cwd=ROOT)
        times.append(time.perf_counter() - t0)
    return ms(statistics.median(times))


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return math.nan


def measure(total: int, logs: Path | None = None) -> dict[str, Any]:
    home = Path(tempfile.mkdtemp(prefix="agentctl-growth-"))
    env = {**os.environ, "AGENTCTL_HOME": str(home)}
    os.environ["AGENTCTL_HOME"] = str(home)
    from agentctl.client import Client
    from agentctl.daemon import lifecycle
    from agentctl.observe.stats import compute_stats
    from agentctl.paths import get_paths
    from agentctl.protocol import ForkSession

    paths = get_paths().ensure()
    t0 = time.perf_counter()
    kept = logs / f"growth-{total}.duckdb" if logs is not None else None
    if kept is not None and kept.exists():
        shutil.copyfile(kept, paths.database)
        probe, events = json.loads(kept.with_suffix(".json").read_text())
    else:
        probe, events = build(paths.database, total)
        if kept is not None:
            kept.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(paths.database, kept)
            kept.with_suffix(".json").write_text(json.dumps([probe, events]))
    build_s = time.perf_counter() - t0
    with DuckDBEventStore(paths.database) as store:
        scans = []
        for _ in range(3):
            t1 = time.perf_counter()
            compute_stats(store, None)
            scans.append(time.perf_counter() - t1)
        sessions = len(store.streams())
        reads = []
        for _ in range(5):
            t1 = time.perf_counter()
            got = store.read_stream(probe)
            reads.append(time.perf_counter() - t1)
        probe_events = len(got)
        assert probe_events > PROBE_EVENTS * 0.9, probe_events
        fork_at = max(e.seq for e in got if e.type == "checkpoint.created")
    t1 = time.perf_counter()
    pid = lifecycle.start_background(paths)
    start_s = time.perf_counter() - t1
    try:
        rss = rss_mb(pid)
        with Client(paths.socket, timeout=600) as client:
            t1 = time.perf_counter()
            listed = client.sessions()
            list_http = time.perf_counter() - t1
            assert len(listed) == sessions, (len(listed), sessions)
            t1 = time.perf_counter()
            first = None
            count = 0
            for _ in client.events(probe):
                count += 1
                if first is None:
                    first = time.perf_counter() - t1
            backfill = time.perf_counter() - t1
            assert count == probe_events, count
            t1 = time.perf_counter()
            client.fork(probe, ForkSession(at=fork_at))
            fork = time.perf_counter() - t1
            t1 = time.perf_counter()
            report = client.stats()
            stats_first = time.perf_counter() - t1
            assert report.totals["sessions"] == sessions + 1, report.totals
            http = []
            for _ in range(3):
                t1 = time.perf_counter()
                client.stats()
                http.append(time.perf_counter() - t1)
            rss_stats = rss_mb(pid)
        ls = timed_cli(env, "ls")
        ls_json = timed_cli(env, "ls", "--json")
        stats = timed_cli(env, "stats", "--json")
    finally:
        lifecycle.stop(paths)
    return {
        "events": events,
        "sessions": sessions,
        "probe_events": probe_events,
        "build_s": round(build_s, 1),
        "read_stream_ms": ms(statistics.median(reads)),
        "start_s": round(start_s, 3),
        "rss_mb": rss,
        "list_http_ms": ms(list_http),
        "ls_ms": ls,
        "ls_json_ms": ls_json,
        "stats_ms": stats,
        "stats_http_ms": ms(statistics.median(http)),
        "stats_first_ms": ms(stats_first),
        "rss_stats_mb": rss_stats,
        "stats_scan_ms": ms(statistics.median(scans)),
        "stats_scan_ratio": round(statistics.median(scans) / statistics.median(http), 1),
        "backfill_ms": ms(backfill),
        "first_page_ms": ms(first or 0.0),
        "fork_ms": ms(fork),
    }


FIGURES = (
    "start_s",
    "rss_mb",
    "read_stream_ms",
    "list_http_ms",
    "ls_ms",
    "ls_json_ms",
    "stats_ms",
    "stats_http_ms",
    "stats_scan_ms",
    "backfill_ms",
    "first_page_ms",
    "fork_ms",
)


def exponent(points: list[tuple[float, float]]) -> float | None:
    """The least-squares slope of log(y) on log(x)."""
    pts = [(math.log(x), math.log(y)) for x, y in points if x > 0 and y > 0]
    if len(pts) < 2:
        return None
    mx = statistics.fmean(p[0] for p in pts)
    my = statistics.fmean(p[1] for p in pts)
    den = sum((p[0] - mx) ** 2 for p in pts)
    return round(sum((p[0] - mx) * (p[1] - my) for p in pts) / den, 3) if den else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--sizes", default="10000,100000,1000000", help="total events, comma-separated"
    )
    parser.add_argument("--long", type=int, default=0, help="also time one session of N events")
    parser.add_argument(
        "--logs", type=Path, default=None, help="build each size's log once, into DIR; reuse it"
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    if args.long:
        row = measure_long(args.long)
        print(json.dumps(row), flush=True)
        print(f"# long: {row}", file=sys.stderr, flush=True)
    results = []
    for size in sizes:
        row = measure(size, args.logs)
        results.append(row)
        print(json.dumps(row), flush=True)
        print(f"# {size}: {row}", file=sys.stderr, flush=True)
    growth = {
        f"{name}_exponent": exponent([(r["events"], r[name]) for r in results]) for name in FIGURES
    }
    print(json.dumps({"growth_vs_events": growth}), flush=True)


if __name__ == "__main__":
    main()
