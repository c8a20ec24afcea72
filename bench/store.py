"""Benchmark of the DuckDB event store's durable appends, against raw DuckDB.

Three runs, each on a fresh DuckDB file in a temp dir, each appending the same
number of events of about 500 bytes, every one durable (committed) before the
appender goes on:

  raw         a plain loop of single-row INSERT + COMMIT on its own connection
              (same schema): what one durable event costs DuckDB itself;
  single      one thread calling DuckDBEventStore.append, one event at a time;
  concurrent  50 threads, one stream each, one event at a time: the writer
              thread group-commits what they queue meanwhile.

Targets: concurrent/single >= 5 (group commit pays off) and the store's p50
append latency <= 2 x the raw p50 commit (the queue and the writer thread cost
little). A readable summary goes to stderr; the last line of stdout is one
JSON object with the figures.

    .venv/bin/python bench/store.py [--events N] [--threads T] [--compare-inserts]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

# Run as a script, this file's folder is on sys.path and this file is named
# store.py: the repo root goes first, so that `store` is the package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import duckdb

from store import DuckDBEventStore, NewEvent, StoredEvent
from store.migrations import apply_migrations

EVENT_TYPE = "tool.finished"
# About 500 bytes once serialised with the type: a typical small tool result.
PAYLOAD = {"call_id": "call_0123456789", "exit_code": 0, "output": "x" * 420, "truncated": False}


def event(i: int) -> NewEvent:
    return NewEvent(EVENT_TYPE, {**PAYLOAD, "i": i})


def ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def pct(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))]


def bench_raw(path: Path, n: int) -> list[float]:
    conn = duckdb.connect(str(path))
    apply_migrations(conn)
    text = json.dumps({**PAYLOAD, "i": 0}, separators=(",", ":"))
    insert = 'INSERT INTO events ("offset", stream, seq, ts, type, data) VALUES (?, ?, ?, ?, ?, ?)'
    latencies = []
    for i in range(1, n + 1):
        start = time.perf_counter()
        conn.begin()
        conn.execute(
            insert, [i, "raw", i, datetime.now(UTC).replace(tzinfo=None), EVENT_TYPE, text]
        )
        conn.commit()
        latencies.append(time.perf_counter() - start)
    conn.close()
    return latencies


def bench_single(path: Path, n: int) -> tuple[float, list[float]]:
    latencies = []
    with DuckDBEventStore(path) as log:
        begin = time.perf_counter()
        for i in range(1, n + 1):
            start = time.perf_counter()
            log.append("single", [event(i)], expected_seq=i)
            latencies.append(time.perf_counter() - start)
        elapsed = time.perf_counter() - begin
        assert log.last_offset() == n
    return elapsed, latencies


def bench_concurrent(path: Path, n: int, threads: int) -> tuple[float, list[int]]:
    per_thread = n // threads
    batch_sizes: list[int] = []
    barrier = threading.Barrier(threads + 1)
    errors: list[BaseException] = []

    def count(events: list[StoredEvent]) -> None:
        batch_sizes.append(len(events))

    def appender(log: DuckDBEventStore, stream: str) -> None:
        try:
            barrier.wait()
            for seq in range(1, per_thread + 1):
                log.append(stream, [event(seq)], expected_seq=seq)
        except BaseException as exc:
            errors.append(exc)

    with DuckDBEventStore(path) as log:
        log.subscribe(count)
        workers = [
            threading.Thread(target=appender, args=(log, f"stream-{t}")) for t in range(threads)
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
        assert log.last_offset() == per_thread * threads
    return elapsed, batch_sizes


def compare_inserts(root: Path, batch_sizes: tuple[int, ...] = (1, 10, 50, 200)) -> None:
    """Per-row cost of the ways to insert one batch in one transaction (why the store unnests)."""
    columns = '"offset", stream, seq, ts, type, data'
    text = json.dumps({**PAYLOAD, "i": 0}, separators=(",", ":"))
    now = datetime.now(UTC).replace(tzinfo=None)

    def executemany(conn: duckdb.DuckDBPyConnection, rows: list[tuple[object, ...]]) -> None:
        conn.executemany(f"INSERT INTO events ({columns}) VALUES (?, ?, ?, ?, ?, ?)", rows)

    def values(conn: duckdb.DuckDBPyConnection, rows: list[tuple[object, ...]]) -> None:
        placeholders = ", ".join(["(?, ?, ?, ?, ?, ?)"] * len(rows))
        conn.execute(
            f"INSERT INTO events ({columns}) VALUES {placeholders}", [v for r in rows for v in r]
        )

    def unnest(conn: duckdb.DuckDBPyConnection, rows: list[tuple[object, ...]]) -> None:
        conn.execute(
            f"INSERT INTO events ({columns}) SELECT unnest($1), unnest($2), unnest($3), "
            "unnest($4), unnest($5), unnest($6)",
            [list(column) for column in zip(*rows, strict=True)],
        )

    def arrow(conn: duckdb.DuckDBPyConnection, rows: list[tuple[object, ...]]) -> None:
        import pyarrow as pa

        names = ["offset", "stream", "seq", "ts", "type", "data"]
        table = pa.table(dict(zip(names, [list(c) for c in zip(*rows, strict=True)], strict=True)))
        conn.register("batch_rows", table)
        conn.execute(f"INSERT INTO events ({columns}) SELECT {columns} FROM batch_rows")
        conn.unregister("batch_rows")

    print(
        "  insert of one batch + COMMIT, microseconds per row (median of 50 batches):",
        file=sys.stderr,
    )
    print(
        "    batch "
        + "".join(f"{name:>12}" for name in ("executemany", "VALUES", "unnest", "arrow")),
        file=sys.stderr,
    )
    for size in batch_sizes:
        cells = []
        for name, insert in (("m", executemany), ("v", values), ("u", unnest), ("a", arrow)):
            conn = duckdb.connect(str(root / f"insert-{name}-{size}.duckdb"))
            apply_migrations(conn)
            offset, timings = 0, []
            for _ in range(50):
                rows = [
                    (offset + k + 1, "s", offset + k + 1, now, EVENT_TYPE, text)
                    for k in range(size)
                ]
                offset += size
                start = time.perf_counter()
                conn.begin()
                insert(conn, rows)
                conn.commit()
                timings.append((time.perf_counter() - start) / size)
            conn.close()
            cells.append(f"{statistics.median(timings) * 1e6:12.0f}")
        print(f"    {size:5d} " + "".join(cells), file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--threads", type=int, default=50)
    parser.add_argument(
        "--compare-inserts",
        action="store_true",
        help="also time executemany, multi-row VALUES, unnest and arrow for one batch",
    )
    args = parser.parse_args()
    n, threads = args.events, args.threads

    with tempfile.TemporaryDirectory(prefix="agentctl-bench-store-") as tmp:
        root = Path(tmp)
        raw = bench_raw(root / "raw.duckdb", n)
        single_elapsed, single = bench_single(root / "single.duckdb", n)
        concurrent_elapsed, batches = bench_concurrent(root / "concurrent.duckdb", n, threads)
        if args.compare_inserts:
            compare_inserts(root)

    events = (n // threads) * threads
    single_eps = n / single_elapsed
    concurrent_eps = events / concurrent_elapsed
    raw_eps = n / sum(raw)
    result = {
        "single_eps": round(single_eps, 1),
        "concurrent_eps": round(concurrent_eps, 1),
        "ratio": round(concurrent_eps / single_eps, 2),
        "commit_p50_ms": ms(statistics.median(single)),
        "raw_commit_p50_ms": ms(statistics.median(raw)),
    }
    size = len(json.dumps({**PAYLOAD, "i": n}, separators=(",", ":"))) + len(EVENT_TYPE)
    print(
        f"store bench: {n} durable appends of ~{size} bytes per run\n"
        f"  raw DuckDB INSERT+COMMIT   {raw_eps:9.0f} ev/s   p50 {ms(statistics.median(raw))} ms"
        f"   p99 {ms(pct(raw, 0.99))} ms\n"
        f"  store, 1 writer thread     {single_eps:9.0f} ev/s   p50 {ms(statistics.median(single))} ms"
        f"   p99 {ms(pct(single, 0.99))} ms\n"
        f"  store, {threads} writer threads  {concurrent_eps:9.0f} ev/s   "
        f"{len(batches)} commits, {statistics.mean(batches):.1f} events per commit "
        f"(max {max(batches)})\n"
        f"  ratio concurrent/single {result['ratio']} (target >= 5); "
        f"p50 append / raw commit {result['commit_p50_ms'] / result['raw_commit_p50_ms']:.2f} "
        f"(target <= 2)",
        file=sys.stderr,
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
