"""Per-step runtime overhead: agentctl vs LangGraph (SQLite checkpointer) vs DBOS (SQLite).

The same 200-step agent loop in each: a scripted model that asks for one no-op
tool call per step, the tool, and durable state after every step — agentctl's
event log in DuckDB (replay provider, an in-process no-op tool registered through
the Python API as idempotent and inline, group-committed appends; and the same
tool declared non-idempotent, which puts a durable barrier before every call), LangGraph with `SqliteSaver` and `durability="sync"`, and a DBOS
workflow of steps on a SQLite system database. All three write their durable
files to the same temp disk in the same run.

Also `resume_ms`: fold a 1,000-event session from the log and be ready to
continue it (what a daemon does per session on start).

Last stdout line: {"agentctl_us_per_step", "langgraph_us_per_step", "dbos_us_per_step", "resume_ms", ...}
Needs the bench extra: pip install -e '.[bench]'.
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


def agentctl_run(tmp: Path, idempotent: bool) -> float:
    return asyncio.run(_agentctl_once(tmp, STEPS, idempotent))[0]


def bench_resume(tmp: Path) -> tuple[float, int]:
    """Fold a session of >= 1,000 events from the log and be ready to continue it."""
    from agentctl.crashpoints import CrashPoints
    from agentctl.redact import Redactor
    from agentctl.runtime.journal import Journal
    from agentctl.runtime.steps import next_action
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
        next_action(state)
        samples.append((time.perf_counter() - t0) * 1000)
        count = state.last_seq
        store.close()
    return statistics.median(samples), count


# --- LangGraph -----------------------------------------------------------------------


def langgraph_runner(tmp: Path) -> Callable[[], float] | None:
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
        conn = sqlite3.connect(tmp / f"lg-{i}.sqlite", check_same_thread=False)
        app = graph.compile(checkpointer=SqliteSaver(conn))
        t0 = time.perf_counter()
        app.invoke(
            {"step": 0, "calls": [], "results": []},
            {"configurable": {"thread_id": f"t{i}"}, "recursion_limit": 10 * STEPS},
            durability="sync",
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


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="agentctl-bench-") as tmpdir:
        tmp = Path(tmpdir)
        os.environ["AGENTCTL_HOME"] = str(tmp / "home")
        runners: dict[str, Callable[[], float]] = {
            "agentctl": lambda: agentctl_run(tmp, idempotent=True),
            "agentctl_barrier": lambda: agentctl_run(tmp, idempotent=False),
        }
        lg = langgraph_runner(tmp)
        if lg is not None:
            runners["langgraph"] = lg
        dbos = dbos_runner(tmp)
        if dbos is not None:
            runners["dbos"] = dbos[0]
        samples: dict[str, list[float]] = {name: [] for name in runners}
        try:
            for _ in range(REPEATS):  # interleaved, so a noisy moment hits all alike
                for name, run in runners.items():
                    samples[name].append(run())
        finally:
            if dbos is not None:
                dbos[1]()
        us = {name: statistics.median(v) / STEPS * 1e6 for name, v in samples.items()}
        notes = {
            "agentctl": "DuckDB group commits; no-op tool declared idempotent (no write-ahead barrier)",
            "agentctl_barrier": "the same tool declared non-idempotent: a durable barrier before every call",
            "langgraph": "SqliteSaver, durability=sync",
            "dbos": "SQLite system database",
        }
        for name, value in us.items():
            log(f"{name:17} {value:10.1f} us/step  ({notes[name]})")
        resume_ms, events = bench_resume(tmp)
        log(f"{'resume':17} {resume_ms:10.1f} ms for a {events}-event session")
        lg_us, dbos_us = us.get("langgraph"), us.get("dbos")
        result = {
            "agentctl_us_per_step": round(us["agentctl"], 1),
            "agentctl_barrier_us_per_step": round(us["agentctl_barrier"], 1),
            "langgraph_us_per_step": round(lg_us, 1) if lg_us else None,
            "dbos_us_per_step": round(dbos_us, 1) if dbos_us else None,
            "vs_langgraph": round(us["agentctl"] / lg_us, 3) if lg_us else None,
            "vs_dbos": round(us["agentctl"] / dbos_us, 3) if dbos_us else None,
            "resume_ms": round(resume_ms, 1),
            "resume_events": events,
        }
        print(json.dumps(result))


if __name__ == "__main__":
    main()
