"""1,000 scheduled sessions due in the same minute: how late does each start?

Adds 1,000 schedules that all fire at the same minute (a daily cron at the
next whole minute with at least 20 s to spare), to a runtime hosted
in-process on a real DuckDB log in a temporary AGENTCTL_HOME, with the real
clock. Each firing creates a session (image "none", a one-line replay
recording, so neither Docker nor a model is the bottleneck: this measures the
scheduler, the runtime and the log) and the session runs to completion.

Start latency of a session = the time of its first `running` status event in
the log minus the due time. The target (issue 21) is that every one starts
within 10 s of its time.

    .venv/bin/python bench/schedules.py [--count 1000]

The last stdout line is JSON: count, max/p50/p99 start latency, the time the
last one completed, and `all_within_10s`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parent.parent)  # bench/store.py must not shadow `store`


async def main(count: int) -> dict[str, object]:
    from agentctl.paths import get_paths
    from agentctl.protocol import AddSchedule, CreateSession, SessionStatus
    from agentctl.runtime import Runtime
    from store import DuckDBEventStore

    paths = get_paths().ensure()
    recording = paths.data / "final.jsonl"
    recording.write_text(
        '{"format": "agentctl-recording", "version": 1}\n'
        '{"text": "done", "tool_calls": [], "usage": {"input_tokens": 1, "output_tokens": 1}}\n'
    )
    store = DuckDBEventStore(paths.database, lock=True)
    rt = Runtime(store, paths=paths)
    await rt.start()
    now = datetime.now(UTC)
    due = (now + timedelta(seconds=20)).replace(second=0, microsecond=0) + timedelta(minutes=1)
    run = CreateSession(task="tick", model=f"replay:{recording}", image="none", policy="permissive")
    t0 = time.perf_counter()
    for i in range(count):
        await rt.triggers.schedules.add(
            AddSchedule(name=f"s{i:04d}", cron=f"{due.minute} {due.hour} * * *", run=run)
        )
    add_s = time.perf_counter() - t0
    wait = (due - datetime.now(UTC)).total_seconds()
    print(
        f"added {count} schedules in {add_s:.2f}s; all due at {due:%H:%M:%S}Z, in {wait:.0f}s",
        file=sys.stderr,
    )
    await asyncio.sleep(max(0.0, wait))

    def done() -> int:
        return sum(
            1
            for s in rt.journal.durable.values()
            if s.created and s.status is SessionStatus.COMPLETED
        )

    while done() < count:
        if (datetime.now(UTC) - due).total_seconds() > 120:
            break
        await asyncio.sleep(0.05)
    latencies: list[float] = []
    finished: list[float] = []
    for sid, state in rt.journal.durable.items():
        if not state.created:
            continue
        events = store.read_stream(sid)
        running = next(
            e for e in events if e.type == "session.status" and e.data["status"] == "running"
        )
        latencies.append((running.ts - due).total_seconds())
        finished.append((events[-1].ts - due).total_seconds())
    await rt.stop()
    store.close()
    latencies.sort()
    return {
        "count": count,
        "sessions_started": len(latencies),
        "sessions_completed": done(),
        "start_latency_max_s": round(max(latencies), 3),
        "start_latency_p50_s": round(statistics.median(latencies), 3),
        "start_latency_p99_s": round(latencies[int(len(latencies) * 0.99) - 1], 3),
        "last_completed_after_s": round(max(finished), 3),
        "all_within_10s": len(latencies) == count and max(latencies) <= 10.0,
        "sandbox": "none (image none, replay recording)",
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="agentctl-bench-") as home:
        os.environ["AGENTCTL_HOME"] = home
        print(json.dumps(asyncio.run(main(args.count))))
