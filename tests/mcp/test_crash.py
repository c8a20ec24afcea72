"""Kill the daemon during an MCP call, restart it: the call is neither lost nor silently repeated.

The runtime runs in a child process (tests/runtime/crash_driver.py, which
approves whatever is asked, as a person would); the MCP server is the
FastMCP fault server, whose side effects append to a log file. A call that
was in flight and is not idempotent comes back as `tool.interrupted` and
an approval, and runs again only after that decision; an idempotent one
(read-only by its annotations) simply runs again.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from agentctl.crashpoints import CRASH_EXIT_CODE
from store import DuckDBEventStore
from tests.support.mcp import add_server

from ..runtime.harness import call, final, write_recording

ROOT = Path(__file__).resolve().parents[2]


def _driver(
    db: Path, recording: Path, policy: Path, crash_at: str | None = None
) -> subprocess.Popen[str]:
    env = dict(os.environ)
    env.pop("AGENTCTL_CRASH_AT", None)
    if crash_at:
        env["AGENTCTL_CRASH_AT"] = crash_at
    return subprocess.Popen(
        [sys.executable, "-m", "tests.runtime.crash_driver", str(db), str(recording), str(policy)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )


def _setup(
    tmp_path: Path, fault_server: tuple[list[str], Path], responses: list[dict[str, Any]]
) -> tuple[Path, Path, Path, Path]:
    command, log = fault_server
    add_server(name="faults", command=command, scope="host", env={"FAULT_LOG": str(log)})
    policy = tmp_path / "policy.toml"
    policy.write_text('[[rule]]\ntool = "mcp__faults__*"\ntier = "allow"\n')
    recording = write_recording(tmp_path / "rec.jsonl", responses)
    return tmp_path / "db.duckdb", recording, policy, log


def _events(db: Path, sid: str) -> list[tuple[str, dict[str, Any]]]:
    store = DuckDBEventStore(db)
    try:
        return [(e.type, dict(e.data)) for e in store.read_stream(sid)]
    finally:
        store.close()


def test_killed_mid_call_goes_back_to_a_person_and_runs_once_more(
    tmp_path: Path, fault_server: tuple[list[str], Path]
) -> None:
    gate = tmp_path / "gate"
    db, recording, policy, log = _setup(
        tmp_path,
        fault_server,
        [call("mcp__faults__wait_then_record", {"text": "once", "gate": str(gate)}, "m1"), final()],
    )
    first = _driver(db, recording, policy)
    deadline = time.monotonic() + 60
    while not (log.exists() and "started once" in log.read_text()):  # the call is in flight
        assert first.poll() is None, "the runtime ended before the call began"
        assert time.monotonic() < deadline, "the MCP call never began"
        time.sleep(0.02)
    first.kill()  # the daemon dies mid-call, as with kill -9
    first.wait(10)
    # The server goes with it (an orphan that finished the call later is the "may have
    # taken effect" a person is asked about; here it is stopped to keep the count exact).
    server_pid = int(log.read_text().split("pid=")[1].split()[0])
    os.kill(server_pid, signal.SIGKILL)
    gate.touch()
    second = _driver(db, recording, policy)
    out, _ = second.communicate(timeout=120)
    assert second.returncode == 0, out
    sid = out.strip().splitlines()[-1]
    events = _events(db, sid)
    types = [t for t, _ in events]
    assert types.count("tool.started") == 2 and types.count("tool.finished") == 1
    interrupted = types.index("tool.interrupted")
    asked = types.index("approval.requested")
    decided = types.index("approval.decided")
    second_start = [i for i, t in enumerate(types) if t == "tool.started"][1]
    assert interrupted < asked < decided < second_start  # a person decided before it ran again
    request = events[asked][1]
    assert request["name"] == "mcp__faults__wait_then_record"
    assert "interrupted" in request["context"]["reason"]
    lines = log.read_text().splitlines()
    assert [line.split(" pid=")[0] for line in lines] == ["started once", "started once", "once"]


def test_a_result_lost_after_the_call_is_asked_about_and_an_idempotent_call_reruns(
    tmp_path: Path, fault_server: tuple[list[str], Path]
) -> None:
    db, recording, policy, log = _setup(
        tmp_path,
        fault_server,
        [
            call("mcp__faults__peek", {"text": "look"}, "p1"),
            call("mcp__faults__record", {"text": "effect"}, "r1"),
            final(),
        ],
    )
    # peek (idempotent) dies after it ran: it runs again with no one asked.
    crashed = _driver(db, recording, policy, crash_at="tool:ran:1")
    crashed.communicate(timeout=120)
    assert crashed.returncode == CRASH_EXIT_CODE
    # peek runs again (the first tool to return here), then record runs (its line is
    # written) and the daemon dies before its `tool.finished`.
    crashed = _driver(db, recording, policy, crash_at="tool:ran:2")
    crashed.communicate(timeout=120)
    assert crashed.returncode == CRASH_EXIT_CODE
    assert log.read_text().splitlines() == ["effect"]
    done = _driver(db, recording, policy)
    out, _ = done.communicate(timeout=120)
    assert done.returncode == 0, out
    sid = out.strip().splitlines()[-1]
    events = _events(db, sid)
    by_call: dict[str, list[str]] = {}
    for type_, data in events:
        if "call_id" in data:
            by_call.setdefault(data["call_id"], []).append(type_)
    assert "tool.interrupted" not in by_call["p1"] and by_call["p1"].count("tool.finished") == 1
    assert by_call["r1"].count("tool.interrupted") == 1
    (asked,) = [d["approval_id"] for t, d in events if t == "approval.requested"]
    decided = next(
        i
        for i, (t, d) in enumerate(events)
        if t == "approval.decided" and d["approval_id"] == asked
    )
    last_start = max(
        i for i, (t, d) in enumerate(events) if t == "tool.started" and d["call_id"] == "r1"
    )
    assert decided < last_start
    # It ran again only because a person approved: the second line is that decision's.
    assert log.read_text().splitlines() == ["effect", "effect"]
    finished = [d for t, d in events if t == "tool.finished" and d["call_id"] == "r1"]
    assert len(finished) == 1 and finished[0]["exit_code"] == 0
    assert json.dumps(events)  # the log is whole JSON
