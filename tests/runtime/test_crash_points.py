"""Kill the runtime at every named crash point, restart it, and prove nothing was lost or repeated.

A recorded session of 12 steps; each of the first 11 appends a line to a file
in the sandbox (a non-idempotent side effect) and reads a file (idempotent);
the last `cat`s the file. For every crash point the process dies with
`os._exit`, a second process resumes from the log, and the test asserts:

- every event committed before the crash is still in the log, unchanged;
- each line was appended exactly once (no side effect repeated, none lost);
- the log equals an uninterrupted run's apart from recovery events.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agentctl.crashpoints import CRASH_EXIT_CODE
from store import DuckDBEventStore

ROOT = Path(__file__).resolve().parents[2]
STEPS = 11
pytestmark = pytest.mark.docker

# tool.started and tool.finished come in call order: w1, r1, w2, r2, … so the
# 3rd of each is step 2's shell call (w2) and the 4th its read (r2).
CRASH_POINTS = {
    "after:model.responded:3": {},
    # w2 started, the command not run: interrupted, a person approves, it runs once
    "after:tool.started:3": {"interrupted": {"w2"}},
    # r2 (read_file, idempotent) in flight: it simply runs again
    "after:tool.started:4": {"started_twice": {"r2"}},
    "after:tool.finished:6": {},
    "after:checkpoint.created:2": {},
    # w2's tool.started never committed: the call is started again and runs once
    "store:mid-batch:tool.started:3": {"interrupted": set()},
    # w2 ran but its tool.finished was lost: the sandbox's completion record is used
    "store:mid-batch:tool.finished:3": {"interrupted": set()},
}
RECOVERY_TYPES = {
    "session.status",
    "tool.interrupted",
    "approval.requested",
    "approval.decided",
    "sandbox.created",
    "sandbox.restored",
    "model.requested",
    "model.failed",
    "tool.started",
}


def recording(path: Path) -> Path:
    lines = [{"format": "agentctl-recording", "version": 1}]
    for i in range(1, STEPS + 1):
        lines.append(
            {
                "text": f"step {i}",
                "tool_calls": [
                    {
                        "id": f"w{i}",
                        "name": "shell",
                        "args": {"command": f"echo line-{i} >> /workspace/log.txt"},
                    },
                    {"id": f"r{i}", "name": "read_file", "args": {"path": "log.txt"}},
                ],
                "usage": {"input_tokens": 10, "output_tokens": 5},
            }
        )
    lines.append(
        {
            "text": "show",
            "tool_calls": [
                {"id": "cat", "name": "shell", "args": {"command": "cat /workspace/log.txt"}}
            ],
        }
    )
    lines.append({"text": "done", "tool_calls": []})
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    return path


def drive(
    db: Path, rec: Path, crash_at: str | None, home: Path
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AGENTCTL_HOME": str(home)}
    env.pop("AGENTCTL_CRASH_AT", None)
    if crash_at:
        env["AGENTCTL_CRASH_AT"] = crash_at
    return subprocess.run(
        [sys.executable, "-m", "tests.runtime.crash_driver", str(db), str(rec)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def read(db: Path) -> list[tuple[int, str, dict]]:
    with DuckDBEventStore(db) as store:
        [sid] = store.streams()
        return [(e.seq, e.type, e.data) for e in store.read_stream(sid)]


def essential(events: list[tuple[int, str, dict]]) -> list[tuple[str, object]]:
    """The log without recovery events, and without values that differ run to run."""
    out: list[tuple[str, object]] = []
    for _, type_, data in events:
        if type_ in RECOVERY_TYPES:
            continue
        if type_ == "tool.finished":
            out.append((type_, (data["call_id"], data["exit_code"], data["output"], data["error"])))
        elif type_ == "checkpoint.created":
            out.append((type_, None))
        elif type_ == "session.created":
            out.append((type_, data["task"]))
        else:
            out.append((type_, json.dumps(data, sort_keys=True)))
    return out


def lines_in(events: list[tuple[int, str, dict]]) -> list[str]:
    [cat] = [d for _, t, d in events if t == "tool.finished" and d["call_id"] == "cat"]
    return cat["output"].split()


@pytest.fixture(scope="module")
def baseline(
    tmp_path_factory: pytest.TempPathFactory, docker_client: object
) -> list[tuple[int, str, dict]]:
    tmp = tmp_path_factory.mktemp("baseline")
    rec = recording(tmp / "rec.jsonl")
    done = drive(tmp / "e.duckdb", rec, None, tmp)
    assert done.returncode == 0, done.stderr
    events = read(tmp / "e.duckdb")
    assert lines_in(events) == [f"line-{i}" for i in range(1, STEPS + 1)]
    return events


@pytest.mark.parametrize("crash_at", list(CRASH_POINTS))
def test_crash_point_loses_nothing_and_repeats_nothing(
    crash_at: str, baseline: list[tuple[int, str, dict]], tmp_path: Path
) -> None:
    rec = recording(tmp_path / "rec.jsonl")
    db = tmp_path / "e.duckdb"
    crashed = drive(db, rec, crash_at, tmp_path)
    assert crashed.returncode == CRASH_EXIT_CODE, crashed.stderr
    assert f"crash point {crash_at.rsplit(':', 1)[0]}" in crashed.stderr
    before = read(db)

    resumed = drive(db, rec, None, tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    after = read(db)

    assert after[: len(before)] == before  # nothing committed was lost or changed
    assert lines_in(after) == [
        f"line-{i}" for i in range(1, STEPS + 1)
    ]  # each side effect exactly once
    assert essential(after) == essential(baseline)
    starts = [d["call_id"] for _, t, d in after if t == "tool.started"]
    interrupted = {d["call_id"] for _, t, d in after if t == "tool.interrupted"}
    expect = CRASH_POINTS[crash_at]
    if "interrupted" in expect:
        assert interrupted == expect["interrupted"]
    if "started_twice" in expect:
        assert {c for c in starts if starts.count(c) == 2} == expect["started_twice"]
    for call_id in set(starts):
        # a call starts twice only when recovery went through a person or the tool is idempotent
        assert starts.count(call_id) == 1 or call_id in interrupted or call_id.startswith("r")
