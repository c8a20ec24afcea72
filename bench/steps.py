"""Per-step runtime overhead at equal guarantees: agentctl vs LangGraph vs DBOS, and the disk.

The same 200-step agent loop in each: a scripted model that asks for one no-op
tool call per step, the tool, and durable state after every step — agentctl's
event log in DuckDB (replay provider, an in-process no-op tool registered through
the Python API as idempotent and inline, group-committed appends; and the same
tool declared non-idempotent, which puts a durable barrier before every call), LangGraph with `SqliteSaver` and `durability="sync"`, and a DBOS
workflow of steps on a SQLite system database. All three write their durable
files to the same temp disk in the same run.

Two guarantees, compared like for like (the headline):

  durable before the side effect   agentctl_barrier (a non-idempotent tool: its
                                   `tool.started` is committed before it runs)
                                   vs LangGraph durability="sync" vs DBOS (each
                                   step's result committed before the next);
  durable eventually (pipelined)   agentctl (an idempotent tool: no barrier, the
                                   appends ride group commits) vs LangGraph
                                   durability="exit" (saved when the run ends).

Two baselines measured in the same run, on the same disk, one per step:
`raw_fsync` (append 500 bytes to a file and fdatasync it: the device's floor
for one durable write) and `raw_duckdb` (one INSERT + COMMIT on a plain DuckDB
connection: the floor of one durable commit of the store's engine). The
barrier variant commits about once per step (`agentctl_barrier_commits_per_step`
counts them), so its ratio to `raw_duckdb` is what the runtime adds.

Also `resume_ms`: fold a 1,000-event session from the log and be ready to
continue it (what a daemon does per live session on start).

Last stdout line: one JSON object with every figure (µs per step) and the ratios.
Needs the bench extra for the peers: pip install -e '.[bench]' (without it
they are reported as null and the ratios are against the baselines only).
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypedDict

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

STEPS = 200
REPEATS = 5


class State(TypedDict):  # LangGraph resolves the state's annotations at module level
    step: int
    calls: list[dict[str, Any]]
    results: list[str]


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --- agentctl ------------------------------------------------------------------------


def _recording(path: Path, steps: int) -> Path:
    lines = [{"format": "agentctl-recording", "version": 1}]
    for i in range(steps):
        lines.append(
            {"text": "", "tool_calls": [{"id": f"c{i}", "name": "noop", "args": {"n": i}}]}
        )
    lines.append({"text": "done", "tool_calls": []})
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    return path


def _noop_registry(idempotent: bool = True) -> Any:
    from pydantic import BaseModel, ConfigDict

    from agentctl.tools import Tool, ToolContext, ToolOutcome, default_registry

    class Args(BaseModel):
        model_config = ConfigDict(extra="forbid")
        n: int = 0

    def run(ctx: ToolContext, args: Args) -> ToolOutcome:
        return ToolOutcome(exit_code=0, output="")

    reg = default_registry()
    reg.register(
        Tool(
            "noop",
            "does nothing",
            Args,
            idempotent=idempotent,
            run=run,
            needs_sandbox=False,
            inline=True,
        )
    )
    return reg


async def _agentctl_once(tmp: Path, steps: int, idempotent: bool = True) -> tuple[float, str, Path]:
    from agentctl.paths import get_paths
    from agentctl.protocol import CreateSession
    from agentctl.runtime import Runtime
    from store import DuckDBEventStore

    db = tmp / f"agentctl-{time.perf_counter_ns()}.duckdb"
    store = DuckDBEventStore(db)
    rt = Runtime(store, paths=get_paths().ensure(), tools=_noop_registry(idempotent))
    await rt.start()
    rec = _recording(tmp / "rec.jsonl", steps)
    t0 = time.perf_counter()
    sid = await rt.create_session(
        CreateSession(task="loop", model=f"replay:{rec}", image="none", policy="permissive")
    )
    await rt.wait_idle(sid)
    elapsed = time.perf_counter() - t0
    status = rt.journal.state(sid).status
    assert status is not None and status.value == "completed", status
    await rt.stop()
    store.close()
    return elapsed, sid, db


COMMITS = {"n": 0}


def _count_commits() -> None:
    """Count the store's commits (on the class, so every store of the run is counted)."""
    from store import DuckDBEventStore

    original = DuckDBEventStore._commit

    def counted(self: Any, *args: Any, **kwargs: Any) -> None:
        COMMITS["n"] += 1
        original(self, *args, **kwargs)

    DuckDBEventStore._commit = counted  # type: ignore[method-assign]


def agentctl_run(tmp: Path, idempotent: bool) -> float:
    return asyncio.run(_agentctl_once(tmp, STEPS, idempotent))[0]


def raw_fsync_run(tmp: Path) -> float:
    """STEPS durable writes straight to a file: write 500 bytes, fdatasync."""
    path = tmp / f"raw-{time.perf_counter_ns()}.log"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    record = b"x" * 499 + b"\n"
    try:
        t0 = time.perf_counter()
        for _ in range(STEPS):
            os.write(fd, record)
            os.fdatasync(fd)
        return time.perf_counter() - t0
    finally:
        os.close(fd)


def raw_duckdb_run(tmp: Path) -> float:
    """STEPS single-row INSERT + COMMIT on a plain DuckDB connection, the store's schema."""
    import duckdb

    from store.migrations import apply_migrations

    conn = duckdb.connect(str(tmp / f"raw-{time.perf_counter_ns()}.duckdb"))
    apply_migrations(conn)
    data = json.dumps({"call_id": "c", "output": "x" * 420})
    sql = 'INSERT INTO events ("offset", stream, seq, ts, type, data) VALUES (?, ?, ?, now()::TIMESTAMP, ?, ?)'
    try:
        t0 = time.perf_counter()
        for i in range(1, STEPS + 1):
            conn.begin()
            conn.execute(sql, [i, "ses_raw", i, "tool.started", data])
            conn.commit()
        return time.perf_counter() - t0
    finally:
        conn.close()


def bench_resume(tmp: Path) -> tuple[float, int]:
    """Fold a session of >= 1,000 events from the log and be ready to continue it."""
    from agentctl.crashpoints import CrashPoints
    from agentctl.redact import Redactor
    from agentctl.runtime.decide import next_action
    from agentctl.runtime.journal import Journal
    from store import DuckDBEventStore

    _, sid, db = asyncio.run(_agentctl_once(tmp, 200))  # 200 steps x 5 events + framing
    samples = []
    count = 0
    for _ in range(5):
        t0 = time.perf_counter()
        store = DuckDBEventStore(db)
        journal = Journal(store, crash=CrashPoints(""), redact=Redactor({}))
        journal.load()
        state = journal.state(sid)
        next_action(state, datetime.now(UTC))
        samples.append((time.perf_counter() - t0) * 1000)
        count = state.last_seq
        store.close()
    return statistics.median(samples), count


# --- LangGraph -----------------------------------------------------------------------


def langgraph_runner(tmp: Path, durability: str = "sync") -> Callable[[], float] | None:
    try:
        import sqlite3

        from langgraph.checkpoint.sqlite import SqliteSaver
        from langgraph.graph import END, StateGraph
    except ImportError as exc:
        log(f"langgraph not installed ({exc}); pip install -e '.[bench]'")
        return None

    def model(state: State) -> dict[str, Any]:
        if state["step"] >= STEPS:
            return {"calls": []}
        return {
            "calls": [{"id": f"c{state['step']}", "name": "noop", "args": {"n": state["step"]}}]
        }

    def tool(state: State) -> dict[str, Any]:
        return {"results": [""], "step": state["step"] + 1}

    def route(state: State) -> str:
        return "tool" if state["calls"] else END

    graph = StateGraph(State)
    graph.add_node("model", model)
    graph.add_node("tool", tool)
    graph.set_entry_point("model")
    graph.add_conditional_edges("model", route, {"tool": "tool", END: END})
    graph.add_edge("tool", "model")

    runs = iter(range(1000))

    def run() -> float:
        i = next(runs)
        conn = sqlite3.connect(tmp / f"lg-{durability}-{i}.sqlite", check_same_thread=False)
        app = graph.compile(checkpointer=SqliteSaver(conn))
        t0 = time.perf_counter()
        app.invoke(
            {"step": 0, "calls": [], "results": []},
            {"configurable": {"thread_id": f"t{i}"}, "recursion_limit": 10 * STEPS},
            durability=durability,  # type: ignore[arg-type]
        )
        elapsed = time.perf_counter() - t0
        conn.close()
        return elapsed

    return run


# --- DBOS ------------------------------------------------------------------------------


def dbos_runner(tmp: Path) -> tuple[Callable[[], float], Callable[[], None]] | None:
    try:
        from dbos import DBOS
    except ImportError as exc:
        log(f"dbos not installed ({exc}); pip install -e '.[bench]'")
        return None
    import logging

    logging.getLogger("dbos").setLevel(logging.WARNING)
    DBOS(config={"name": "bench", "system_database_url": f"sqlite:///{tmp / 'dbos.sqlite'}"})

    @DBOS.step()
    def model_step(i: int) -> dict[str, Any]:
        return {"id": f"c{i}", "name": "noop", "args": {"n": i}}

    @DBOS.step()
    def tool_step(call: dict[str, Any]) -> str:
        return ""

    @DBOS.workflow()
    def agent_loop(steps: int) -> int:
        for i in range(steps):
            tool_step(model_step(i))
        return steps

    DBOS.launch()

    def run() -> float:
        t0 = time.perf_counter()
        agent_loop(STEPS)
        return time.perf_counter() - t0

    return run, DBOS.destroy


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a and b else None


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="agentctl-bench-") as tmpdir:
        tmp = Path(tmpdir)
        os.environ["AGENTCTL_HOME"] = str(tmp / "home")
        _count_commits()
        runners: dict[str, Callable[[], float]] = {
            "raw_fsync": lambda: raw_fsync_run(tmp),
            "raw_duckdb": lambda: raw_duckdb_run(tmp),
            "agentctl": lambda: agentctl_run(tmp, idempotent=True),
            "agentctl_barrier": lambda: agentctl_run(tmp, idempotent=False),
        }
        lg = langgraph_runner(tmp, "sync")
        if lg is not None:
            runners["langgraph"] = lg
        lg_exit = langgraph_runner(tmp, "exit")
        if lg_exit is not None:
            runners["langgraph_exit"] = lg_exit
        dbos = dbos_runner(tmp)
        if dbos is not None:
            runners["dbos"] = dbos[0]
        samples: dict[str, list[float]] = {name: [] for name in runners}
        commits: list[int] = []
        try:
            for _ in range(REPEATS):  # interleaved, so a noisy moment hits all alike
                for name, run in runners.items():
                    before = COMMITS["n"]
                    samples[name].append(run())
                    if name == "agentctl_barrier":
                        commits.append(COMMITS["n"] - before)
        finally:
            if dbos is not None:
                dbos[1]()
        us = {name: statistics.median(v) / STEPS * 1e6 for name, v in samples.items()}
        notes = {
            "raw_fsync": "baseline: write 500 bytes + fdatasync, per step",
            "raw_duckdb": "baseline: one DuckDB INSERT + COMMIT, per step",
            "agentctl": "pipelined: idempotent no-op tool, no write-ahead barrier",
            "agentctl_barrier": "durable first: non-idempotent tool, a barrier before every call",
            "langgraph": "SqliteSaver, durability=sync",
            "langgraph_exit": "SqliteSaver, durability=exit",
            "dbos": "SQLite system database",
        }
        for name, value in us.items():
            log(f"{name:17} {value:10.1f} us/step  ({notes[name]})")
        per_step = statistics.median(commits) / STEPS if commits else None
        resume_ms, events = bench_resume(tmp)
        log(f"{'resume':17} {resume_ms:10.1f} ms for a {events}-event session")
        get = us.get
        result = {
            **{f"{name}_us_per_step": round(value, 1) for name, value in us.items()},
            "agentctl_barrier_commits_per_step": round(per_step, 3) if per_step else None,
            # durable before the side effect
            "barrier_vs_langgraph_sync": _ratio(get("agentctl_barrier"), get("langgraph")),
            "barrier_vs_dbos": _ratio(get("agentctl_barrier"), get("dbos")),
            "barrier_vs_raw_fsync": _ratio(get("agentctl_barrier"), get("raw_fsync")),
            "barrier_vs_raw_duckdb": _ratio(get("agentctl_barrier"), get("raw_duckdb")),
            "raw_duckdb_vs_raw_fsync": _ratio(get("raw_duckdb"), get("raw_fsync")),
            # durable eventually
            "pipelined_vs_langgraph_exit": _ratio(get("agentctl"), get("langgraph_exit")),
            "resume_ms": round(resume_ms, 1),
            "resume_events": events,
        }
        print(json.dumps(result))


if __name__ == "__main__":
    main()
