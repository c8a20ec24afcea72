"""Benchmark: bytes of log per step of a long session (issue #22: linear, not quadratic).

A real session runs in-process on the real runtime and a real DuckDB log: a
recording of STEPS model responses, each calling an in-process tool whose
output is 5 KB (the hex of seeded random bytes, different each step, so the
file's compression cannot hide the growth), then a final answer. It prints, at 50, 100 and 200 steps:

  event_bytes       the JSON of every event's data the log holds so far
  per_step          event_bytes / steps
  file_bytes        the DuckDB file of a session of that many steps alone (its own
                    run, the file checkpointed and closed)
                    (informative only: DuckDB allocates its file in 256 KB blocks
                    over a ~2 MB base, too coarse at this size for a fit)
  copying_bytes     the baseline, computed in the same run: what the log would hold
                    if each `model.requested` stored the whole conversation it sends
                    (the history-copying engines' failure)

and the fitted exponent of each (the slope of log(bytes) against log(steps):
1 is linear, 2 quadratic), and the ratio of the copying baseline to the log.

It also measures whether agentctl stores the conversation per request: the
bytes of all `model.requested` events (only the attempt number and the
request's estimated size). Last, the longest session again with a context
window (`--window`, 8192 tokens): its compactions, its log against the run
without one, and the largest request of each (`model.requested.context_tokens`).

    .venv/bin/python bench/log_growth.py [--steps 50,100,200] [--output-kb 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pydantic import BaseModel, ConfigDict

from agentctl.paths import get_paths
from agentctl.protocol import ContextPolicy, CreateSession, SessionStatus
from agentctl.runtime import Runtime
from agentctl.runtime.decide import to_messages
from agentctl.state import SessionState, apply_event
from agentctl.tools import Tool, ToolContext, ToolOutcome, default_registry
from store import DuckDBEventStore


class Args(BaseModel):
    model_config = ConfigDict(extra="forbid")
    n: int


def emit_tool(kb: int) -> Tool:
    def run(ctx: ToolContext, args: Args) -> ToolOutcome:
        rng = random.Random(args.n)  # hex of seeded random bytes: the same in every run
        return ToolOutcome(exit_code=0, output=rng.randbytes(kb * 512).hex())

    return Tool("emit", "print 5 KB", Args, idempotent=True, run=run, needs_sandbox=False)


def recording(path: Path, steps: int) -> Path:
    lines: list[dict[str, object]] = [{"format": "agentctl-recording", "version": 1}]
    for n in range(1, steps + 1):
        call = {"id": f"c{n}", "name": "emit", "args": {"n": n}}
        lines.append({"text": f"step {n}", "tool_calls": [call]})
    lines.append({"text": "done", "tool_calls": []})
    for n in range(1, steps + 1):  # summaries, for a run with a window (one per compaction)
        lines.append({"kind": "compaction", "text": f"summary {n}: emitted up to here"})
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    return path


async def run_session(
    folder: Path, steps: int, kb: int, window: int | None = None
) -> tuple[list[object], int]:
    """One session of `steps` steps; its events and the size of its DuckDB file."""
    db = folder / f"events-{steps}-{window}.duckdb"
    registry = default_registry()
    registry.register(emit_tool(kb))
    store = DuckDBEventStore(db)
    rt = Runtime(store, paths=get_paths().ensure(), tools=registry)
    await rt.start()
    rec = recording(folder / f"r{steps}.jsonl", steps)
    req = CreateSession(
        task="emit",
        model=f"replay:{rec}",
        image="none",
        policy="permissive",
        context=ContextPolicy(window=window),
    )
    sid = await rt.create_session(req)
    while True:
        await rt.wait_idle(sid)
        await asyncio.sleep(0)
        task = rt._tasks.get(sid)
        if task is None or task.done():
            break
    assert rt.journal.state(sid).status is SessionStatus.COMPLETED, rt.journal.state(sid).reason
    events = list(store.read_stream(sid))
    await rt.stop()
    store.close()
    return events, db.stat().st_size


def exponent(xs: list[int], ys: list[float]) -> float:
    lx = [math.log(x) for x in xs]
    ly = [math.log(y) for y in ys]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    num = sum((a - mx) * (b - my) for a, b in zip(lx, ly, strict=True))
    return num / sum((a - mx) ** 2 for a in lx)


def measure(events: list[object], marks: list[int]) -> dict[int, dict[str, int]]:
    """event bytes, copying-baseline bytes and model.requested bytes after each mark of steps."""
    state = SessionState()
    out: dict[int, dict[str, int]] = {}
    total = copying = requested = 0
    for event in events:
        size = len(json.dumps(event.data, separators=(",", ":")))  # type: ignore[attr-defined]
        total += size
        if event.type == "model.requested":  # type: ignore[attr-defined]
            requested += size
            conversation = [
                {"role": m.role, "content": m.content, "tool_call_id": m.tool_call_id}
                for m in to_messages(state)
            ]
            copying += size + len(json.dumps(conversation, separators=(",", ":")))
        else:
            copying += size
        apply_event(state, event)  # type: ignore[arg-type]
        if event.type == "model.responded" and state.steps in marks:  # type: ignore[attr-defined]
            out[state.steps] = {
                "event_bytes": total,
                "copying_bytes": copying,
                "requested_bytes": requested,
            }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", default="50,100,200")
    parser.add_argument("--output-kb", type=int, default=5)
    parser.add_argument("--window", type=int, default=8192, help="the compacting run's window")
    args = parser.parse_args()
    marks = [int(s) for s in args.steps.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["AGENTCTL_HOME"] = str(Path(tmp) / "home")
        folder = Path(tmp)
        files: dict[int, int] = {}
        longest: list[object] = []
        for steps in marks:
            events, files[steps] = asyncio.run(run_session(folder, steps, args.output_kb))
            if steps == max(marks):
                longest = events
        figures = measure(longest, marks)
        top = max(marks)
        compacted, _ = asyncio.run(run_session(folder, top, args.output_kb, args.window))
    rows = []
    for steps in marks:
        f = figures[steps]
        row = {
            "steps": steps,
            "event_bytes": f["event_bytes"],
            "per_step": round(f["event_bytes"] / steps),
            "file_bytes": files[steps],
            "file_per_step": round(files[steps] / steps),
            "copying_bytes": f["copying_bytes"],
            "copying_per_step": round(f["copying_bytes"] / steps),
            "copying_over_log": round(f["copying_bytes"] / f["event_bytes"], 2),
            "model_requested_bytes": f["requested_bytes"],
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    fit = {
        name: round(exponent(marks, [float(r[name]) for r in rows]), 3)
        for name in ("event_bytes", "copying_bytes")
    }
    print(
        json.dumps({"exponent_vs_steps": fit, "output_kb": args.output_kb}),
        flush=True,
    )

    def sizes(events: list[object]) -> list[int]:
        return [e.data["context_tokens"] for e in events if e.type == "model.requested"]  # type: ignore[attr-defined]

    with_window = sum(
        len(json.dumps(e.data, separators=(",", ":")))  # type: ignore[attr-defined]
        for e in compacted
    )
    summary = {
        "window": args.window,
        "steps": top,
        "compactions": sum(1 for e in compacted if e.type == "context.compacted"),  # type: ignore[attr-defined]
        "event_bytes": with_window,
        "per_step": round(with_window / top),
        "over_log_without": round(with_window / figures[top]["event_bytes"], 3),
        "max_request_tokens": max(sizes(compacted)),
        "max_request_tokens_without": max(sizes(longest)),
    }
    print(json.dumps({"with_compaction": summary}), flush=True)


if __name__ == "__main__":
    main()
