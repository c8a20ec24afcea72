"""`agentctl attach` across a daemon restart: the CLI's follow (agentctl.client.follow)
reconnects from its cursor and prints every event exactly once."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable

from agentctl.errors import ExitCode
from agentctl.protocol import CreateSession, Decide
from tests.support.cli import final, write
from tests.support.daemon import SpawnDaemon, wait_status

Recording = Callable[[list[dict[str, object]]], str]
Spawn = Callable[..., subprocess.Popen[str]]


def test_attach_goes_on_across_a_restart_without_gap_or_duplicate(
    spawn_daemon: SpawnDaemon, spawn: Spawn, recording: Recording
) -> None:
    first = spawn_daemon()
    client = first.wait_ready()
    model = recording([write("a.txt", step=1), write("b.txt", step=2), final()])
    session_id = client.create_session(
        CreateSession(task="two writes", model=model, image="none")
    ).id
    wait_status(client, session_id, "waiting")
    client.close()

    attach = spawn("attach", session_id, "--json")  # piped: waits for another client's decision
    assert attach.stdout is not None
    seen: list[dict[str, object]] = []
    while not any(e["type"] == "approval.requested" for e in seen):  # it has the backlog
        line = attach.stdout.readline()
        assert line, f"attach ended early: {attach.stderr.read() if attach.stderr else ''}"
        seen.append(json.loads(line))

    assert first.terminate() == 0  # the live stream ends; attach goes on reconnecting
    second = spawn_daemon()
    with second.wait_ready() as again:
        # Decide each approval as it is asked, from another client, until the session ends.
        for event in again.events(session_id, follow=True, until_end=True):
            if event.type == "approval.requested":
                for approval in again.approvals(session=session_id):
                    again.decide(approval.id, Decide(decision="approve", approver="elsewhere"))
        assert again.session(session_id).status.value == "completed"
        stored = [e.seq for e in again.events(session_id)]
    # It exits on the end status; what it printed waits in the pipe (and in the reader's
    # buffer: read through the same file object, not communicate(), which would skip that).
    code = attach.wait(timeout=60)
    assert attach.stderr is not None
    err = attach.stderr.read()
    assert code == ExitCode.COMPLETED, err
    seen += [json.loads(line) for line in attach.stdout.read().splitlines() if line.strip()]
    assert [e["seq"] for e in seen] == stored  # every event once, in order
    assert "lost the daemon; reconnecting" in err
    assert second.terminate() == 0
