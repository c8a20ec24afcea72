"""Per-step runtime overhead: agentctl vs LangGraph (SQLite checkpointer) vs DBOS (SQLite).

The same 200-step agent loop in each: a scripted model that asks for one no-op
tool call per step, the tool, and durable state after every step — agentctl's
event log in DuckDB (replay provider, an in-process no-op tool, group-committed
appends), LangGraph with `SqliteSaver` and `durability="sync"`, and a DBOS
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
from pathlib import Path
from typing import Any, TypedDict

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

STEPS = 200
REPEATS = 3


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
        lines.append({"text": "", "tool_calls": [{"id": f"c{i}", "name": "noop", "args": {"n": i}}]})
    lines.append({"text": "done", "tool_calls": []})
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    return path


def _noop_registry() -> Any:
    from pydantic import BaseModel, ConfigDict

    from agentctl.tools import Tool, ToolContext, ToolOutcome, default_registry

    class Args(BaseModel):
        model_config = ConfigDict(extra="forbid")
        n: int = 0

    def run(ctx: ToolContext, args: Args) -> ToolOutcome:
        return ToolOutcome(exit_code=0, output="")

    reg = default_registry()
    reg.register(Tool("noop", "does nothing", Args, idempotent=True, run=run, needs_sandbox=False))
    return reg


async def _agentctl_once(tmp: Path, steps: int) -> tuple[float, str, Path]:
    from agentctl.paths import get_paths
    from agentctl.protocol import CreateSession
    from agentctl.runtime import Runtime
    from store import DuckDBEventStore

    db = tmp / f"agentctl-{time.perf_counter_ns()}.duckdb"
    store = DuckDBEventStore(db)
    rt = Runtime(store, paths=get_paths().ensure(), tools=_noop_registry())
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


def bench_agentctl(tmp: Path) -> float:
    times = [asyncio.run(_agentctl_once(tmp, STEPS))[0] for _ in range(REPEATS)]
    return statistics.median(times) / STEPS * 1e6


def bench_resume(tmp: Path) -> tuple[float, int]:
    """Fold a session of >= 1,000 events from the log and be ready to continue it."""
    from agentctl.runtime.journal import Journal
    from agentctl.crashpoints import CrashPoints
    from agentctl.redact import Redactor
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


def bench_langgraph(tmp: Path) -> float | None:
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
        return {"calls": [{"id": f"c{state['step']}", "name": "noop", "args": {"n": state["step"]}}]}

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

    times = []
    for i in range(REPEATS):
        conn = sqlite3.connect(tmp / f"lg-{i}.sqlite", check_same_thread=False)
        app = graph.compile(checkpointer=SqliteSaver(conn))
        t0 = time.perf_counter()
        app.invoke(
            {"step": 0, "calls": [], "results": []},
            {"configurable": {"thread_id": f"t{i}"}, "recursion_limit": 10 * STEPS},
            durability="sync",
        )
        times.append(time.perf_counter() - t0)
        conn.close()
    return statistics.median(times) / STEPS * 1e6


# --- DBOS ------------------------------------------------------------------------------


def bench_dbos(tmp: Path) -> float | None:
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
    times = []
    try:
        for _ in range(REPEATS):
            t0 = time.perf_counter()
            agent_loop(STEPS)
            times.append(time.perf_counter() - t0)
    finally:
        DBOS.destroy()
    return statistics.median(times) / STEPS * 1e6


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="agentctl-bench-") as tmpdir:
        tmp = Path(tmpdir)
        os.environ["AGENTCTL_HOME"] = str(tmp / "home")
        agentctl_us = bench_agentctl(tmp)
        log(f"agentctl   {agentctl_us:10.1f} us/step (DuckDB, durable group commits)")
        lg = bench_langgraph(tmp)
        if lg is not None:
            log(f"langgraph  {lg:10.1f} us/step (SqliteSaver, durability=sync)")
        dbos = bench_dbos(tmp)
        if dbos is not None:
            log(f"dbos       {dbos:10.1f} us/step (SQLite system database)")
        resume_ms, events = bench_resume(tmp)
        log(f"resume     {resume_ms:10.1f} ms for a {events}-event session")
        result = {
            "agentctl_us_per_step": round(agentctl_us, 1),
            "langgraph_us_per_step": round(lg, 1) if lg else None,
            "dbos_us_per_step": round(dbos, 1) if dbos else None,
            "vs_langgraph": round(agentctl_us / lg, 3) if lg else None,
            "vs_dbos": round(agentctl_us / dbos, 3) if dbos else None,
            "resume_ms": round(resume_ms, 1),
            "resume_events": events,
        }
        print(json.dumps(result))


if __name__ == "__main__":
    main()
