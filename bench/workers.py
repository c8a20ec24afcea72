"""Benchmark: real daemons as workers on one PostgreSQL log, against one daemon on DuckDB.

Everything runs in one run, on this machine, with real daemon processes
(`python -m agentctl.daemon`, each on a home of its own) and real sessions
created through the daemon API. The model costs nothing: every session
replays a recording (`replay:PATH`), so the figures measure the runtime and
the store, not a model. Sessions have no sandbox (`image = "none"`): their
file tools fail at once with "this session has no sandbox" and are still
recorded like any call (tool.proposed, tool.started, tool.finished), so no
Docker engine is involved either.

Two workloads, each R rounds of S sessions of K steps created at once
(round-robin over the daemons' APIs), policy `permissive`:

  pipelined  every step reads a file (idempotent: no write-ahead barrier, the
             appends ride group commits);
  barrier    every step writes a file (not idempotent: its `tool.started` is
             committed before the call runs, one durable commit per step).

Run on: one daemon on DuckDB (the baseline, its own data folder), then 1, 2
and 4 worker daemons on one fresh PostgreSQL database each (a private server
started for the run: tests/support/postgres.py, fsync on).

Figures per (store, workers, workload), from the events' own timestamps:

  events_per_s   the events of all S sessions / (last event - first
                 `session.created`), the round of the median rate (every
                 round's rate is in `events_per_s_rounds`);
  step_ms_p50    the median session's (last event - first event) / K: the
                 wall time of one step of a session while the others run
                 (it depends on how the sessions were spread and interleaved,
                 not only on the cost of a step: compare events_per_s);
  solo_step_ms   (last event - first event) / K of one session of K steps
                 run alone (no load), the median of 3: the per-step overhead.

Lease takeover (PostgreSQL, two workers, per `lease_s`): one session runs
steps that each wait ~0.1 s (the `wait` tool: a timer, the session holds
nothing meanwhile), its owner is killed with SIGKILL, and a fresh worker is
started beside the survivor for the next trial (so each trial kills the
session's current owner). Measured from the moment of the kill (this
process's wall clock, the same machine as the database):

  lease_s_after_kill   until the new owner's row in `lease_history` (its
                       `acquired_at`, the database's clock);
  event_s_after_kill   until the first event of the session written by the
                       new owner (seq above the lease's `from_seq`, its `ts`).

The owner renews every lease_s / 3, so its lease expires between
2/3 lease_s and lease_s after the kill, and another worker claims it at its
next round, at most lease_s / 3 later: between about 2/3 and 4/3 of lease_s
(`bound_s` is the upper one), plus the time to fold and adopt the session.

Output: one JSON object per line on stdout (`"kind": "throughput"`,
`"kind": "takeover"`), the last one `"kind": "summary"` with the ratios
against the DuckDB baseline of this run; a readable table on stderr.

    .venv/bin/python bench/workers.py [--quick] [--sessions S] [--steps K] [--rounds R]
        [--workers 1,2,4] [--lease 1.5,3] [--trials N]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agentctl.client import Client  # noqa: E402
from agentctl.errors import NotFoundError  # noqa: E402
from agentctl.paths import Paths, get_paths  # noqa: E402
from agentctl.protocol import CreateSession, Envelope  # noqa: E402
from tests.support.daemon import DaemonProcess, reply  # noqa: E402
from tests.support.postgres import PostgresServer  # noqa: E402

THROUGHPUT_LEASE_S = 3.0
SOLO_REPEATS = 3
ENDED = {"completed", "failed", "cancelled"}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def emit(record: dict[str, Any]) -> None:
    print(json.dumps(record), flush=True)


# --- recordings ------------------------------------------------------------------------


def write_recording(path: Path, responses: list[dict[str, Any]]) -> str:
    lines = [{"format": "agentctl-recording", "version": 1}, *responses]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return f"replay:{path}"


def steps_of(workload: str, steps: int) -> list[dict[str, Any]]:
    calls: list[tuple[str, dict[str, Any]]]
    if workload == "pipelined":
        calls = [("read_file", {"path": f"f{i}.txt"}) for i in range(steps)]
    elif workload == "barrier":
        calls = [("write_file", {"path": f"f{i}.txt", "content": "x"}) for i in range(steps)]
    elif workload == "waits":  # the arguments differ, or the loop guard stops the session
        calls = [("wait", {"seconds": round(0.1 + i * 1e-6, 6)}) for i in range(steps)]
    else:
        raise ValueError(workload)
    return [*(reply(f"step {i}", call, step=i) for i, call in enumerate(calls)), reply("done")]


# --- daemons ---------------------------------------------------------------------------


@dataclass
class Cluster:
    """Daemons started for one measurement; all of them are stopped at its end."""

    root: Path
    url: str | None  # None: DuckDB, one daemon
    lease_s: float
    daemons: list[tuple[DaemonProcess, Client]] = field(default_factory=list)
    _count: int = 0

    def start(self) -> tuple[DaemonProcess, Client]:
        self._count += 1
        name = f"{'pg' if self.url else 'duck'}-{id(self):x}-{self._count}"
        home = self.root / name
        paths = _paths(home)
        paths.config_file.write_text(f"[daemon]\nlease_s = {self.lease_s}\n")
        env = {"AGENTCTL_HOME": str(home)}
        if self.url is not None:
            env["AGENTCTL_STORE_URL"] = self.url
        process = DaemonProcess(paths, [], env, self.root / f"{name}.out")
        client = process.wait_ready(timeout=60)
        self.daemons.append((process, client))
        return process, client

    def stop(self) -> None:
        for process, client in self.daemons:
            client.close()
            if process.process.poll() is None:
                code = process.terminate(60)
                if code != 0:
                    log(process.output()[-3000:])
                    raise RuntimeError(f"daemon {process.pid} exited with {code}")


def _paths(home: Path) -> Paths:
    previous = os.environ.get("AGENTCTL_HOME")
    os.environ["AGENTCTL_HOME"] = str(home)
    try:
        return get_paths().ensure()
    finally:
        if previous is None:
            del os.environ["AGENTCTL_HOME"]
        else:
            os.environ["AGENTCTL_HOME"] = previous


@contextmanager
def cluster(root: Path, url: str | None, workers: int, lease_s: float) -> Iterator[Cluster]:
    group = Cluster(root, url, lease_s)
    try:
        for _ in range(workers):
            group.start()
        yield group
    finally:
        group.stop()


def wait_ended(client: Client, sids: list[str], timeout: float) -> None:
    pending = set(sids)
    deadline = time.monotonic() + timeout
    while pending:
        for sid in list(pending):
            try:
                status = client.session(sid).status.value
            except NotFoundError:  # made through another daemon, not folded here yet
                continue
            if status == "completed":
                pending.discard(sid)
            elif status != "running":  # the workloads never wait, pause or fail
                raise RuntimeError(f"session {sid} is {status}, not completed: a runtime bug?")
        if pending and time.monotonic() > deadline:
            raise RuntimeError(f"{len(pending)} sessions not completed after {timeout}s")
        if pending:
            time.sleep(0.05)


# --- throughput --------------------------------------------------------------------------


def _spans(events: list[Envelope]) -> tuple[float, float]:
    return events[0].ts.timestamp(), events[-1].ts.timestamp()


def run_sessions(
    group: Cluster, model: str, sessions: int, steps: int
) -> tuple[list[list[Envelope]], list[str]]:
    clients = [c for _, c in group.daemons]
    sids = [
        clients[i % len(clients)]
        .create_session(CreateSession(task=f"t{i}", model=model, image="none", policy="permissive"))
        .id
        for i in range(sessions)
    ]
    wait_ended(clients[0], sids, timeout=120 + sessions * steps * 0.05)
    logs = [list(clients[0].events(sid)) for sid in sids]
    for sid, events in zip(sids, logs, strict=True):
        finished = sum(e.type == "tool.finished" for e in events)
        if finished != steps or [e.seq for e in events] != list(range(1, len(events) + 1)):
            raise RuntimeError(f"session {sid}: {finished} tool.finished of {steps}, or a gap")
    return logs, sids


def owners(url: str) -> dict[str, int]:
    import psycopg

    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT worker, count(DISTINCT session) FROM lease_history GROUP BY worker"
        ).fetchall()
    return {str(w): int(n) for w, n in rows}


def throughput(
    root: Path,
    url: str | None,
    workers: int,
    recordings: dict[str, str],
    sessions: int,
    steps: int,
    rounds: int,
) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    started = time.monotonic()
    with cluster(root, url, workers, THROUGHPUT_LEASE_S) as group:
        startup = time.monotonic() - started
        for workload, model in recordings.items():
            solos = []
            for _ in range(SOLO_REPEATS):
                [solo_log], _ = run_sessions(group, model, 1, steps)
                first, last = _spans(solo_log)
                solos.append((last - first) / steps * 1000)
            solo_ms = statistics.median(solos)
            batches = []
            for _ in range(rounds):
                logs, _ = run_sessions(group, model, sessions, steps)
                begin = min(_spans(e)[0] for e in logs)
                end = max(_spans(e)[1] for e in logs)
                per_step = [(b - a) / steps * 1000 for a, b in map(_spans, logs)]
                batches.append((sum(len(e) for e in logs), end - begin, per_step))
            count = batches[0][0]
            rates = [n / seconds for n, seconds, _ in batches]
            # the round of the median rate stands for the workload (all rounds listed)
            n, seconds, per_step = sorted(batches, key=lambda b: b[0] / b[1])[len(batches) // 2]
            results.append(
                {
                    "kind": "throughput",
                    "store": "postgres" if url else "duckdb",
                    "workers": workers,
                    "workload": workload,
                    "sessions": sessions,
                    "steps": steps,
                    "rounds": rounds,
                    "events": count,
                    "seconds": round(seconds, 3),
                    "events_per_s": round(n / seconds, 1),
                    "events_per_s_rounds": [round(r, 1) for r in rates],
                    "steps_per_s": round(sessions * steps / seconds, 1),
                    "step_ms_p50": round(statistics.median(per_step), 3),
                    "step_ms_max": round(max(per_step), 3),
                    "solo_step_ms": round(solo_ms, 3),
                    "startup_s": round(startup, 2),
                }
            )
        if url is not None:
            spread = sorted(owners(url).values(), reverse=True)
            for result in results:
                result["sessions_per_worker"] = spread  # over both workloads
    return results


# --- takeover ------------------------------------------------------------------------------


def _history(conn: Any, sid: str) -> list[tuple[str, str | None, int, float]]:
    rows = conn.execute(
        "SELECT worker, previous, from_seq, extract(epoch FROM acquired_at) "
        "FROM lease_history WHERE session = %s ORDER BY id",
        [sid],
    ).fetchall()
    return [(str(w), None if p is None else str(p), int(s), float(t)) for w, p, s, t in rows]


def takeover(
    root: Path, server: PostgresServer, lease_s: float, trials: int, waits: str
) -> list[dict[str, Any]]:
    import psycopg

    url = server.new_database()
    results = []
    with cluster(root, url, 2, lease_s) as group, psycopg.connect(url, autocommit=True) as conn:
        client = group.daemons[0][1]
        sid = client.create_session(
            CreateSession(task="long", model=waits, image="none", policy="permissive")
        ).id
        by_pid = {p.pid: p for p, _ in group.daemons}
        for trial in range(trials):
            deadline = time.monotonic() + 30
            while True:  # the session is owned and has moved on since the last takeover
                history = _history(conn, sid)
                (row,) = conn.execute(
                    "SELECT coalesce(max(seq), 0) FROM events WHERE stream = %s", [sid]
                ).fetchall()
                if history and int(row[0]) > history[-1][2] + 3:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"session {sid} is not running: {history}")
                time.sleep(0.02)
            owner = history[-1][0]
            victim = by_pid[int(owner.split(":")[1])]
            victim.process.send_signal(signal.SIGKILL)
            killed = time.time()
            victim.process.wait(10)
            seq_at_kill = int(row[0])
            deadline = time.monotonic() + lease_s * 4 + 30
            while True:
                history = _history(conn, sid)
                new = history[-1]
                if new[1] == owner:
                    first = conn.execute(
                        "SELECT seq, extract(epoch FROM ts), type FROM events "
                        "WHERE stream = %s AND seq > %s ORDER BY seq LIMIT 1",
                        [sid, new[2]],
                    ).fetchall()
                    if first:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"no takeover of {sid} after the kill: {history}")
                time.sleep(0.01)
            [(_, ts, kind)] = first
            results.append(
                {
                    "kind": "takeover",
                    "lease_s": lease_s,
                    "trial": trial + 1,
                    "lease_s_after_kill": round(new[3] - killed, 3),
                    "event_s_after_kill": round(float(ts) - killed, 3),
                    "bound_s": round(lease_s + lease_s / 3, 3),
                    "seq_at_kill": seq_at_kill,
                    "from_seq": new[2],
                    "first_event": str(kind),
                }
            )
            log(
                f"  takeover lease_s={lease_s}: lease {results[-1]['lease_s_after_kill']:.2f} s,"
                f" first event ({kind}) {results[-1]['event_s_after_kill']:.2f} s after SIGKILL"
            )
            if trial + 1 < trials:
                process, _ = group.start()  # a fresh worker beside the survivor
                by_pid[process.pid] = process
        client = next(c for p, c in group.daemons if p.process.poll() is None)
        client.cancel(sid, "bench over")
        wait = time.monotonic() + 30
        while client.session(sid).status.value not in ENDED:
            if time.monotonic() > wait:
                raise RuntimeError(f"session {sid} was not cancelled")
            time.sleep(0.05)
    return results


# --- main --------------------------------------------------------------------------------------


def _floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds' worth: for a test")
    parser.add_argument("--sessions", type=int, default=None, help="sessions per workload")
    parser.add_argument("--steps", type=int, default=None, help="steps per session")
    parser.add_argument("--workers", default=None, help="worker counts, e.g. 1,2,4")
    parser.add_argument("--lease", default=None, help="lease_s values, e.g. 1.5,3")
    parser.add_argument("--rounds", type=int, default=None, help="batches per workload")
    parser.add_argument("--trials", type=int, default=None, help="kills per lease_s")
    args = parser.parse_args()
    sessions = args.sessions or (3 if args.quick else 32)
    steps = args.steps or (5 if args.quick else 40)
    counts = [int(w) for w in _floats(args.workers or ("1,2" if args.quick else "1,2,4"))]
    leases = _floats(args.lease or ("1.5" if args.quick else "1.5,3"))
    trials = args.trials or (1 if args.quick else 3)
    rounds = args.rounds or (1 if args.quick else 3)

    began = time.monotonic()
    server = PostgresServer().start()
    records: list[dict[str, Any]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="agentctl-bench-workers-") as tmp:
            root = Path(tmp)
            models = {
                w: write_recording(root / f"{w}.jsonl", steps_of(w, steps))
                for w in ("pipelined", "barrier")
            }
            waits = write_recording(root / "waits.jsonl", steps_of("waits", 5000))
            log(
                f"workers bench: {rounds} x {sessions} sessions x {steps} steps,"
                " replayed, image none"
            )
            runs: list[tuple[str | None, int]] = [(None, 1)]
            runs += [(server.new_database(), n) for n in counts]
            for url, n in runs:
                for record in throughput(root, url, n, models, sessions, steps, rounds):
                    records.append(record)
                    emit(record)
                    log(
                        f"  {record['store']:8} x{n} {record['workload']:9}"
                        f" {record['events_per_s']:8.0f} ev/s"
                        f"  step p50 {record['step_ms_p50']:7.2f} ms"
                        f"  solo {record['solo_step_ms']:6.2f} ms/step"
                        f"  (start-up {record['startup_s']} s)"
                    )
            for lease_s in leases:
                for record in takeover(root, server, lease_s, trials, waits):
                    records.append(record)
                    emit(record)
    finally:
        server.stop()
    emit(summary(records, time.monotonic() - began))


def summary(records: list[dict[str, Any]], elapsed: float) -> dict[str, Any]:
    base = {
        r["workload"]: r for r in records if r["kind"] == "throughput" and r["store"] == "duckdb"
    }
    ratios: dict[str, float] = {}
    for r in records:
        if r["kind"] != "throughput" or r["store"] != "postgres":
            continue
        b = base[r["workload"]]
        key = f"{r['workload']}_pg{r['workers']}"
        ratios[f"{key}_events_per_s_over_duckdb"] = round(r["events_per_s"] / b["events_per_s"], 3)
        ratios[f"{key}_step_ms_over_duckdb"] = round(r["step_ms_p50"] / b["step_ms_p50"], 3)
        ratios[f"{key}_solo_step_ms_over_duckdb"] = round(r["solo_step_ms"] / b["solo_step_ms"], 3)
    lease: dict[str, list[float]] = {}
    event: dict[str, list[float]] = {}
    for r in records:
        if r["kind"] == "takeover":
            lease.setdefault(str(r["lease_s"]), []).append(r["lease_s_after_kill"])
            event.setdefault(str(r["lease_s"]), []).append(r["event_s_after_kill"])
    return {
        "kind": "summary",
        "baseline": "one daemon on DuckDB, same run",
        "ratios": ratios,
        "takeover_s": {
            k: {
                "lease_min": min(lease[k]),
                "lease_max": max(lease[k]),
                "event_min": min(event[k]),
                "event_max": max(event[k]),
            }
            for k in lease
        },
        "seconds": round(elapsed, 1),
    }


if __name__ == "__main__":
    main()
