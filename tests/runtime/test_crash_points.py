"""Kill the runtime at every named crash point, restart it, and prove nothing was lost or repeated.

A recorded session of 12 steps; each of the first 11 appends a line to a file
in the sandbox (a non-idempotent side effect) and reads a file (idempotent);
the last `cat`s the file. For every crash point the process dies with
`os._exit`, a second process resumes from the log, and the test asserts:

- every event committed before the crash is still in the log, unchanged;
- each line was appended exactly once (no side effect repeated, none lost);
- the log equals an uninterrupted run's apart from recovery events;
- nothing the runtime made outside the log is left over: no container of
  the completed session, no checkpoint image and no artifact file that the
  log does not name, no spill file.

The points between the runtime acting outside the log and the event that
records it (a container created or started, paused or unpaused, an image
committed, a tool returned, an artifact moved) are each killed here too; the
pause points run the session under the default policy, which asks before
every shell call. A fork killed while it makes its container is finished on
restart, and the retried request returns the same fork.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agentctl.crashpoints import CRASH_EXIT_CODE
from store import DuckDBEventStore

from .harness import appending_lines

ROOT = Path(__file__).resolve().parents[2]
STEPS = 11
pytestmark = pytest.mark.docker

# tool.started and tool.finished come in call order: w1, r1, w2, r2, … so the
# 3rd of each is step 2's shell call (w2) and the 4th its read (r2).
CRASH_POINTS: dict[str, dict[str, set[str]]] = {
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
    # the first container made, `sandbox.created` not: the leftover is replaced
    "sandbox:created:1": {},
    "sandbox:started:1": {},
    # step 2's checkpoint image committed, its event not: the step is checkpointed again
    "sandbox:committed:2": {},
    # w2 ran and left its completion record; its result is taken from it
    "tool:ran:3": {"interrupted": set()},
    # the long output's artifact moved, `tool.finished` not: the record gives the result
    "artifact:moved:1": {"interrupted": set()},
    # `completed` durable, the container not yet removed: the start-up sweep removes it
    "after:session.status:2": {},
}
# Under the default policy (every shell call asked for): the waits' pause and unpause.
ASKING_CRASH_POINTS: dict[str, dict[str, set[str]]] = {
    "sandbox:paused:2": {},
    "sandbox:unpaused:2": {},
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
    return appending_lines(path, STEPS, long_output=True)


def drive(
    db: Path,
    rec: Path,
    crash_at: str | None,
    home: Path,
    policy: str = "permissive",
    fork: tuple[str, int, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AGENTCTL_HOME": str(home)}
    env.pop("AGENTCTL_CRASH_AT", None)
    if crash_at:
        env["AGENTCTL_CRASH_AT"] = crash_at
    extra = ["--fork", fork[0], str(fork[1]), fork[2]] if fork else []
    return subprocess.run(
        [sys.executable, "-m", "tests.runtime.crash_driver", str(db), str(rec), policy, *extra],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


Log = list[tuple[int, str, dict[str, Any]]]


def read(db: Path, sid: str | None = None) -> Log:
    with DuckDBEventStore(db) as store:
        if sid is None:
            [sid] = store.streams()
        return [(e.seq, e.type, e.data) for e in store.read_stream(sid)]


def session_of(db: Path) -> str:
    with DuckDBEventStore(db) as store:
        [sid] = store.streams()
        return sid


def assert_nothing_left_over(docker_client: Any, home: Path, sid: str, events: Log) -> None:
    """Outside the log, only what the log names: the session ended, so no container."""
    label = f"agentctl.stream={sid}"
    assert docker_client.containers.list(all=True, filters={"label": label}) == []
    named = {d["image"] for _, t, d in events if t == "checkpoint.created" and d["image"]}
    tags = {
        tag
        for image in docker_client.images.list(filters={"label": label})
        for tag in image.tags
        if tag.startswith("agentctl-checkpoint:")
    }
    assert tags == {i for i in named if i.startswith(f"agentctl-checkpoint:{sid.lower()}-")}
    artifacts = home / "data" / "artifacts"
    kept = (
        {f"{sid}/{p.name}" for p in (artifacts / sid).iterdir()}
        if (artifacts / sid).exists()
        else set()
    )
    assert kept == {
        d["artifact"] for _, t, d in events if t == "tool.finished" and d.get("artifact")
    }
    spill = artifacts / ".partial"
    assert not spill.exists() or list(spill.iterdir()) == []


def essential(events: Log) -> list[tuple[str, object]]:
    """The log without recovery events, and without values that differ run to run."""
    out: list[tuple[str, object]] = []
    for _, type_, data in events:
        if type_ in RECOVERY_TYPES:
            continue
        if type_ == "tool.finished":
            output = re.sub(r"agentctl-output-\w+\.log", "SPILL", data["output"])  # a temp name
            out.append((type_, (data["call_id"], data["exit_code"], output, data["error"])))
        elif type_ == "checkpoint.created":
            out.append((type_, None))
        elif type_ == "session.created":
            out.append((type_, data["task"]))
        else:
            out.append((type_, json.dumps(data, sort_keys=True)))
    return out


def lines_in(events: Log) -> list[str]:
    [cat] = [d for _, t, d in events if t == "tool.finished" and d["call_id"] == "cat"]
    output: str = cat["output"]
    return output.split()


@pytest.fixture(scope="module")
def baseline_of(
    tmp_path_factory: pytest.TempPathFactory, docker_client: object
) -> Callable[[str], Log]:
    """An uninterrupted run's log under a policy, made on first use."""
    made: dict[str, Log] = {}

    def get(policy: str) -> Log:
        if policy not in made:
            tmp = tmp_path_factory.mktemp(f"baseline-{policy}")
            rec = recording(tmp / "rec.jsonl")
            done = drive(tmp / "e.duckdb", rec, None, tmp, policy)
            assert done.returncode == 0, done.stderr
            events = read(tmp / "e.duckdb")
            assert lines_in(events) == [f"line-{i}" for i in range(1, STEPS + 1)]
            made[policy] = events
        return made[policy]

    return get


@pytest.mark.parametrize(
    ("crash_at", "policy"),
    [(p, "permissive") for p in CRASH_POINTS] + [(p, "default") for p in ASKING_CRASH_POINTS],
)
def test_crash_point_loses_nothing_and_repeats_nothing(
    crash_at: str,
    policy: str,
    baseline_of: Callable[[str], Log],
    tmp_path: Path,
    docker_client: Any,
) -> None:
    baseline = baseline_of(policy)
    rec = recording(tmp_path / "rec.jsonl")
    db = tmp_path / "e.duckdb"
    crashed = drive(db, rec, crash_at, tmp_path, policy)
    assert crashed.returncode == CRASH_EXIT_CODE, crashed.stderr
    assert f"crash point {crash_at.rsplit(':', 1)[0]}" in crashed.stderr
    before = read(db)

    resumed = drive(db, rec, None, tmp_path, policy)
    assert resumed.returncode == 0, resumed.stderr
    after = read(db)
    assert_nothing_left_over(docker_client, tmp_path, session_of(db), after)

    assert after[: len(before)] == before  # nothing committed was lost or changed
    assert lines_in(after) == [
        f"line-{i}" for i in range(1, STEPS + 1)
    ]  # each side effect exactly once
    assert essential(after) == essential(baseline)
    starts = [d["call_id"] for _, t, d in after if t == "tool.started"]
    interrupted = {d["call_id"] for _, t, d in after if t == "tool.interrupted"}
    expect = {**CRASH_POINTS, **ASKING_CRASH_POINTS}[crash_at]
    if "interrupted" in expect:
        assert interrupted == expect["interrupted"]
    if "started_twice" in expect:
        assert {c for c in starts if starts.count(c) == 2} == expect["started_twice"]
    for call_id in set(starts):
        # a call starts twice only when recovery went through a person or the tool is idempotent
        assert starts.count(call_id) == 1 or call_id in interrupted or call_id.startswith("r")


@pytest.mark.parametrize(
    "crash_at", ["sandbox:created:1", "sandbox:started:1", "store:mid-batch:1"]
)
def test_a_fork_killed_midway_is_finished_on_restart_and_found_by_its_request_id(
    crash_at: str, tmp_path: Path, docker_client: Any
) -> None:
    rec = recording(tmp_path / "rec.jsonl")
    db = tmp_path / "e.duckdb"
    made = drive(db, rec, None, tmp_path)
    assert made.returncode == 0, made.stderr
    parent = made.stdout.split()[-1]
    parent_log = read(db, parent)
    at = [s for s, t, _ in parent_log if t == "checkpoint.created"][4]  # after step 5
    fork = (parent, at, "req_fork_1")

    crashed = drive(db, rec, crash_at, tmp_path, fork=fork)
    assert crashed.returncode == CRASH_EXIT_CODE, crashed.stderr
    retried = drive(db, rec, None, tmp_path, fork=fork)  # the client's retry: same request id
    assert retried.returncode == 0, retried.stderr
    child = retried.stdout.split()[-1]

    with DuckDBEventStore(db) as store:
        streams = set(store.streams())
    assert read(db, parent) == parent_log  # the parent is untouched
    assert streams == {parent, child}  # one fork, not two (a lost batch: made once, anew)
    events = read(db, child)
    created = events[0][2]
    assert created["parent"] == {"session": parent, "seq": at}
    assert created["request_id"] == "req_fork_1"
    assert [t for _, t, _ in events].count("sandbox.restored") >= 1
    # the fork went on from step 6: its lines are the parent's first 5, then 6..11 once each
    assert lines_in(events) == [f"line-{i}" for i in range(1, STEPS + 1)]
    assert_nothing_left_over(docker_client, tmp_path, child, events)
