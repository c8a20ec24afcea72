"""bench/workers.py --quick runs end to end (real daemons, a real PostgreSQL) and prints its shape.

The figures themselves are the machine's; what is checked is that every
measurement the bench promises is there, is a measurement (positive, from
sessions that completed), and that the ratios are against the DuckDB run of
the same invocation. PostgreSQL missing fails the bench, so this test fails:
`make postgres` installs it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_workers_bench_quick_prints_every_figure_and_the_ratios() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "workers.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert all(isinstance(r, dict) for r in records)
    runs = [r for r in records if r["kind"] == "throughput"]
    assert {(r["store"], r["workers"], r["workload"]) for r in runs} == {
        (store, n, workload)
        for store, n in (("duckdb", 1), ("postgres", 1), ("postgres", 2))
        for workload in ("pipelined", "barrier")
    }
    for r in runs:
        assert r["sessions"] == 3 and r["steps"] == 5
        # every step left at least model.requested/responded and tool.proposed/started/finished
        assert r["events"] >= r["sessions"] * r["steps"] * 5
        assert r["events_per_s"] > 0 and r["seconds"] > 0
        assert r["solo_step_ms"] > 0 and 0 < r["step_ms_p50"] <= r["step_ms_max"]
        if r["store"] == "postgres":
            # every session (3 + 3 solo per workload) was acquired, by every worker
            spread = r["sessions_per_worker"]
            assert len(spread) == r["workers"] and sum(spread) == 12, spread
        else:
            assert "sessions_per_worker" not in r
    [takeover] = [r for r in records if r["kind"] == "takeover"]
    assert takeover["lease_s"] == 1.5
    # the lease expired (at least 2/3 of lease_s after the last renewal) before it moved
    assert 0.9 <= takeover["lease_s_after_kill"] <= takeover["event_s_after_kill"]
    assert takeover["event_s_after_kill"] < takeover["bound_s"] + 5
    assert takeover["from_seq"] >= takeover["seq_at_kill"]
    summary = records[-1]
    assert summary["kind"] == "summary" and records.count(summary) == 1
    duck = {r["workload"]: r for r in runs if r["store"] == "duckdb"}
    for r in runs:
        if r["store"] == "postgres":
            key = f"{r['workload']}_pg{r['workers']}_events_per_s_over_duckdb"
            expected = r["events_per_s"] / duck[r["workload"]]["events_per_s"]
            assert abs(summary["ratios"][key] - expected) < 0.01
    assert len(summary["ratios"]) == 3 * 4
    assert summary["takeover_s"]["1.5"]["event_max"] == takeover["event_s_after_kill"]
