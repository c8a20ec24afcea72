"""Benchmark the whole fork: from `Runtime.fork` to a forked container that has answered.

Builds, in-process (a `Runtime` on a real DuckDB store and the real Docker
sandbox), a session of STEPS steps that each write a file, so it has STEPS
checkpoints. Then, RUNS times, forks it at a checkpoint in the middle and
times `runtime.fork(...)` plus `driver.find(fork).exec("true")`: the log
copy, the container from the checkpoint image, the events that say so, and
the first command answered. The fork goes on with a recorded `sleep`, so its
actor runs alongside as it would in the daemon; it is cancelled after each
measurement.

To show where the time goes, the bench wraps (on its own instances, not in
the runtime's code) the calls a fork makes: reading the parent's log,
copying it, the Docker calls, the appends.

A readable summary goes to stderr; the last stdout line is one JSON object
`{"fork_ms": median, ...}`. Target (docs/design.md §12): fork_ms < 1000.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

STEPS = 12
RUNS = 5
TARGET_MS = 1000.0


def write_recording(path: Path, responses: list[dict[str, Any]]) -> Path:
    lines = [{"format": "agentctl-recording", "version": 1}, *responses]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def shell(command: str, call_id: str) -> dict[str, Any]:
    return {
        "text": command,
        "tool_calls": [{"id": call_id, "name": "shell", "args": {"command": command}}],
    }


class Timings:
    """Wall time spent in wrapped calls during one measured fork."""

    def __init__(self) -> None:
        self.spent: defaultdict[str, float] = defaultdict(float)
        self.on = False

    def wrap(self, owner: object, attr: str, label: str) -> None:
        original: Callable[..., Any] = getattr(owner, attr)
        timings = self

        if asyncio.iscoroutinefunction(original):

            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                t0 = time.perf_counter()
                try:
                    return await original(*args, **kwargs)
                finally:
                    if timings.on:
                        timings.spent[label] += (time.perf_counter() - t0) * 1000

            setattr(owner, attr, async_wrapper)
            return

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                if timings.on:
                    timings.spent[label] += (time.perf_counter() - t0) * 1000

        setattr(owner, attr, wrapper)


async def main() -> dict[str, Any]:
    home = Path(tempfile.mkdtemp(prefix="agentctl-bench-fork-"))
    os.environ["AGENTCTL_HOME"] = str(home)

    from agentctl.paths import get_paths
    from agentctl.protocol import CreateSession, ForkSession, SessionStatus
    from agentctl.runtime import Runtime
    from sandboxes import DockerSandboxDriver, ensure_default_image
    from store import DuckDBEventStore

    image = ensure_default_image()
    paths = get_paths().ensure()
    store = DuckDBEventStore(paths.database)
    driver = DockerSandboxDriver()
    rt = Runtime(store, paths=paths, driver=driver)
    await rt.start()
    made: list[str] = []
    try:
        steps = [shell(f"echo {n} > f{n}.txt", f"c{n}") for n in range(1, STEPS + 1)]
        parent_rec = write_recording(
            home / "parent.jsonl", [*steps, {"text": "done", "tool_calls": []}]
        )
        t0 = time.perf_counter()
        sid = await rt.create_session(
            CreateSession(
                task="write files", model=f"replay:{parent_rec}", policy="permissive", image=image
            )
        )
        made.append(sid)
        while rt.journal.state(sid).status is SessionStatus.RUNNING:
            await asyncio.sleep(0.05)
        state = rt.journal.state(sid)
        assert state.status is SessionStatus.COMPLETED, (state.status, state.reason)
        checkpoints = state.checkpoints
        print(
            f"parent {sid}: {state.last_seq} events, {len(checkpoints)} checkpoints "
            f"in {time.perf_counter() - t0:.1f}s",
            file=sys.stderr,
        )
        assert len(checkpoints) >= 10
        cut = checkpoints[len(checkpoints) // 2]
        # the fork's own recording starts at its first line; it keeps the fork busy
        # (and its container up) while the benchmark talks to the container
        fork_rec = write_recording(
            home / "fork.jsonl",
            [shell("sleep 60", "f_sleep")],
        )

        timings = Timings()
        timings.wrap(rt.store, "read_stream", "read parent log")
        timings.wrap(rt.journal, "append_copy", "copy prefix (append)")
        timings.wrap(rt.journal, "append", "append events")
        timings.wrap(driver, "_image_user", "docker: inspect image")
        timings.wrap(driver, "remove_stream", "docker: remove old containers")
        timings.wrap(driver, "_start", "docker: create + start")
        timings.wrap(driver, "find", "docker: find fork")

        samples: list[float] = []
        parts: list[dict[str, float]] = []
        for run in range(RUNS + 1):  # the first run warms up
            timings.spent.clear()
            timings.on = True
            started = time.perf_counter()
            fork = await rt.fork(sid, ForkSession(at=cut.seq, model=f"replay:{fork_rec}"))
            sandbox = await asyncio.to_thread(driver.find, fork)
            assert sandbox is not None
            t_exec = time.perf_counter()
            result = await asyncio.to_thread(sandbox.exec, "true")
            elapsed = (time.perf_counter() - started) * 1000
            timings.on = False
            timings.spent["docker: exec true"] = (time.perf_counter() - t_exec) * 1000
            assert result.exit_code == 0
            made.append(fork)
            if run:
                samples.append(elapsed)
                parts.append(dict(timings.spent))
            print(f"  fork {run or 'warm-up'}: {elapsed:.0f} ms", file=sys.stderr)
            await rt.cancel(fork, "bench done")

        median = statistics.median(samples)
        breakdown = {k: round(statistics.median(p.get(k, 0.0) for p in parts), 1) for k in parts[0]}
        print(
            f"fork at seq {cut.seq} of {state.last_seq}: median {median:.0f} ms over {RUNS} runs "
            f"(target < {TARGET_MS:.0f} ms: {'ok' if median < TARGET_MS else 'OVER'})",
            file=sys.stderr,
        )
        for label, ms in sorted(breakdown.items(), key=lambda kv: -kv[1]):
            print(f"  {label:<32} {ms:8.1f} ms", file=sys.stderr)
        return {
            "fork_ms": round(median, 1),
            "runs_ms": [round(s, 1) for s in samples],
            "checkpoints": len(checkpoints),
            "events": state.last_seq,
            "cut": cut.seq,
            "breakdown_ms": breakdown,
            "target_ms": TARGET_MS,
        }
    finally:
        await rt.stop()
        store.close()
        for stream in made:
            try:
                driver.remove_stream(stream)
                for checkpoint in driver.list_checkpoints(stream):
                    driver.api.remove_image(checkpoint.image, force=True)
            except Exception as exc:  # a leftover must not hide the figure
                print(f"cleanup of {stream}: {exc}", file=sys.stderr)


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main())))
