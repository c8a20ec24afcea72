"""The daemon killed while a shell command runs: the command is neither lost nor repeated.

The engine keeps running a command whose daemon died. The restarted daemon
finds the call started but not finished, sees from the completion record's
pid that the command is still running, waits for its record, and uses it —
no `tool.interrupted`, no person asked, the side effect once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from agentctl.protocol import CreateSession
from tests.support.daemon import Response, SpawnDaemon, reply, wait_status

pytestmark = pytest.mark.docker


def test_kill_while_a_command_runs_then_its_record_is_used(
    spawn_daemon: SpawnDaemon,
    recording: Callable[[list[Response]], str],
    docker_client: Any,
    sessions_cleanup: list[str],
) -> None:
    model = recording(
        [
            reply("slow", ("shell", {"command": "sleep 4; echo once >> /workspace/n.txt"})),
            reply("show", ("shell", {"command": "cat /workspace/n.txt"}), step=1),
            reply("done"),
        ]
    )
    first = spawn_daemon()
    client = first.wait_ready()
    sid = client.create_session(CreateSession(task="t", model=model, policy="permissive")).id
    sessions_cleanup.append(sid)
    container = None
    deadline = time.monotonic() + 120
    while True:  # until the slow command runs in the sandbox
        found = docker_client.containers.list(filters={"label": f"agentctl.stream={sid}"})
        if found:
            container = found[0]
            top = container.top(ps_args="-eo pid,args").get("Processes") or []
            if any("sleep 4" in " ".join(p) for p in top):
                break
        assert time.monotonic() < deadline, "the command never started"
        time.sleep(0.05)
    client.close()
    first.kill()

    client = spawn_daemon().wait_ready()
    wait_status(client, sid, "completed", timeout=120)
    events = list(client.events(sid))
    assert not [e for e in events if e.type == "tool.interrupted"]
    [cat] = [e for e in events if e.type == "tool.finished" and e.data["output"].strip() == "once"]
    assert cat.data["exit_code"] == 0
    slow = [
        e for e in events if e.type == "tool.started" and "sleep 4" in e.data["args"]["command"]
    ]
    assert len(slow) == 1  # started once: recovered, not re-run
    client.close()


def test_kill_while_a_command_with_a_long_timeout_runs_waits_for_it(
    spawn_daemon: SpawnDaemon,
    recording: Callable[[list[Response]], str],
    docker_client: Any,
    sessions_cleanup: list[str],
) -> None:
    # The call's own timeout (300 s) is above the runtime's tool timeout (120 s), and the
    # command outlives that: recovery must wait for it as long as the call may run, or
    # it asks a person to run again a command that is still running.
    slow = "sleep 125; echo once >> /workspace/n.txt"
    model = recording(
        [
            reply("slow", ("shell", {"command": slow, "timeout_s": 300})),
            reply("show", ("shell", {"command": "cat /workspace/n.txt"}), step=1),
            reply("done"),
        ]
    )
    first = spawn_daemon()
    client = first.wait_ready()
    sid = client.create_session(CreateSession(task="t", model=model, policy="permissive")).id
    sessions_cleanup.append(sid)
    deadline = time.monotonic() + 120
    while True:  # until the slow command runs in the sandbox
        found = docker_client.containers.list(filters={"label": f"agentctl.stream={sid}"})
        if found:
            top = found[0].top(ps_args="-eo pid,args").get("Processes") or []
            if any("sleep 125" in " ".join(p) for p in top):
                break
        assert time.monotonic() < deadline, "the command never started"
        time.sleep(0.05)
    client.close()
    first.kill()

    client = spawn_daemon().wait_ready()
    wait_status(client, sid, "completed", "waiting", timeout=300)
    events = list(client.events(sid))
    assert not [e for e in events if e.type == "tool.interrupted"]
    assert [e.data["output"].strip() for e in events if e.type == "tool.finished"][-1] == "once"
    client.close()


def _shell(call_id: str, command: str) -> Response:
    return {
        "text": call_id,
        "tool_calls": [{"id": call_id, "name": "shell", "args": {"command": command}}],
        "usage": {"input_tokens": 10, "output_tokens": 5},
    }


def test_a_record_of_an_earlier_call_is_not_taken_for_a_running_one(
    spawn_daemon: SpawnDaemon,
    recording: Callable[[list[Response]], str],
    docker_client: Any,
    sessions_cleanup: list[str],
) -> None:
    # Two call ids the model chose that differ only where a record's folder name cannot
    # (`a/b`, `a_b`): the second call must not find the first one's finished record.
    model = recording(
        [_shell("a/b", "echo first"), _shell("a_b", "sleep 4; echo second"), reply("done")]
    )
    first = spawn_daemon()
    client = first.wait_ready()
    sid = client.create_session(CreateSession(task="t", model=model, policy="permissive")).id
    sessions_cleanup.append(sid)
    deadline = time.monotonic() + 120
    while True:  # until the second command runs in the sandbox
        found = docker_client.containers.list(filters={"label": f"agentctl.stream={sid}"})
        if found:
            top = found[0].top(ps_args="-eo pid,args").get("Processes") or []
            if any("sleep 4" in " ".join(p) for p in top):
                break
        assert time.monotonic() < deadline, "the command never started"
        time.sleep(0.05)
    client.close()
    first.kill()

    client = spawn_daemon().wait_ready()
    wait_status(client, sid, "completed", "waiting", timeout=120)
    events = list(client.events(sid))
    finished = {e.data["call_id"]: e.data for e in events if e.type == "tool.finished"}
    assert finished["a/b"]["output"].strip() == "first"
    assert finished["a_b"]["output"].strip() == "second"  # its own result, not a stale one
    client.close()
