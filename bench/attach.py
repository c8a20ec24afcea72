"""Attach backfill: how long a client takes to receive a 10,000-event session (docs/design.md §12: < 0.5 s).

Writes one completed session of exactly 10,000 events straight into a store
in a temporary AGENTCTL_HOME, starts a real daemon on it, then attaches with
`Client.events(session, after=0)` five times and takes the median of the
wall time from the request to the last `Envelope` parsed. Also reports the
raw NDJSON transfer (bytes only, no parsing) to show where the time goes.

    .venv/bin/python bench/attach.py

The last stdout line is `{"backfill_10k_ms": ...}`.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Run as a script, bench/ comes first on sys.path, where bench/store.py would
# shadow the `store` package: put the repository root there instead.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

EVENTS = 10_000
RUNS = 5


def build_session(database: Path) -> str:
    from agentctl import __version__
    from agentctl.protocol import (
        EventData,
        ModelRequested,
        ModelResponded,
        SandboxConfig,
        SessionCreated,
        SessionStatus,
        SessionStatusChanged,
        ToolCallData,
        ToolFinished,
        ToolProposed,
        ToolStarted,
        UsageData,
        event_data,
    )
    from store import DuckDBEventStore, NewEvent

    def event(data: EventData) -> NewEvent:
        return NewEvent(data.TYPE, event_data(data))

    session = "ses_bench_attach"
    events = [
        event(
            SessionCreated(
                task="bench",
                model="replay:bench.jsonl",
                tools=["read_file"],
                policy={},
                sandbox=SandboxConfig(image=None),
                version=__version__,
            ),
        ),
        event(SessionStatusChanged(status=SessionStatus.RUNNING)),
    ]
    step = 0
    while len(events) + 5 <= EVENTS - 3:
        call = f"call_{step}"
        args = {"path": f"src/module_{step}.py"}
        events += [
            event(ModelRequested(attempt=1)),
            event(
                ModelResponded(
                    text=f"Reading module {step} to see what it does.",
                    tool_calls=[ToolCallData(id=call, name="read_file", args=args)],
                    usage=UsageData(input_tokens=900 + step, output_tokens=40),
                    latency_ms=812.5,
                ),
            ),
            event(
                ToolProposed(call_id=call, name="read_file", args=args, tier="allow", rule="r"),
            ),
            event(
                ToolStarted(call_id=call, name="read_file", args=args, idempotency_key=call),
            ),
            event(
                ToolFinished(call_id=call, exit_code=0, output="x = 1\n" * 20, duration_ms=3.2),
            ),
        ]
        step += 1
    events += [
        event(ModelRequested(attempt=1)),
        event(ModelResponded(text="All done.")),
        event(SessionStatusChanged(status=SessionStatus.COMPLETED)),
    ]
    assert len(events) == EVENTS, len(events)
    with DuckDBEventStore(database) as store:
        for start in range(0, EVENTS, 1000):
            store.append(session, events[start : start + 1000], start + 1)
    return session


def main() -> int:
    home = Path(tempfile.mkdtemp(prefix="agentctl-bench-attach-"))
    os.environ["AGENTCTL_HOME"] = str(home)
    from agentctl.client import Client
    from agentctl.errors import DaemonError
    from agentctl.paths import get_paths

    paths = get_paths().ensure()
    session = build_session(paths.database)
    daemon = subprocess.Popen(
        [sys.executable, "-m", "agentctl.daemon", "--log-level", "warning"],
        stdin=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        client = Client(paths.socket)
        deadline = time.monotonic() + 60
        while True:
            try:
                client.health()
                break
            except DaemonError:
                if time.monotonic() > deadline or daemon.poll() is not None:
                    raise
                time.sleep(0.05)

        def attach() -> float:
            started = time.perf_counter()
            seqs = [event.seq for event in client.events(session, after=0)]
            elapsed = (time.perf_counter() - started) * 1000
            assert seqs == list(range(1, EVENTS + 1)), "backfill is not the exact log"
            return elapsed

        def raw() -> float:
            started = time.perf_counter()
            with client._http.stream("GET", f"/v1/sessions/{session}/events") as response:
                size = sum(len(chunk) for chunk in response.iter_bytes())
            elapsed = (time.perf_counter() - started) * 1000
            assert size > 0
            return elapsed

        attach()  # warm-up: first read of the file, imports, connection
        parsed = [attach() for _ in range(RUNS)]
        transfer = [raw() for _ in range(RUNS)]
        client.close()
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(30)

    median = statistics.median(parsed)
    print(
        f"attach backfill of {EVENTS} events, median of {RUNS}: {median:.1f} ms "
        f"(runs: {', '.join(f'{t:.1f}' for t in parsed)}); "
        f"raw NDJSON transfer without parsing: {statistics.median(transfer):.1f} ms; "
        f"target < 500 ms: {'met' if median < 500 else 'MISSED'}",
        file=sys.stderr,
    )
    print(json.dumps({"backfill_10k_ms": round(median, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
