"""Benchmark `diff` and `apply` of a 10,000-file workspace with 100 changed files.

In-process (a `Runtime` on a real DuckDB store and the real Docker sandbox):
a workspace of FILES small text files in a git repository is copied into a
session whose one step edits CHANGED of them (and the session ends, so its
state is its last checkpoint image). Then, RUNS times each:

- `diff` (cold): `Workspaces.diff` with the checkpoint's export forgotten
  first — its /workspace exported through a container created from the
  image and indexed as it arrives, compared with the start's index, the
  patches of the changed files made;
- `diff_again`: the same with the checkpoint's export kept from the last run
  (a second look, or the TUI's diff view);
- `apply` (cold): `Workspaces.apply` onto a fresh copy of the original
  folder (copied before the clock starts) with the export forgotten — the
  same export and compare, every changed path judged against the host, then
  written;
- `apply_after_diff`: the same right after a diff (the usual order);
- `apply --branch`: a branch with one commit in the original repository.

A readable summary goes to stderr; the last stdout line is one JSON object
`{"diff_ms": median, "apply_ms": median, ...}` with the machine's load
average beside it. Target: < 1000 ms each, cold.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

FILES = 10_000
CHANGED = 100
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
TARGET_MS = 1000.0


def make_project(folder: Path) -> None:
    for n in range(FILES):
        sub = folder / f"pkg{n // 100:03d}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"mod{n % 100:03d}.py").write_text(
            "".join(f"def f{n}_{i}():\n    return {i}\n" for i in range(5))
        )
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@b"}
    env |= {"GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@b"}
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "start"]):
        subprocess.run(["git", "-C", str(folder), *args], check=True, env=env)


async def main() -> dict[str, Any]:
    home = Path(tempfile.mkdtemp(prefix="agentctl-bench-workspace-"))
    os.environ["AGENTCTL_HOME"] = str(home)

    from agentctl.paths import get_paths
    from agentctl.protocol import ApplyRequest, CreateSession, SessionStatus
    from agentctl.runtime import Runtime
    from sandboxes import DockerSandboxDriver, ensure_default_image
    from store import DuckDBEventStore

    image = ensure_default_image()
    paths = get_paths().ensure()
    store = DuckDBEventStore(paths.database)
    driver = DockerSandboxDriver()
    rt = Runtime(store, paths=paths, driver=driver)
    await rt.start()
    sid = None
    try:
        project = home / "project"
        t0 = time.perf_counter()
        make_project(project)
        print(
            f"{FILES} files in a git repository in {time.perf_counter() - t0:.1f}s", file=sys.stderr
        )
        # every 100th file gets a line changed (sed -i): CHANGED files in all
        edit = "sed -i 's/return 0/return 42/' " + " ".join(
            f"pkg{n // 100:03d}/mod{n % 100:03d}.py" for n in range(0, FILES, FILES // CHANGED)
        )
        recording = home / "edit.jsonl"
        lines = [
            {"format": "agentctl-recording", "version": 1},
            {
                "text": "edit",
                "tool_calls": [{"id": "e", "name": "shell", "args": {"command": edit}}],
            },
            {"text": "done", "tool_calls": []},
        ]
        recording.write_text("".join(json.dumps(line) + "\n" for line in lines))
        t0 = time.perf_counter()
        sid = await rt.create_session(
            CreateSession(
                task="edit",
                model=f"replay:{recording}",
                policy="permissive",
                image=image,
                workspace=str(project),
            )
        )
        while rt.journal.state(sid).status is SessionStatus.RUNNING:
            await asyncio.sleep(0.05)
        assert rt.journal.state(sid).status is SessionStatus.COMPLETED
        print(f"session {sid} done in {time.perf_counter() - t0:.1f}s", file=sys.stderr)

        exports = paths.data / "workspaces" / "exports"

        def forget_exports() -> None:  # cold: the checkpoint is exported again
            shutil.rmtree(exports, ignore_errors=True)

        async def timed_diff(cold: bool) -> float:
            if cold:
                forget_exports()
            started = time.perf_counter()
            diff = await rt.workspaces.diff(sid, None)
            elapsed = (time.perf_counter() - started) * 1000
            assert len(diff.files) == CHANGED, len(diff.files)
            return elapsed

        async def timed_apply(cold: bool, run: int) -> float:
            target = home / f"target-{run}"
            shutil.copytree(project, target, symlinks=True)
            if cold:
                forget_exports()
            started = time.perf_counter()
            result = await rt.workspaces.apply(sid, ApplyRequest(to=str(target)))
            elapsed = (time.perf_counter() - started) * 1000
            assert result.applied and len(result.written) == CHANGED, result.conflicts[:3]
            shutil.rmtree(target)
            return elapsed

        series: dict[str, list[float]] = {}
        for name, measure in (
            ("diff", lambda run: timed_diff(True)),
            ("diff_again", lambda run: timed_diff(False)),
            ("apply", lambda run: timed_apply(True, run)),
            ("apply_after_diff", lambda run: timed_apply(False, run)),
        ):
            times = series.setdefault(name, [])
            for run in range(RUNS + 1):
                elapsed = await measure(run)
                if run:
                    times.append(elapsed)
                print(f"  {name} {run or 'warm-up'}: {elapsed:.0f} ms", file=sys.stderr)

        branches: list[float] = []
        for run in range(RUNS):
            started = time.perf_counter()
            result = await rt.workspaces.apply(sid, ApplyRequest(branch=f"bench-{run}"))
            branches.append((time.perf_counter() - started) * 1000)
            assert result.commit
        figures: dict[str, Any] = {
            f"{name}_ms": round(statistics.median(times), 1) for name, times in series.items()
        }
        figures["apply_branch_ms"] = round(statistics.median(branches), 1)
        figures |= {f"{name}_runs_ms": [round(t, 1) for t in ts] for name, ts in series.items()}
        figures |= {"files": FILES, "changed": CHANGED, "target_ms": TARGET_MS}
        figures["load_1m"] = os.getloadavg()[0]  # other work on the machine during the run
        for key in ("diff_ms", "apply_ms", "apply_branch_ms"):
            ok = "ok" if figures[key] < TARGET_MS else "OVER"  # type: ignore[operator]
            print(f"{key}: median {figures[key]} ms ({ok})", file=sys.stderr)
        return figures
    finally:
        await rt.stop()
        store.close()
        if sid is not None:
            try:
                driver.remove_stream(sid)
                for checkpoint in driver.list_checkpoints(sid):
                    driver.api.remove_image(checkpoint.image, force=True)
            except Exception as exc:
                print(f"cleanup of {sid}: {exc}", file=sys.stderr)
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main())))
