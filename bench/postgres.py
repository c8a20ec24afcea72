"""Benchmark: the event store on PostgreSQL against the DuckDB one, in the same run.

A private PostgreSQL server is started for the run (Debian's binaries, a temp
data folder, a free port: the one the tests use, tests/support/postgres.py;
fsync and synchronous_commit at their defaults, so every append is durable
as DuckDB's are). Each backend gets the same work, on a fresh database, with
events of about 500 bytes, every append acknowledged only once committed:

  raw         (PostgreSQL only) a plain loop of INSERT + COMMIT of one ~500-byte row
              on its own connection: what one durable row costs the server itself;
  single      one thread, one event per append: the per-append latency;
  concurrent  T threads, one stream each: what group commit makes of it;
  two stores  (PostgreSQL only) the concurrent run split over two stores on one
              database, each with its pool, writer and listener: two writers
              contending for the log-head lock, as two daemons would.

Printed: events/s, p50/p99 latency, events per commit, and the ratios
PostgreSQL / DuckDB. The last line of stdout is one JSON object.

    .venv/bin/python bench/postgres.py [--events N] [--concurrent-events N] [--threads T]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from store import DuckDBEventStore, EventStore, NewEvent, StoredEvent
from store.postgres_store import PostgresEventStore
from tests.support.postgres import PostgresServer

PAYLOAD = {"call_id": "call_0123456789", "exit_code": 0, "output": "x" * 420, "truncated": False}


def event(i: int) -> NewEvent:
    return NewEvent("tool.finished", {**PAYLOAD, "i": i})


def ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def pct(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))]


def single(log: EventStore, n: int) -> dict[str, float]:
    latencies = []
    begin = time.perf_counter()
    for i in range(1, n + 1):
        start = time.perf_counter()
        log.append("single", [event(i)], expected_seq=i)
        latencies.append(time.perf_counter() - start)
    elapsed = time.perf_counter() - begin
    return {
        "eps": round(n / elapsed, 1),
        "p50_ms": ms(statistics.median(latencies)),
        "p99_ms": ms(pct(latencies, 0.99)),
    }


def concurrent(logs: list[EventStore], n: int, threads: int) -> dict[str, float]:
    per_thread = n // threads
    batches: list[int] = []
    barrier = threading.Barrier(threads + 1)
    errors: list[BaseException] = []
    latencies: list[float] = []

    def count(events: list[StoredEvent]) -> None:
        batches.append(len(events))

    def appender(log: EventStore, stream: str) -> None:
        try:
            barrier.wait()
            for seq in range(1, per_thread + 1):
                start = time.perf_counter()
                log.append(stream, [event(seq)], expected_seq=seq)
                latencies.append(time.perf_counter() - start)
        except BaseException as exc:
            errors.append(exc)

    logs[0].subscribe(count)  # its own batches and, for PostgreSQL, the other store's
    workers = [
        threading.Thread(target=appender, args=(logs[t % len(logs)], f"stream-{t}"))
        for t in range(threads)
    ]
    for worker in workers:
        worker.start()
    barrier.wait()
    begin = time.perf_counter()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - begin
    if errors:
        raise errors[0]
    assert logs[0].last_offset() == per_thread * threads
    return {
        "eps": round(per_thread * threads / elapsed, 1),
        "p50_ms": ms(statistics.median(latencies)),
        "p99_ms": ms(pct(latencies, 0.99)),
        "events_per_commit": round(statistics.mean(batches), 1) if batches else 0.0,
    }


def raw_postgres(url: str, n: int) -> dict[str, float]:
    import psycopg

    text = json.dumps({**PAYLOAD, "i": 0})
    latencies = []
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE raw (i BIGINT PRIMARY KEY, data JSON NOT NULL)")
        begin = time.perf_counter()
        for i in range(1, n + 1):
            start = time.perf_counter()
            with conn.transaction():
                conn.execute("INSERT INTO raw (i, data) VALUES (%s, %s::json)", [i, text])
            latencies.append(time.perf_counter() - start)
        elapsed = time.perf_counter() - begin
    return {
        "eps": round(n / elapsed, 1),
        "p50_ms": ms(statistics.median(latencies)),
        "p99_ms": ms(pct(latencies, 0.99)),
    }


def run(open_store: Callable[[], EventStore], n: int, cn: int, threads: int) -> dict[str, Any]:
    with open_store() as log:
        one = single(log, n)
    with open_store() as log:
        many = concurrent([log], cn, threads)
    return {"single": one, "concurrent": many}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000, help="appends of the single run")
    parser.add_argument("--concurrent-events", type=int, default=5000)
    parser.add_argument("--threads", type=int, default=50)
    args = parser.parse_args()
    n, cn, threads = args.events, args.concurrent_events, args.threads

    server = PostgresServer().start()
    try:
        with tempfile.TemporaryDirectory(prefix="agentctl-bench-pg-") as tmp:
            files = iter(range(1000))
            duck = run(
                lambda: DuckDBEventStore(Path(tmp) / f"{next(files)}.duckdb"), n, cn, threads
            )
        raw = raw_postgres(server.new_database(), n)
        pg = run(lambda: PostgresEventStore(server.new_database()), n, cn, threads)
        pg = {"raw": raw, **pg}
        url = server.new_database()
        with PostgresEventStore(url) as a, PostgresEventStore(url) as b:
            pg["two_stores"] = concurrent([a, b], cn, threads)
    finally:
        server.stop()

    ratios = {
        "single_eps_pg_over_duckdb": round(pg["single"]["eps"] / duck["single"]["eps"], 2),
        "single_p50_pg_over_duckdb": round(pg["single"]["p50_ms"] / duck["single"]["p50_ms"], 2),
        "concurrent_eps_pg_over_duckdb": round(
            pg["concurrent"]["eps"] / duck["concurrent"]["eps"], 2
        ),
        "single_p50_pg_store_over_raw_pg": round(pg["single"]["p50_ms"] / raw["p50_ms"], 2),
        "two_stores_over_one_pg": round(pg["two_stores"]["eps"] / pg["concurrent"]["eps"], 2),
    }
    lines = [f"store bench: DuckDB vs PostgreSQL, ~500-byte durable appends, {threads} threads"]
    for name, figures in (("duckdb", duck), ("postgres", pg)):
        for kind, f in figures.items():
            extra = f", {f['events_per_commit']} events/commit" if "events_per_commit" in f else ""
            lines.append(
                f"  {name:9} {kind:11} {f['eps']:9.0f} ev/s   p50 {f['p50_ms']:7.3f} ms"
                f"   p99 {f['p99_ms']:7.3f} ms{extra}"
            )
    lines.append("  ratios: " + ", ".join(f"{k} {v}" for k, v in ratios.items()))
    print("\n".join(lines), file=sys.stderr)
    print(json.dumps({"duckdb": duck, "postgres": pg, "ratios": ratios}))


if __name__ == "__main__":
    main()
